//! Fuzzing the request body parser (`parse_body`, the API) and the queued-message reader
//! (`Request::from_message`, the consumer) with proptest: arbitrary bytes, arbitrary JSON,
//! mutations of valid bodies, generated valid bodies.
//!
//! Properties: nothing panics; a refusal is a 400 or 413 whose message names the field and stays
//! short; a valid body round-trips through the queue; whatever the API accepts, the consumer
//! accepts (they must never disagree: the message would be dead-lettered).
//!
//! Case counts are bounded for CI (see `config`); set `PROPTEST_CASES` for longer local runs.

use chrono::{DateTime, Utc};
use lightsout_fuzz::{config, json_tree, TreeSize};
use lightsout_requests::{parse_body, Action, Request, Target, MAX_BODY_BYTES};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

const MAX_MESSAGE: usize = 400;
const FIELDS: [&str; 5] = ["action", "instanceIds", "tag", "until", "requestedBy"];

fn now() -> DateTime<Utc> {
    "2026-11-25T10:00:00Z".parse().unwrap()
}

fn parse(body: &[u8]) -> Result<Request, lightsout_requests::Refusal> {
    parse_body(Some(body), "req-1".into(), now())
}

/// The pieces of requests that `text` mixes in.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "wake", "sleep", "i-", "0123456789abcdef0", "AUTOSTOP_ENABLE", "aws:", "Team",
    "2099-01-01T00:00:00Z", "+09:00", "T", " ", "\u{0}", "\u{7}", "\u{FFFF}", "\u{FFFE}", "\n", "🕘",
    "민아",
];

/// Any text, with the pieces requests are made of.
fn text() -> BoxedStrategy<String> {
    lightsout_fuzz::text(WORDS)
}

/// An object key: the body's fields, the target's and the outcome's, or anything.
fn key() -> BoxedStrategy<String> {
    let fields = [
        FIELDS.as_slice(),
        &[
            "key",
            "value",
            "instanceId",
            "Action",
            "requestId",
            "target",
        ],
    ]
    .concat();
    lightsout_fuzz::key(fields, text())
}

fn json_value() -> impl Strategy<Value = Value> {
    let grow = TreeSize {
        depth: 6,
        size: 32,
        width: 8,
    };
    prop_oneof![
        20 => json_tree(text(), key(), grow),
        1 => (0usize..70_000).prop_map(|n| Value::String("m".repeat(n))),
        1 => prop::collection::vec(Just(json!("i-0123456789abcdef0")), 0..80).prop_map(Value::Array),
    ]
}

/// A valid body (as JSON) and the request it must parse to (id, received-at as `parse` sets them).
fn valid() -> impl Strategy<Value = (Value, Request)> {
    // Generated from numbers, not regexes: proptest's regex strategies are slow in debug builds.
    let ids = prop::collection::btree_set(
        prop_oneof![
            any::<u64>().prop_map(|n| format!("i-{n:017x}")),
            any::<u32>().prop_map(|n| format!("i-{n:08x}")),
        ],
        1..=50,
    );
    let words = |pieces: Vec<&'static str>, n: std::ops::Range<usize>| {
        prop::collection::vec(prop::sample::select(pieces), n).prop_map(|p| p.concat())
    };
    let tag = (
        words(
            vec![
                "Team", "팀", "env", " ", "_", ".", ":", "/", "=", "+", "@", "-", "a", "9",
            ],
            1..8,
        ),
        words(
            vec!["api", "결제", "prod", " ", "-", "x", "7", "é", ""],
            0..10,
        ),
    )
        .prop_filter("a selectable key", |(k, _)| {
            let k = k.trim();
            !k.is_empty() && k != "AUTOSTOP_ENABLE" && !k.starts_with("aws:")
        });
    let target = prop_oneof![
        ids.prop_map(|ids| Target::InstanceIds(ids.into_iter().collect())),
        tag.prop_map(|(key, value)| Target::Tag(lightsout_requests::TagSelector {
            key: key.trim().to_string(),
            value
        })),
    ];
    (
        any::<bool>(),
        target,
        prop::option::of(1i64..3_000_000_000),
        prop::option::of(
            (
                "[a-zA-Z가-힣]",
                words(vec!["mina", "민아", " ", ".", "@", "ops", "-", "7"], 0..12),
            )
                .prop_map(|(a, b)| a + &b),
        ),
    )
        .prop_map(|(wake, target, until, by)| {
            let action = if wake { Action::Wake } else { Action::Sleep };
            let until = until.filter(|_| wake).map(|s| {
                (now() + chrono::Duration::seconds(s))
                    .fixed_offset()
                    .to_rfc3339()
            });
            let mut body = json!({ "action": action.as_str() });
            match &target {
                Target::InstanceIds(ids) => body["instanceIds"] = json!(ids),
                Target::Tag(t) => body["tag"] = json!({"key": t.key, "value": t.value}),
            }
            if let Some(u) = &until {
                body["until"] = json!(u);
            }
            if let Some(b) = &by {
                body["requestedBy"] = json!(b);
            }
            let request = Request {
                request_id: "req-1".into(),
                action,
                target,
                until,
                requested_by: by.map_or("anonymous".into(), |b| b.trim().to_string()),
                received_at: "2026-11-25T10:00:00Z".into(),
            };
            (body, request)
        })
}

