//! On-demand wake/sleep requests: what the HTTP API accepts, what travels on the queue, and the
//! outcome the consumer records. No AWS dependency.
//!
//! A request body:
//! `{"action": "wake", "instanceIds": ["i-0abc…"], "until": "2026-11-25T23:00:00+09:00", "requestedBy": "mina"}`
//! or `{"action": "sleep", "tag": {"key": "Team", "value": "api"}}`.

#![warn(missing_docs)]

pub mod hold;

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use lightsout_schedule::event::{describe, shorten};

/// The largest body the API takes (bytes); larger ones get 413.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// At most this many instance ids in one request.
pub const MAX_INSTANCE_IDS: usize = 50;
const FIELDS: &str = "action, instanceIds, tag, until, requestedBy";

/// What a request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Start now and keep running until `until` (the `AUTOSTOP_HOLD_UNTIL` tag).
    Wake,
    /// Stop now and clear any hold.
    Sleep,
}

impl Action {
    /// The action as the API spells it: `wake` or `sleep`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Wake => "wake",
            Action::Sleep => "sleep",
        }
    }
}

/// A tag that selects instances: every instance with this key and value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagSelector {
    /// The tag's key; never `AUTOSTOP_ENABLE` or an `aws:` key.
    pub key: String,
    /// The value it must have, exactly.
    pub value: String,
}

/// Which instances a request is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    /// These instances: 1 to [`MAX_INSTANCE_IDS`] ids.
    InstanceIds(Vec<String>),
    /// Every instance with this tag.
    Tag(TagSelector),
}

impl Target {
    /// Is this instance one the request names? The consumer checks what DescribeInstances
    /// answered against the request itself, so an endpoint that ignores a filter (one local
    /// stand-in ignores `instance-id`) never widens a request to instances it did not name.
    pub fn selects(
        &self,
        instance_id: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> bool {
        match self {
            Target::InstanceIds(ids) => ids.iter().any(|id| id == instance_id),
            Target::Tag(t) => tags.get(&t.key) == Some(&t.value),
        }
    }

    /// A stable name for the target: the FIFO message group (requests for the same instances are
    /// carried out in order).
    pub fn group(&self) -> String {
        match self {
            Target::InstanceIds(ids) => {
                let mut ids = ids.clone();
                ids.sort();
                let joined = ids.join(",");
                // Message group ids are at most 128 characters.
                if joined.len() <= 128 {
                    joined
                } else {
                    format!("ids-{:016x}", fnv1a(&joined))
                }
            }
            Target::Tag(t) => {
                // A message group id is 1-128 ASCII letters, digits and punctuation: a tag with a
                // space or a Korean value would make SQS refuse the message.
                let text = format!("tag:{}={}", t.key, t.value);
                if text.len() <= 128 && text.bytes().all(|b| b.is_ascii_graphic()) {
                    text
                } else {
                    format!("tag-{:016x}", fnv1a(&text))
                }
            }
        }
    }
}

fn fnv1a(text: &str) -> u64 {
    text.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// A validated request, as it travels on the queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    /// The `Idempotency-Key` header, else a random UUID: one id is carried out once.
    pub request_id: String,
    /// What to do.
    pub action: Action,
    /// Which instances.
    pub target: Target,
    /// Wake only: keep running until then. None: until the end of today's window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<String>,
    /// Who asked: `requestedBy`, else `anonymous`.
    pub requested_by: String,
    /// When the API accepted it: RFC 3339, seconds, UTC.
    pub received_at: String,
}

impl Request {
    /// Reads a queued message. The producer only ever queues valid requests, but the queue is not
    /// the only way in (an operator's redrive, a hand-sent message), and an unchecked `until` would
    /// be written as a hold tag that the schedule can never read again. So every field is checked
    /// as the API checks it; the error names the field (at most 300 characters). Unknown fields are
    /// ignored: a newer producer may add one during a deployment.
    pub fn from_message(body: &str) -> Result<Request, String> {
        let malformed = |why: String| {
            let why = match why.char_indices().nth(300) {
                Some((at, _)) => format!("{}…", &why[..at]),
                None => why,
            };
            format!("malformed request: {why}")
        };
        let mut reader = serde_json::Deserializer::from_str(body);
        let request: Request = match serde_path_to_error::deserialize(&mut reader) {
            Ok(request) => request,
            Err(e) if e.path().to_string() == "." => return Err(malformed(e.inner().to_string())),
            Err(e) => return Err(malformed(format!("{}: {}", e.path(), e.inner()))),
        };
        reader
            .end()
            .map_err(|e| malformed(format!("after the request: {e}")))?;
        request.check().map_err(malformed)?;
        Ok(request)
    }

