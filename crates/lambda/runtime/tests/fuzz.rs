//! The runtime's reading of a payload (`Payload<T>`), fuzzed: whatever bytes arrive, reading never
//! fails or panics (so the runtime never answers with its own error type), agrees with
//! serde_json where serde_json can read them, and explains itself briefly where it cannot.
//! Bounded for CI; set `PROPTEST_CASES` for longer local runs.

use lightsout_fuzz::config;
use lightsout_runtime::Payload;
use proptest::prelude::*;
use serde_json::Value;

/// What lambda_runtime does with a payload: serde_path_to_error over serde_json's slice reader.
fn read<T: serde::de::DeserializeOwned>(body: &[u8]) -> Payload<T> {
    let mut de = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut de).expect("reading a Payload never fails")
}

/// Bytes that are often almost JSON: brackets, quotes, numbers, and now and then a deep run.
fn payload() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        prop::sample::select(vec![
            "{",
            "}",
            "[",
            "]",
            "\"",
            ":",
            ",",
            "1",
            "-",
            "1e999",
            "0.5",
            "null",
            "true",
            "\"a\"",
            "\"Records\"",
            " ",
            "\\u0000",
            "\\",
            "\u{FFFF}",
        ])
        .prop_map(|s| s.as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 0..4),
        (100usize..300).prop_map(|n| [vec![b'['; n], vec![b']'; n]].concat()),
    ];
    prop::collection::vec(piece, 0..24).prop_map(|p| p.concat())
}

proptest! {
    #![proptest_config(config(3000))]

    #[test]
    fn any_bytes_are_read_or_explained(body in payload()) {
        match read::<Value>(&body) {
            Payload::Read(v) => {
                let mut de = serde_json::Deserializer::from_slice(&body);
                let direct: Value = serde::Deserialize::deserialize(&mut de).unwrap();
                prop_assert_eq!(v, direct);
            }
            Payload::Unreadable(why) => {
                prop_assert!(why.starts_with("event: "), "{}", why);
                prop_assert!(why.chars().count() <= 301, "{} characters", why.chars().count());
            }
        }
    }

    #[test]
    fn any_bytes_never_fail_a_typed_read(body in payload()) {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Batch {
            #[serde(rename = "Records")]
            records: Vec<String>,
        }
        if let Payload::Unreadable(why) = read::<Batch>(&body) {
            prop_assert!(why.starts_with("event: "), "{}", why);
        }
    }
}