fn check_refusal(result: &Result<Request, lightsout_requests::Refusal>) -> Option<String> {
    let r = result.as_ref().err()?;
    assert!(r.status == 400 || r.status == 413, "{}", r.status);
    assert!(
        r.message.chars().count() <= MAX_MESSAGE,
        "{} characters",
        r.message.chars().count()
    );
    Some(r.message.clone())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_bytes_are_refused_or_parsed(body in prop::collection::vec(any::<u8>(), 0..512)) {
        if let Some(msg) = check_refusal(&parse(&body)) {
            let named = ["Body", "No body", "unknown field", "action", "instanceIds", "tag", "until", "requestedBy"];
            prop_assert!(named.iter().any(|n| msg.starts_with(n)), "{}", msg);
        }
    }

    #[test]
    fn any_json_is_refused_naming_the_field_or_parsed(v in json_value()) {
        let body = serde_json::to_vec(&v).unwrap();
        let result = parse(&body);
        if let Some(msg) = check_refusal(&result) {
            let named = ["Body", "No body", "unknown field", "action", "instanceIds", "tag", "until", "requestedBy"];
            prop_assert!(named.iter().any(|n| msg.starts_with(n)), "{}", msg);
        }
        if let Ok(request) = result {
            prop_assert!(request.check().is_ok(), "the consumer would refuse what the API took: {:?}", request);
        }
    }

    #[test]
    fn any_object_is_refused_naming_the_field_or_parsed(fields in prop::collection::btree_map(key(), json_value(), 0..6)) {
        let body = serde_json::to_vec(&Value::Object(fields.into_iter().collect())).unwrap();
        let result = parse(&body);
        if let Some(msg) = check_refusal(&result) {
            let named = ["Body is", "unknown field", "action", "instanceIds", "tag", "until", "requestedBy"];
            prop_assert!(named.iter().any(|n| msg.starts_with(n)), "{}", msg);
        }
        if let Ok(request) = result {
            prop_assert!(request.check().is_ok(), "the consumer would refuse what the API took: {:?}", request);
        }
    }

    #[test]
    fn valid_bodies_round_trip_through_the_queue((body, expected) in valid()) {
        let request = parse(&serde_json::to_vec(&body).unwrap())
            .map_err(|r| TestCaseError::fail(format!("{body}: {}", r.message)))?;
        prop_assert_eq!(&request, &expected);
        let queued = serde_json::to_string(&request).unwrap();
        prop_assert_eq!(Request::from_message(&queued), Ok(request));
    }

    #[test]
    fn mutated_valid_bodies_are_refused_naming_the_field(
        (body, _) in valid(),
        field in prop::sample::select(FIELDS.to_vec()),
        mutation in 0u8..5,
        junk in json_value(),
    ) {
        let mut body = body;
        let map = body.as_object_mut().unwrap();
        match mutation {
            0 => { map.remove(field); }
            1 => { map.insert(field.into(), junk); }
            2 => { map.insert(field.into(), json!("")); }
            3 => { map.insert(field.into(), json!(1)); }
            _ => { map.insert(field.into(), json!([[[[["x"]]]]])); }
        }
        let raw = serde_json::to_vec(&body).unwrap();
        if let Some(msg) = check_refusal(&parse(&raw)) {
            let field_named = msg.starts_with(field)
                || (field == "instanceIds" || field == "tag") && msg.starts_with("instanceIds")
                || raw.len() > MAX_BODY_BYTES && msg.starts_with("Body is");
            prop_assert!(field_named, "{}: {}", field, msg);
        }
    }

    #[test]
    fn any_message_is_refused_naming_the_field_or_read(body in prop_oneof![
        text(),
        json_value().prop_map(|v| v.to_string()),
        (valid(), prop::sample::select(vec!["requestId", "action", "target", "until", "requestedBy", "receivedAt"]), json_value())
            .prop_map(|((_, r), field, junk)| {
                let mut v = serde_json::to_value(&r).unwrap();
                v[field] = junk;
                v.to_string()
            }),
    ]) {
        match Request::from_message(&body) {
            Ok(request) => prop_assert!(request.check().is_ok()),
            Err(why) => {
                prop_assert!(why.starts_with("malformed request: "), "{}", why);
                prop_assert!(why.chars().count() <= MAX_MESSAGE, "{} characters", why.chars().count());
            }
        }
    }
}

#[test]
fn nesting_anywhere_is_refused_without_overflow() {
    for depth in [129, 10_000, 32_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        for body in [
            deep.clone(),
            format!(r#"{{"action": "wake", "instanceIds": {deep}}}"#),
            format!(r#"{{"action": "wake", "tag": {{"key": {deep}, "value": "x"}}}}"#),
        ] {
            let r = parse(body.as_bytes()).unwrap_err();
            assert_eq!(r.status, 400);
            assert!(
                r.message
                    .starts_with("Body is not valid JSON: recursion limit exceeded"),
                "{}",
                r.message
            );
        }
    }
    let mut map = Map::new();
    map.insert("action".into(), json!("wake"));
    assert!(parse(&serde_json::to_vec(&Value::Object(map)).unwrap()).is_err());
}