    /// Every field as the API accepts it.
    pub fn check(&self) -> Result<(), String> {
        if idempotency_key(&self.request_id).ok().as_deref() != Some(self.request_id.as_str()) {
            return Err(format!(
                "requestId: expected 1-128 letters, digits, '-', '_', '.' or ':', got \"{}\"",
                shorten(&self.request_id)
            ));
        }
        match &self.target {
            Target::InstanceIds(ids) => {
                if ids.is_empty() || ids.len() > MAX_INSTANCE_IDS {
                    return Err(format!(
                        "target.instanceIds: expected 1-{MAX_INSTANCE_IDS} instance ids, got {}",
                        ids.len()
                    ));
                }
                if let Some((i, id)) = ids.iter().enumerate().find(|(_, id)| !is_instance_id(id)) {
                    return Err(format!(
                        "target.instanceIds[{i}]: expected an instance id, got \"{}\"",
                        shorten(id)
                    ));
                }
            }
            Target::Tag(tag) => {
                let key = tag.key.trim();
                if key.is_empty()
                    || key != tag.key
                    || !is_tag_part(key, 128)
                    || !is_tag_part(&tag.value, 256)
                {
                    return Err(format!(
                        "target.tag: expected a key of 1-128 and a value of up to 256 printable characters, got \"{}\"=\"{}\"",
                        shorten(&tag.key),
                        shorten(&tag.value)
                    ));
                }
                if !may_select(key) {
                    return Err(format!("target.tag.key: `{key}` cannot select instances"));
                }
            }
        }
        match (&self.until, self.action) {
            (None, _) => {}
            (Some(_), Action::Sleep) => {
                return Err("until: only a wake request takes `until`".into())
            }
            (Some(until), Action::Wake) => {
                if DateTime::parse_from_rfc3339(until).is_err() {
                    return Err(format!(
                        "until: expected an RFC 3339 time, got \"{}\"",
                        shorten(until)
                    ));
                }
            }
        }
        if !is_name(&self.requested_by) || self.requested_by.trim() != self.requested_by {
            return Err(format!(
                "requestedBy: expected a name of 1-128 printable characters, got \"{}\"",
                shorten(&self.requested_by)
            ));
        }
        if DateTime::parse_from_rfc3339(&self.received_at).is_err() {
            return Err(format!(
                "receivedAt: expected an RFC 3339 time, got \"{}\"",
                shorten(&self.received_at)
            ));
        }
        Ok(())
    }
}

/// Why a body was refused: the status and the message the API answers with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status: 400, or 413 for a body over [`MAX_BODY_BYTES`].
    pub status: u16,
    /// What was wrong, naming the field.
    pub message: String,
}

impl Refusal {
    fn bad(message: impl Into<String>) -> Refusal {
        Refusal {
            status: 400,
            message: message.into(),
        }
    }
}

/// Checks an `Idempotency-Key` header: it becomes the request id.
pub fn idempotency_key(value: &str) -> Result<String, Refusal> {
    let key = value.trim();
    let valid = (1..=128).contains(&key.len())
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if valid {
        Ok(key.to_string())
    } else {
        Err(Refusal::bad(
            "Idempotency-Key: expected 1-128 letters, digits, '-', '_', '.' or ':'",
        ))
    }
}

