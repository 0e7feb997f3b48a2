//! The `ec2-autostop` event contract: which instant to decide for, and whether to change anything.
//!
//! Fields read (all optional, others ignored so EventBridge envelopes pass through):
//! - `time`: RFC 3339; the scheduled time. EventBridge rules put it there; an EventBridge Scheduler
//!   target passes `<aws.scheduler.scheduled-time>`. A delayed or retried run decides for it.
//! - `now`: RFC 3339; for tests and manual runs, used when `time` is absent.
//! - `dryRun`: boolean (or the strings "true"/"false"): decide and report, change nothing.
//!
//! A field that is a near miss of one of these (`dry_run`, `DryRun`, `dryrun`, `Now`) is refused:
//! ignored, it would make the run act for real, or for the wrong moment.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Bad input: names the field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    /// The event is neither an object nor null; holds what it is (`an array`, …).
    #[error("event: expected a JSON object, got {0}")]
    NotAnObject(&'static str),
    /// `time` or `now` is not an RFC 3339 time.
    #[error("event field `{field}`: expected an RFC 3339 time such as 2026-11-25T09:00:00+09:00, got {got}")]
    BadTime {
        /// `time` or `now`.
        field: &'static str,
        /// What it held (see [`describe`]).
        got: String,
    },
    /// `dryRun` is neither a boolean nor the string `true` or `false`; holds what it was.
    #[error("event field `dryRun`: expected true or false, got {0}")]
    BadDryRun(String),
    /// A field that is a near miss of a known one (`dry_run` for `dryRun`): refused, not ignored.
    #[error(
        "event field `{field}`: not a field of this event; did you mean `{known}`? \
         (refused rather than ignored: a misspelt field would change what the run does)"
    )]
    NearMiss {
        /// The field as given, shortened.
        field: String,
        /// The known field it is a near miss of.
        known: &'static str,
    },
    /// The runtime could not read the payload as JSON (nested too deeply, a number out of range).
    #[error("{0}")]
    Unreadable(String),
}

/// The fields the event reads.
pub const FIELDS: [&str; 3] = ["time", "now", "dryRun"];

/// Where the decision time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeSource {
    /// The event's `time` (the scheduled time).
    EventTime,
    /// The event's `now`.
    EventNow,
    /// No time in the event: the function's clock.
    Clock,
}

/// What an `ec2-autostop` event asks for: the instant to decide for, and whether to change
/// anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutostopEvent {
    /// `None`: use the clock.
    pub time: Option<(DateTime<Utc>, TimeSource)>,
    /// `None`: the function's `DRY_RUN` setting decides.
    pub dry_run: Option<bool>,
}

impl AutostopEvent {
    /// Reads the event. `null` is an event with no fields; a near miss of a known field, or a bad
    /// value, is refused.
    pub fn parse(event: &Value) -> Result<AutostopEvent, EventError> {
        let fields = match event {
            Value::Null => {
                return Ok(AutostopEvent {
                    time: None,
                    dry_run: None,
                })
            }
            Value::Object(map) => map,
            other => return Err(EventError::NotAnObject(kind(other))),
        };
        if let Some((field, known)) = fields
            .keys()
            .find_map(|k| near_miss(k, &FIELDS).map(|known| (k, known)))
        {
            return Err(EventError::NearMiss {
                field: shorten(field),
                known,
            });
        }
        // Both are checked even though `time` wins: a malformed `now` is a caller's mistake to
        // report, not to pass over.
        let read = |field: &'static str| {
            fields
                .get(field)
                .filter(|v| !v.is_null())
                .map(|v| instant(field, v))
                .transpose()
        };
        let (time, now) = (read("time")?, read("now")?);
        let time = time
            .map(|t| (t, TimeSource::EventTime))
            .or(now.map(|n| (n, TimeSource::EventNow)));
        let dry_run = match fields.get("dryRun") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            Some(other) => return Err(EventError::BadDryRun(describe(other))),
        };
        Ok(AutostopEvent { time, dry_run })
    }

    /// The instant to decide for: the event's, else `clock`.
    pub fn decision_time(&self, clock: DateTime<Utc>) -> (DateTime<Utc>, TimeSource) {
        self.time.unwrap_or((clock, TimeSource::Clock))
    }
}

fn instant(field: &'static str, value: &Value) -> Result<DateTime<Utc>, EventError> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| EventError::BadTime {
            field,
            got: describe(value),
        })
}

/// What kind of JSON value this is, for error messages ("an array", "a number", …).
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// At most this many characters of an input are echoed in an error message.
pub const SHOWN_CHARS: usize = 64;

/// `text`, cut to [`SHOWN_CHARS`] characters with `…` when longer: what error messages echo of an
/// input, so that a huge input never makes a huge message.
pub fn shorten(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        None => text.to_string(),
        Some((cut, _)) => format!("{}…", &text[..cut]),
    }
}

/// A short description of a bad value for an error message (never the whole of a huge input).
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("\"{}\"", shorten(s)),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => format!("an array of {}", items.len()),
        other => kind(other).to_string(),
    }
}

/// Is `key` a near miss of one of the `known` field names, and of which? Near misses are the same
/// name in another letter case or with `_`, `-` or spaces (`dry_run`, `DryRun`, `snapshotbucket`),
/// or, for names of four letters or more, one typo away (a letter missing, added, changed, or two
/// swapped: `dryRn`, `subnet`, `tiem`). An exact match, or an unrelated name, is not.
///
/// Events keep unrelated fields (EventBridge envelopes, the ALB states' enrichment), so only near
/// misses can be refused: ignored, a misspelt `dryRun` would act for real.
pub fn near_miss<'a>(key: &str, known: &[&'a str]) -> Option<&'a str> {
    // Field names are short; anything long is not a misspelling of one (and is not worth comparing).
    if key.len() > 64 || known.contains(&key) {
        return None;
    }
    let fold = |s: &str| -> Vec<char> {
        s.chars()
            .filter(|c| !matches!(c, '_' | '-' | ' '))
            .flat_map(char::to_lowercase)
            .collect()
    };
    let key_folded = fold(key);
    known.iter().copied().find(|name| {
        let name_folded = fold(name);
        key_folded == name_folded
            || (key_folded.len().min(name_folded.len()) >= 4
                && key_folded.len().abs_diff(name_folded.len()) <= 1
                && one_edit_apart(&key_folded, &name_folded))
    })
}