/// Validates a request body. `now` is for checking that `until` is in the future.
pub fn parse_body(
    body: Option<&[u8]>,
    request_id: String,
    now: DateTime<Utc>,
) -> Result<Request, Refusal> {
    let body = match body {
        Some(b) if !b.iter().all(u8::is_ascii_whitespace) => b,
        _ => return Err(Refusal::bad("No body was found")),
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(Refusal {
            status: 413,
            message: format!(
                "Body is {} bytes; the limit is {MAX_BODY_BYTES}",
                body.len()
            ),
        });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| Refusal::bad(format!("Body is not valid JSON: {e}")))?;
    let Value::Object(fields) = value else {
        return Err(Refusal::bad(format!(
            "Body: expected a JSON object, got {}",
            describe(&value)
        )));
    };
    if let Some(unknown) = fields
        .keys()
        .find(|k| !FIELDS.split(", ").any(|f| f == k.as_str()))
    {
        return Err(Refusal::bad(format!(
            "unknown field `{}`; expected {FIELDS}",
            shorten(unknown)
        )));
    }
    let action = match fields.get("action") {
        Some(Value::String(s)) if s == "wake" => Action::Wake,
        Some(Value::String(s)) if s == "sleep" => Action::Sleep,
        Some(Value::String(s)) => {
            return Err(Refusal::bad(format!(
                "action: `{}` is not an action; allowed: wake, sleep",
                shorten(s)
            )))
        }
        other => {
            return Err(Refusal::bad(format!(
                "action: expected \"wake\" or \"sleep\", got {}",
                other.map_or("nothing".into(), describe)
            )))
        }
    };
    let target = target(&fields)?;
    let until = match (fields.get("until"), action) {
        (None | Some(Value::Null), _) => None,
        (Some(_), Action::Sleep) => {
            return Err(Refusal::bad("until: only a wake request takes `until`"))
        }
        (Some(v), Action::Wake) => {
            let at = v
                .as_str()
                .and_then(|s| DateTime::<FixedOffset>::parse_from_rfc3339(s.trim()).ok())
                .ok_or_else(|| {
                    Refusal::bad(format!(
                        "until: expected an RFC 3339 time such as 2026-11-25T23:00:00+09:00, got {}",
                        describe(v)
                    ))
                })?;
            if at <= now {
                return Err(Refusal::bad(format!(
                    "until: {} is not in the future",
                    at.to_rfc3339()
                )));
            }
            Some(at.to_rfc3339())
        }
    };
    let requested_by = match fields.get("requestedBy") {
        None | Some(Value::Null) => "anonymous".to_string(),
        Some(Value::String(s)) if is_name(s) => s.trim().to_string(),
        Some(other) => {
            return Err(Refusal::bad(format!(
                "requestedBy: expected a name of 1-128 printable characters, got {}",
                describe(other)
            )))
        }
    };
    Ok(Request {
        request_id,
        action,
        target,
        until,
        requested_by,
        received_at: now.to_rfc3339_opts(SecondsFormat::Secs, true),
    })
}

fn target(fields: &Map<String, Value>) -> Result<Target, Refusal> {
    match (fields.get("instanceIds"), fields.get("tag")) {
        (Some(_), Some(_)) => Err(Refusal::bad("instanceIds, tag: expected one of them, got both")),
        (None, None) => Err(Refusal::bad(
            "instanceIds or tag: expected a list of instance ids or a tag {\"key\", \"value\"}, got neither",
        )),
        (Some(ids), None) => {
            let list = ids.as_array().filter(|l| !l.is_empty() && l.len() <= MAX_INSTANCE_IDS).ok_or_else(|| {
                Refusal::bad(format!(
                    "instanceIds: expected a list of 1-{MAX_INSTANCE_IDS} instance ids, got {}",
                    describe(ids)
                ))
            })?;
            let mut out = Vec::new();
            for (i, id) in list.iter().enumerate() {
                match id.as_str() {
                    Some(s) if is_instance_id(s) => {
                        if !out.iter().any(|o| o == s) {
                            out.push(s.to_string())
                        }
                    }
                    _ => {
                        return Err(Refusal::bad(format!(
                            "instanceIds[{i}]: expected an instance id such as i-0123456789abcdef0, got {}",
                            describe(id)
                        )))
                    }
                }
            }
            Ok(Target::InstanceIds(out))
        }
        (None, Some(tag)) => {
            if let Some(unknown) = tag.as_object().and_then(|o| o.keys().find(|k| *k != "key" && *k != "value")) {
                return Err(Refusal::bad(format!("tag: unknown field `{}`; expected key, value", shorten(unknown))));
            }
            let key = tag.get("key").and_then(Value::as_str).map(str::trim).filter(|k| !k.is_empty());
            let value = tag.get("value").and_then(Value::as_str);
            match (tag.as_object(), key, value) {
                (Some(obj), Some(key), Some(value)) if obj.len() == 2 && is_tag_part(key, 128) && is_tag_part(value, 256) => {
                    if !may_select(key) {
                        return Err(Refusal::bad(format!("tag.key: `{key}` cannot select instances; use a tag of your own")));
                    }
                    Ok(Target::Tag(TagSelector { key: key.to_string(), value: value.to_string() }))
                }
                _ => Err(Refusal::bad(format!(
                    "tag: expected {{\"key\": \"Team\", \"value\": \"api\"}}, got {}",
                    describe(tag)
                ))),
            }
        }
    }
}

/// Text SQS can carry in a message or attribute: no control characters, no U+FFFE/U+FFFF
/// (SQS refuses them, and the request would fail as a 500 instead of a 400).
fn printable(s: &str) -> bool {
    !s.chars()
        .any(|c| c.is_control() || matches!(c, '\u{FFFE}' | '\u{FFFF}'))
}

/// A `requestedBy`: 1-128 printable characters, not all blank.
fn is_name(s: &str) -> bool {
    !s.trim().is_empty() && s.chars().count() <= 128 && printable(s)
}

/// A tag key or value of at most `max` bytes, printable.
fn is_tag_part(s: &str, max: usize) -> bool {
    s.len() <= max && printable(s)
}

/// Tags that must not select instances: the management switch itself, and AWS's own.
fn may_select(key: &str) -> bool {
    key != "AUTOSTOP_ENABLE" && !key.starts_with("aws:")
}

fn is_instance_id(s: &str) -> bool {
    s.strip_prefix("i-").is_some_and(|hex| {
        (hex.len() == 8 || hex.len() == 17)
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    })
}

/// What happened to one instance.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceOutcome {
    /// The instance's id.
    pub instance_id: String,
    /// `started`, `already running`, `stopped`, `already stopped`, `refused`, `not found`.
    pub result: String,
    /// More about the result: the hold set or cleared, why it was refused, a tag that could not
    /// be set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// How a request ended, as its outcome records it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Every instance as asked.
    Done,
    /// Some instances could not be acted on (refused or not found), the others were.
    Partial,
    /// None could be acted on.
    Refused,
}

impl Status {
    /// `done`, `partial` or `refused`, as the outcome's JSON has it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Partial => "partial",
            Status::Refused => "refused",
        }
    }
}

/// The recorded outcome of a request (the body of `GET /requests/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// The request's id.
    pub request_id: String,
    /// What it asked for.
    pub action: Action,
    /// `done` (every instance as asked), `refused` (none could be acted on) or `partial`.
    pub status: Status,
    /// A wake's `until`: the hold set on its instances. `None` for a sleep, and for a wake that
    /// holds each instance to the end of its own window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hold_until: Option<String>,
    /// Who asked.
    pub requested_by: String,
    /// When the API accepted it (RFC 3339).
    pub received_at: String,
    /// When the consumer finished it: RFC 3339, seconds, UTC.
    pub completed_at: String,
    /// What happened to each instance.
    pub instances: Vec<InstanceOutcome>,
}

impl Outcome {
    /// Where the outcome of `request_id` is kept in the outcomes bucket.
    pub fn key(request_id: &str) -> String {
        format!("requests/{request_id}.json")
    }