/// Optimal-string-alignment distance ≤ 1 (insert, delete, substitute, or swap two neighbours).
fn one_edit_apart(a: &[char], b: &[char]) -> bool {
    let prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let (a, b) = (&a[prefix..], &b[prefix..]);
    match (a.len(), b.len()) {
        (0, 0) => true,
        (x, y) if x == y => {
            a[1..] == b[1..] || (x >= 2 && a[0] == b[1] && a[1] == b[0] && a[2..] == b[2..])
        }
        (x, y) if x + 1 == y => a == &b[1..],
        (x, y) if x == y + 1 => &a[1..] == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_event_time_wins() {
        let e = AutostopEvent::parse(&json!({
            "version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2026-11-25T00:00:00Z", "now": "2030-01-01T00:00:00Z", "detail": {}
        }))
        .unwrap();
        let (t, src) = e.decision_time(Utc::now());
        assert_eq!(t.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(src, TimeSource::EventTime);
    }

    #[test]
    fn now_then_clock() {
        let e = AutostopEvent::parse(&json!({"now": "2026-11-25T09:00:00+09:00", "dryRun": true}))
            .unwrap();
        assert_eq!(e.decision_time(Utc::now()).1, TimeSource::EventNow);
        assert_eq!(e.dry_run, Some(true));
        let clock = Utc::now();
        assert_eq!(
            AutostopEvent::parse(&json!({}))
                .unwrap()
                .decision_time(clock),
            (clock, TimeSource::Clock)
        );
        assert_eq!(
            AutostopEvent::parse(&Value::Null)
                .unwrap()
                .decision_time(clock)
                .1,
            TimeSource::Clock
        );
        assert_eq!(
            AutostopEvent::parse(&json!({"dryRun": "TRUE"}))
                .unwrap()
                .dry_run,
            Some(true)
        );
    }

    #[test]
    fn bad_fields_named() {
        let err = |v: Value| AutostopEvent::parse(&v).unwrap_err().to_string();
        assert_eq!(
            err(json!([1])),
            "event: expected a JSON object, got an array"
        );
        assert!(err(json!({"time": "yesterday"}))
            .starts_with("event field `time`: expected an RFC 3339 time"));
        assert!(err(json!({"now": 5})).ends_with("got 5"));
        assert!(err(json!({"time": "2026-11-25T00:00:00Z", "now": "later"}))
            .starts_with("event field `now`: expected an RFC 3339 time"));
        assert!(err(json!({"now": "x".repeat(1000)})).len() < 200);
        assert_eq!(
            err(json!({"dryRun": "maybe"})),
            "event field `dryRun`: expected true or false, got \"maybe\""
        );
        assert_eq!(
            err(json!({"dryRun": {}})),
            "event field `dryRun`: expected true or false, got an object"
        );
    }

    #[test]
    fn near_misses_of_fields_are_refused_other_fields_ignored() {
        for (key, known) in [
            ("dry_run", "dryRun"),
            ("DryRun", "dryRun"),
            ("dryrun", "dryRun"),
            ("DRY-RUN", "dryRun"),
            ("dryRn", "dryRun"),
            ("dyrRun", "dryRun"),
            ("dryRuns", "dryRun"),
            ("Now", "now"),
            ("NOW", "now"),
            ("TIME", "time"),
            ("tiem", "time"),
            ("times", "time"),
        ] {
            let e = AutostopEvent::parse(&json!({ key: true })).unwrap_err();
            assert_eq!(
                e,
                EventError::NearMiss {
                    field: key.into(),
                    known
                },
                "{key}"
            );
            let msg = e.to_string();
            assert!(
                msg.starts_with(&format!(
                    "event field `{key}`: not a field of this event; did you mean `{known}`?"
                )),
                "{msg}"
            );
        }
        // An EventBridge envelope, and names that are not near misses, are ignored.
        let envelope = json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "1", "time": "2026-11-25T00:00:00Z", "region": "ap-northeast-2", "resources": [], "detail": {},
            "new": 1, "type": 1, "dryRunner": 1, "nowhere": 1, "timeout": 1, "note": "x"});
        assert!(AutostopEvent::parse(&envelope).is_ok());
        let long = "d".repeat(100_000);
        assert!(AutostopEvent::parse(&json!({ long: 1 })).is_ok());
    }

    #[test]
    fn one_edit() {
        let c = |s: &str| s.chars().collect::<Vec<_>>();
        for (a, b) in [
            ("abcd", "abcd"),
            ("abcd", "abd"),
            ("abcd", "abxd"),
            ("abcd", "bacd"),
            ("abcd", "abdc"),
            ("abcd", "abcde"),
        ] {
            assert!(
                one_edit_apart(&c(a), &c(b)) && one_edit_apart(&c(b), &c(a)),
                "{a} {b}"
            );
        }
        for (a, b) in [
            ("abcd", "badc"),
            ("abcd", "ab"),
            ("abcd", "xbcx"),
            ("abcd", "dcba"),
        ] {
            assert!(
                !one_edit_apart(&c(a), &c(b)) && !one_edit_apart(&c(b), &c(a)),
                "{a} {b}"
            );
        }
    }

    #[test]
    fn shortened_echo() {
        assert_eq!(shorten("abc"), "abc");
        assert_eq!(shorten(&"월".repeat(64)), "월".repeat(64));
        assert_eq!(shorten(&"월".repeat(65)), format!("{}…", "월".repeat(64)));
        assert_eq!(
            describe(&json!("x".repeat(5_000_000))).chars().count(),
            64 + 3
        );
    }
}