    /// The request's status from its instances' results: `refused` when none was acted on (each
    /// refused or not found), `partial` when some were not, else `done`.
    pub fn status_of(instances: &[InstanceOutcome]) -> Status {
        let refused = |o: &InstanceOutcome| o.result == "refused" || o.result == "not found";
        match (instances.iter().all(refused), instances.iter().any(refused)) {
            (true, _) => Status::Refused,
            (false, true) => Status::Partial,
            (false, false) => Status::Done,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        "2026-11-25T10:00:00Z".parse().unwrap()
    }

    fn parse(body: &str) -> Result<Request, Refusal> {
        parse_body(Some(body.as_bytes()), "req-1".into(), now())
    }

    fn refusal(body: &str) -> String {
        let r = parse(body).unwrap_err();
        assert_eq!(r.status, 400, "{}", r.message);
        r.message
    }

    #[test]
    fn wake_and_sleep() {
        let wake = parse(r#"{"action": "wake", "instanceIds": ["i-0123456789abcdef0", "i-0123456789abcdef0"], "until": "2026-11-25T23:00:00+09:00", "requestedBy": "mina"}"#).unwrap();
        assert_eq!(wake.action, Action::Wake);
        assert_eq!(
            wake.target,
            Target::InstanceIds(vec!["i-0123456789abcdef0".into()])
        );
        assert_eq!(wake.until.as_deref(), Some("2026-11-25T23:00:00+09:00"));
        assert_eq!(wake.requested_by, "mina");
        let sleep =
            parse(r#"{"action": "sleep", "tag": {"key": "Team", "value": "api"}}"#).unwrap();
        assert_eq!(
            sleep.target,
            Target::Tag(TagSelector {
                key: "Team".into(),
                value: "api".into()
            })
        );
        assert_eq!(sleep.requested_by, "anonymous");
        // The queued form round-trips.
        let json = serde_json::to_string(&wake).unwrap();
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), wake);
    }

    #[test]
    fn body_problems() {
        assert_eq!(
            parse_body(None, "r".into(), now()).unwrap_err().message,
            "No body was found"
        );
        assert_eq!(refusal("  \n"), "No body was found");
        assert!(refusal("{\"action\": ").starts_with("Body is not valid JSON: EOF while parsing"));
        assert!(refusal("{\"action\" \"wake\"}").contains("line 1 column"));
        assert_eq!(
            refusal("[1]"),
            "Body: expected a JSON object, got an array of 1"
        );
        let big = format!(
            "{{\"action\": \"wake\", \"requestedBy\": \"{}\"}}",
            "x".repeat(MAX_BODY_BYTES)
        );
        let r = parse(&big).unwrap_err();
        assert_eq!(r.status, 413);
        assert!(r.message.ends_with("the limit is 65536"));
    }

    #[test]
    fn field_problems() {
        let id = "i-0123456789abcdef0";
        let cases = [
            (json!({"instanceIds": [id]}), "action: expected \"wake\" or \"sleep\", got nothing"),
            (json!({"action": "reboot", "instanceIds": [id]}), "action: `reboot` is not an action; allowed: wake, sleep"),
            (json!({"action": 1, "instanceIds": [id]}), "action: expected \"wake\" or \"sleep\", got 1"),
            (json!({"action": "wake"}), "instanceIds or tag: expected a list of instance ids or a tag {\"key\", \"value\"}, got neither"),
            (json!({"action": "wake", "instanceIds": [id], "tag": {"key": "a", "value": "b"}}), "instanceIds, tag: expected one of them, got both"),
            (json!({"action": "wake", "instanceIds": []}), "instanceIds: expected a list of 1-50 instance ids, got an array of 0"),
            (json!({"action": "wake", "instanceIds": "i-1"}), "instanceIds: expected a list of 1-50 instance ids, got \"i-1\""),
            (json!({"action": "wake", "instanceIds": ["web-1"]}), "instanceIds[0]: expected an instance id such as i-0123456789abcdef0, got \"web-1\""),
            (json!({"action": "wake", "tag": {"key": "Team"}}), "tag: expected {\"key\": \"Team\", \"value\": \"api\"}, got an object"),
            (json!({"action": "wake", "tag": {"key": "AUTOSTOP_ENABLE", "value": "true"}}), "tag.key: `AUTOSTOP_ENABLE` cannot select instances"),
            (json!({"action": "wake", "instanceIds": [id], "until": "tonight"}), "until: expected an RFC 3339 time such as 2026-11-25T23:00:00+09:00, got \"tonight\""),
            (json!({"action": "wake", "instanceIds": [id], "until": "2026-11-25T09:00:00Z"}), "until: 2026-11-25T09:00:00+00:00 is not in the future"),
            (json!({"action": "sleep", "instanceIds": [id], "until": "2026-11-26T09:00:00Z"}), "until: only a wake request takes `until`"),
            (json!({"action": "wake", "instanceIds": [id], "requestedBy": ""}), "requestedBy: expected a name of 1-128 printable characters, got \"\""),
            (json!({"action": "wake", "instanceId": [id]}), "unknown field `instanceId`; expected action, instanceIds, tag, until, requestedBy"),
        ];
        for (body, expected) in cases {
            let msg = refusal(&body.to_string());
            assert!(
                msg.starts_with(expected),
                "{body}: `{msg}` does not start with `{expected}`"
            );
        }
    }

    #[test]
    fn text_sqs_would_refuse_is_a_400_naming_the_field() {
        let id = "i-0123456789abcdef0";
        for (body, expected) in [
            (
                json!({"action": "wake", "instanceIds": [id], "requestedBy": "mina\u{0}"}),
                "requestedBy: expected a name of 1-128 printable characters",
            ),
            (
                json!({"action": "wake", "instanceIds": [id], "requestedBy": "mina\u{FFFF}"}),
                "requestedBy: expected",
            ),
            (
                json!({"action": "wake", "instanceIds": [id], "requestedBy": "mi\nna"}),
                "requestedBy: expected",
            ),
            (
                json!({"action": "sleep", "tag": {"key": "Team", "value": "api\u{7}"}}),
                "tag: expected",
            ),
            (
                json!({"action": "sleep", "tag": {"key": "Te\u{FFFE}am", "value": "api"}}),
                "tag: expected",
            ),
            (
                json!({"action": "sleep", "tag": {"key": "Team", "value": "api", "Value": "web"}}),
                "tag: unknown field `Value`; expected key, value",
            ),
        ] {
            let msg = refusal(&body.to_string());
            assert!(msg.starts_with(expected), "{body}: {msg}");
        }
        // Korean names and values are fine.
        assert!(parse(r#"{"action": "sleep", "tag": {"key": "팀", "value": "결제 API"}, "requestedBy": "민아"}"#).is_ok());
    }

    #[test]
    fn echoed_names_are_short() {
        let body = format!(r#"{{"action": "wake", "{}": 1}}"#, "k".repeat(60_000));
        assert!(refusal(&body).len() < 200);
        let body = format!(r#"{{"action": "{}"}}"#, "m".repeat(60_000));
        let msg = refusal(&body);
        assert!(
            msg.starts_with("action: `mmm") && msg.len() < 200,
            "{} bytes",
            msg.len()
        );
    }

    #[test]
    fn message_groups_are_what_sqs_accepts() {
        let tag = |k: &str, v: &str| {
            Target::Tag(TagSelector {
                key: k.into(),
                value: v.into(),
            })
            .group()
        };
        assert_eq!(tag("Team", "api"), "tag:Team=api");
        for group in [
            tag("Team", "my team"),
            tag("팀", "결제"),
            tag("Team", &"x".repeat(200)),
        ] {
            assert!(group.starts_with("tag-") && group.len() == 20, "{group}");
            assert!(group.bytes().all(|b| b.is_ascii_graphic()));
        }
        assert_ne!(tag("Team", "a b"), tag("Team", "a  b"));
    }

    fn queued(changes: Value) -> String {
        let mut v = json!({"requestId": "r-1", "action": "wake", "target": {"instanceIds": ["i-0123456789abcdef0"]},
            "until": "2099-01-01T00:00:00Z", "requestedBy": "mina", "receivedAt": "2026-11-25T11:00:00Z"});
        for (k, val) in changes.as_object().unwrap() {
            if val.is_null() {
                v.as_object_mut().unwrap().remove(k);
            } else {
                v[k] = val.clone();
            }
        }
        v.to_string()
    }

    #[test]
    fn queued_messages_are_checked_as_the_api_checks_requests() {
        let ok = Request::from_message(&queued(json!({"extra": "ignored"}))).unwrap();
        assert_eq!(ok.request_id, "r-1");
        let cases = [
            ("not json".to_string(), "malformed request: expected ident"),
            ("{}".into(), "malformed request: missing field `requestId`"),
            (
                queued(json!({"requestId": null})),
                "malformed request: missing field `requestId`",
            ),
            (
                queued(json!({"action": "reboot"})),
                "malformed request: action: unknown variant `reboot`",
            ),
            (queued(json!({"action": 1})), "malformed request: action: "),
            (
                queued(json!({"target": "x"})),
                "malformed request: target: unknown variant `x`",
            ),
            (
                queued(json!({"target": {"instanceIds": []}})),
                "malformed request: target.instanceIds: expected 1-50 instance ids, got 0",
            ),
            (
                queued(json!({"target": {"instanceIds": ["web-1"]}})),
                "malformed request: target.instanceIds[0]: expected an instance id, got \"web-1\"",
            ),
            (
                queued(json!({"target": {"tag": {"key": "AUTOSTOP_ENABLE", "value": "true"}}})),
                "malformed request: target.tag.key: `AUTOSTOP_ENABLE` cannot select",
            ),
            (
                queued(
                    json!({"target": {"tag": {"key": "aws:autoscaling:groupName", "value": "x"}}}),
                ),
                "malformed request: target.tag.key: `aws:autoscaling:groupName`",
            ),
            (
                queued(json!({"target": {"tag": {"key": "", "value": "x"}}})),
                "malformed request: target.tag: expected",
            ),
            (
                queued(json!({"until": "garbage"})),
                "malformed request: until: expected an RFC 3339 time, got \"garbage\"",
            ),
            (
                queued(json!({"action": "sleep"})),
                "malformed request: until: only a wake request",
            ),
            (
                queued(json!({"requestId": ""})),
                "malformed request: requestId: expected",
            ),
            (
                queued(json!({"requestId": "../../etc/passwd"})),
                "malformed request: requestId: expected",
            ),
            (
                queued(json!({"requestedBy": ""})),
                "malformed request: requestedBy: expected",
            ),
            (
                queued(json!({"requestedBy": "x".repeat(5_000_000)})),
                "malformed request: requestedBy: expected",
            ),
            (
                queued(json!({"receivedAt": "yesterday"})),
                "malformed request: receivedAt: expected an RFC 3339 time",
            ),
            (
                format!("{} trailing", queued(json!({}))),
                "malformed request: after the request: trailing characters",
            ),
            (
                format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
                "malformed request: [0]: invalid type: sequence",
            ),
            (
                format!(
                    r#"{{"requestId": {}{}}}"#,
                    "[".repeat(100_000),
                    "]".repeat(100_000)
                ),
                "malformed request: requestId: invalid type: sequence",
            ),
        ];
        // Deep nesting in an ignored field is skipped without recursion: no stack overflow.
        let deep = queued(json!({}));
        let deep = format!(
            r#"{{"x": {}{}, {}"#,
            "[".repeat(1_000_000),
            "]".repeat(1_000_000),
            &deep[1..]
        );
        assert!(Request::from_message(&deep).is_ok());
        for (body, expected) in cases {
            let why = Request::from_message(&body).unwrap_err();
            assert!(
                why.starts_with(expected),
                "{}: {why}",
                &body[..body.len().min(80)]
            );
            assert!(why.chars().count() < 400, "{} characters", why.len());
        }
    }

    #[test]
    fn idempotency_keys() {
        assert_eq!(
            idempotency_key(" order-42:retry.1 ").unwrap(),
            "order-42:retry.1"
        );
        assert!(idempotency_key("").is_err());
        assert!(idempotency_key("has space").is_err());
        assert!(idempotency_key(&"k".repeat(129)).is_err());
    }

    #[test]
    fn message_groups() {
        let ids = Target::InstanceIds(vec!["i-2".into(), "i-1".into()]);
        assert_eq!(ids.group(), "i-1,i-2");
        let many = Target::InstanceIds((0..50).map(|i| format!("i-{i:017x}")).collect());
        assert!(many.group().starts_with("ids-") && many.group().len() <= 128);
        let tag = Target::Tag(TagSelector {
            key: "Team".into(),
            value: "api".into(),
        });
        assert_eq!(tag.group(), "tag:Team=api");
    }

    #[test]
    fn outcome_status() {
        let o = |r: &str| InstanceOutcome {
            instance_id: "i".into(),
            result: r.into(),
            detail: None,
        };
        assert_eq!(
            Outcome::status_of(&[o("started"), o("already running")]),
            Status::Done
        );
        assert_eq!(
            Outcome::status_of(&[o("started"), o("refused")]),
            Status::Partial
        );
        assert_eq!(
            Outcome::status_of(&[o("refused"), o("not found")]),
            Status::Refused
        );
        assert_eq!(Outcome::status_of(&[]), Status::Refused);
        for status in [Status::Done, Status::Partial, Status::Refused] {
            let json = serde_json::to_value(status).unwrap();
            assert_eq!(json, status.as_str());
            assert_eq!(serde_json::from_value::<Status>(json).unwrap(), status);
        }
    }
}

#[cfg(test)]
mod selects_tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn a_target_selects_only_what_it_names() {
        let tags: BTreeMap<String, String> = [("Team".to_string(), "api".to_string())].into();
        let ids = Target::InstanceIds(vec!["i-0123456789abcdef0".into()]);
        assert!(ids.selects("i-0123456789abcdef0", &tags));
        assert!(!ids.selects("i-0123456789abcdef1", &tags));
        let tag = |v: &str| {
            Target::Tag(TagSelector {
                key: "Team".into(),
                value: v.into(),
            })
        };
        assert!(tag("api").selects("i-1", &tags));
        assert!(!tag("API").selects("i-1", &tags));
        assert!(!tag("api").selects("i-1", &BTreeMap::new()));
    }
}
