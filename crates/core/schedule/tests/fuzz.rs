//! Fuzzing the event parser and the tag grammar with proptest: arbitrary strings (Korean day
//! names included), arbitrary JSON trees (deep, wide, huge strings) and mutations of valid input.
//!
//! Properties: nothing panics; every error names its field or tag and stays short whatever the
//! input; valid input round-trips to what an independent reference model says.
//!
//! Case counts are bounded for CI (see `config`); `PROPTEST_CASES=100000 cargo test --test fuzz`
//! runs longer locally.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, FixedOffset, NaiveDate, TimeZone, Utc, Weekday};
use chrono_tz::{Tz, TZ_VARIANTS};
use lightsout_fuzz::{config, dispose, json_tree, nested, TreeSize};
use lightsout_schedule::charset::{refusal, restricted_form};
use lightsout_schedule::event::{near_miss, FIELDS};
use lightsout_schedule::policy::{parse_dates, parse_zone};
use lightsout_schedule::{
    classify, AutostopEvent, Classification, DaySet, EventError, TimeSource, Window, Windows,
};
use proptest::prelude::*;
use serde_json::{json, Map, Value};

/// The longest error message (in characters) any input may produce: messages echo at most 64
/// characters of each bad part.
const MAX_MESSAGE: usize = 400;

fn short(msg: &str) -> bool {
    msg.chars().count() <= MAX_MESSAGE
}

// --- generators ---------------------------------------------------------------------------------

/// The pieces of the DAY/TIME grammar (and its neighbours) that `text` mixes in.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "월", "화", "수", "목", "금", "토", "일", "월요일", "평일", "주말", "매일", "mon", "FRI", "sunday", "weekdays",
    "daily", "-", "~", "～", "〜", ",", " ", ":", "9", "18", "24:00", "09:30", "23:59", "0", "00",
    "\t", "\u{0}", "\u{FFFF}", "é", "🕘",
];

/// Any text: printable unicode, Korean syllables, the grammar's own pieces, control characters.
fn text() -> BoxedStrategy<String> {
    lightsout_fuzz::text(WORDS)
}

/// Any JSON: nested up to 8 levels through the recursion, wide arrays and objects, keys that are
/// or look like the event's fields; now and then a string of up to a megabyte.
fn json_value() -> impl Strategy<Value = Value> {
    let grow = TreeSize {
        depth: 8,
        size: 96,
        width: 16,
    };
    prop_oneof![
        20 => json_tree(text(), key(), grow),
        1 => (0usize..1_000_000).prop_map(|n| Value::String("x".repeat(n))),
        1 => (0usize..500).prop_map(nested),
    ]
}

fn key() -> BoxedStrategy<String> {
    let fields = vec![
        "time", "now", "dryRun", "detail", "source", "dry_run", "Now",
    ];
    lightsout_fuzz::key(fields, text())
}

/// An instant between 1970 and 2200 in a whole-minute offset from -23:59 to +23:59.
fn instant() -> impl Strategy<Value = DateTime<FixedOffset>> {
    (0i64..7_258_118_400, -1439i32..=1439).prop_map(|(secs, offset_minutes)| {
        FixedOffset::east_opt(offset_minutes * 60)
            .unwrap()
            .from_utc_datetime(&DateTime::from_timestamp(secs, 0).unwrap().naive_utc())
    })
}

// --- the ec2-autostop event ---------------------------------------------------------------------

fn assert_event_error_is_named(e: &EventError, event: &Value) {
    let msg = e.to_string();
    assert!(short(&msg), "{} characters", msg.chars().count());
    assert!(msg.starts_with("event"), "{msg}");
    match e {
        EventError::BadTime { field, .. } => assert!(msg.contains(&format!("`{field}`"))),
        EventError::BadDryRun(_) => assert!(msg.contains("`dryRun`")),
        EventError::NearMiss { field, known } => {
            assert!(
                FIELDS.contains(known) && event.get(field.as_str()).is_some(),
                "{msg}"
            )
        }
        EventError::NotAnObject(_) => assert!(!event.is_object() && !event.is_null()),
        EventError::Unreadable(_) => panic!("parse never reports Unreadable"),
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_event_parses_or_names_the_field(v in json_value()) {
        match AutostopEvent::parse(&v) {
            Ok(_) => prop_assert!(v.is_null() || v.is_object()),
            Err(e) => assert_event_error_is_named(&e, &v),
        }
    }

    #[test]
    fn any_value_in_a_field_parses_or_names_it(
        field in prop::sample::select(FIELDS.to_vec()),
        v in json_value(),
        extra in prop::collection::btree_map("[a-z]{8,12}", json_value(), 0..2),
    ) {
        let mut event: Map<String, Value> = extra.into_iter().collect();
        event.insert(field.to_string(), v.clone());
        let event = Value::Object(event);
        match AutostopEvent::parse(&event) {
            Ok(parsed) => match field {
                "dryRun" => prop_assert_eq!(parsed.dry_run.is_some(), !v.is_null()),
                _ => prop_assert_eq!(parsed.time.is_some(), !v.is_null()),
            },
            Err(e) => {
                assert_event_error_is_named(&e, &event);
                prop_assert!(e.to_string().contains(field), "{} not named in {}", field, e);
            }
        }
    }

    #[test]
    fn valid_events_round_trip(
        time in prop::option::of(instant()),
        now in prop::option::of(instant()),
        dry_run in prop::option::of(prop_oneof![
            any::<bool>().prop_map(Value::Bool),
            prop::sample::select(vec!["true", "TRUE", "True", "false", "FALSE", "fAlSe"]).prop_map(|s| json!(s)),
        ]),
        envelope in any::<bool>(),
    ) {
        let mut event = if envelope {
            json!({"version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
                   "account": "1", "region": "ap-northeast-2", "resources": [], "detail": {}})
        } else {
            json!({})
        };
        if let Some(t) = time { event["time"] = json!(t.to_rfc3339()); }
        if let Some(n) = now { event["now"] = json!(n.to_rfc3339()); }
        if let Some(d) = &dry_run { event["dryRun"] = d.clone(); }
        let parsed = AutostopEvent::parse(&event).unwrap();
        let expected = match (time, now) {
            (Some(t), _) => Some((t.with_timezone(&Utc), TimeSource::EventTime)),
            (None, Some(n)) => Some((n.with_timezone(&Utc), TimeSource::EventNow)),
            (None, None) => None,
        };
        prop_assert_eq!(parsed.time, expected);
        let wanted = dry_run.map(|d| d.as_bool().unwrap_or_else(|| d.as_str().unwrap().eq_ignore_ascii_case("true")));
        prop_assert_eq!(parsed.dry_run, wanted);
    }

    #[test]
    fn mutated_valid_events_parse_or_name_the_field(
        t in instant(),
        field in prop::sample::select(FIELDS.to_vec()),
        mutation in 0u8..6,
        junk in json_value(),
    ) {
        let mut event = json!({"time": t.to_rfc3339(), "now": t.to_rfc3339(), "dryRun": true});
        let map = event.as_object_mut().unwrap();
        match mutation {
            0 => { map.remove(field); }
            1 => { map.insert(field.into(), junk); }
            2 => { map.insert(field.into(), json!("")); }
            3 => { map.insert(field.into(), json!("9".repeat(1_000_000))); }
            4 => { map.insert(field.into(), nested(100)); }
            _ => { map.insert(field.into(), json!(t.naive_utc().to_string())); } // no offset
        }
        match AutostopEvent::parse(&event) {
            Ok(_) => prop_assert!(mutation == 0 || mutation == 1),
            Err(e) => {
                assert_event_error_is_named(&e, &event);
                prop_assert!(e.to_string().contains(&format!("`{field}`")), "{}", e);
            }
        }
    }

    #[test]
    fn respelt_fields_are_refused_by_name(field in prop::sample::select(FIELDS.to_vec()), spelling in spelling()) {
        let key = respell(field, &spelling);
        prop_assume!(key != field);
        let result = AutostopEvent::parse(&json!({ key.clone(): true }));
        prop_assert_eq!(result, Err(EventError::NearMiss { field: key.clone(), known: field }));
    }

    #[test]
    fn unrelated_fields_are_ignored(keys in prop::collection::vec("[a-z]{7,12}|[0-9가-힣]{1,5}", 0..12), v in json_value()) {
        let event: Map<String, Value> = keys.iter().map(|k| (k.clone(), v.clone())).collect();
        prop_assume!(keys.iter().all(|k| near_miss(k, &FIELDS).is_none()));
        prop_assert!(AutostopEvent::parse(&Value::Object(event)).is_ok());
    }
}

/// Letter case and separators to spell a field name with.
fn spelling() -> impl Strategy<Value = Vec<(bool, &'static str)>> {
    prop::collection::vec(
        (
            any::<bool>(),
            prop::sample::select(vec!["", "", "", "_", "-"]),
        ),
        6,
    )
}

/// `name` spelt with `spelling`: letter case flipped, `_`/`-` inserted (a near miss, unless it
/// comes out as `name` itself).
fn respell(name: &str, spelling: &[(bool, &str)]) -> String {
    name.chars()
        .enumerate()
        .map(|(i, c)| {
            let (upper, sep) = spelling[i % spelling.len()];
            let c = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            if i == 0 {
                c.to_string()
            } else {
                format!("{sep}{c}")
            }
        })
        .collect()
}

#[test]
fn nesting_far_past_any_parser_limit_is_not_walked() {
    // AutostopEvent::parse reads three fields and describes values shallowly: a value nested
    // 100,000 levels deep in any field is refused (or ignored) without recursion.
    for field in ["time", "now", "dryRun", "detail"] {
        let mut event = Map::new();
        event.insert(field.into(), nested(100_000));
        let event = Value::Object(event);
        let result = AutostopEvent::parse(&event);
        assert_eq!(result.is_ok(), field == "detail", "{field}");
        dispose(event);
    }
}

// --- the tag grammar ----------------------------------------------------------------------------

const DAY_NAMES: [[&str; 5]; 7] = [
    ["월", "월요일", "mon", "monday", "MON"],
    ["화", "화요일", "tue", "tuesday", "tues"],
    ["수", "수요일", "wed", "wednesday", "Wed"],
    ["목", "목요일", "thu", "thursday", "thurs"],
    ["금", "금요일", "fri", "friday", "FRIDAY"],
    ["토", "토요일", "sat", "saturday", "Sat"],
    ["일", "일요일", "sun", "sunday", "SUN"],
];
const WEEK: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

/// One `DAY` item and the days it means (the reference, written apart from the parser).
fn day_item() -> impl Strategy<Value = (String, BTreeSet<usize>)> {
    let name = || (0usize..7, 0usize..5);
    prop_oneof![
        name().prop_map(|(d, s)| (DAY_NAMES[d][s].to_string(), BTreeSet::from([d]))),
        (
            name(),
            name(),
            prop::sample::select(vec!["-", "~", "～", "〜", " - ", " ~"])
        )
            .prop_map(|((a, sa), (b, sb), sep)| {
                let days: BTreeSet<usize> = (0..7)
                    .map(|i| (a + i) % 7)
                    .take((b + 7 - a) % 7 + 1)
                    .collect();
                (
                    format!("{}{sep}{}", DAY_NAMES[a][sa], DAY_NAMES[b][sb]),
                    days,
                )
            }),
        prop::sample::select(vec![
            ("weekdays", 0b0011111u8),
            ("평일", 0b0011111),
            ("WEEKEND", 0b1100000),
            ("주말", 0b1100000),
            ("daily", 0b1111111),
            ("Everyday", 0b1111111),
            ("매일", 0b1111111),
        ])
        .prop_map(|(name, mask)| (
            name.to_string(),
            (0..7).filter(|i| mask & (1 << i) != 0).collect()
        )),
    ]
}

/// One `TIME` window and its (start, length) in minutes, by the rules of docs/tags.md.
fn window_item() -> impl Strategy<Value = (String, (u16, u16))> {
    let hour = 0u16..24;
    let hhmm = (0u16..24, 0u16..60);
    prop_oneof![
        (hour.clone(), hour.clone(), any::<bool>()).prop_map(|(a, b, pad)| {
            let text = if pad {
                format!("{a:02}~{b:02}")
            } else {
                format!("{a}-{b}")
            };
            let end = (b + 1) * 60 % 1440; // a whole-hour end includes its hour
            let length = match (end + 1440 - a * 60) % 1440 {
                0 => 1440,
                n => n,
            };
            (text, (a * 60, length))
        }),
        (hhmm.clone(), hhmm, any::<bool>()).prop_filter_map(
            "start = end is an empty window",
            |((ah, am), (bh, bm), midnight)| {
                let (start, mut end) = (ah * 60 + am, bh * 60 + bm);
                let end_text = if midnight && end == 0 {
                    end = 1440;
                    "24:00".to_string()
                } else {
                    format!("{bh:02}:{bm:02}")
                };
                let length = (end % 1440 + 1440 - start) % 1440;
                (length != 0).then(|| (format!("{ah:02}:{am:02} ～ {end_text}"), (start, length)))
            }
        ),
    ]
}

fn tag_value() -> impl Strategy<Value = String> {
    prop_oneof![
        text(),
        "\\PC{0,256}",
        (0usize..300).prop_map(|n| "9".repeat(n))
    ]
}

proptest! {
    #![proptest_config(config(4000))]

    #[test]
    fn days_parse_or_name_the_part(s in text()) {
        match DaySet::parse(&s) {
            Ok(days) => {
                prop_assert!(!days.is_empty());
                prop_assert_eq!(DaySet::parse(&days.to_string()), Ok(days), "display round-trips");
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("DAY"), "{}", msg);
                prop_assert!(short(&msg), "{}", msg);
            }
        }
    }

    #[test]
    fn valid_days_mean_what_the_reference_says(
        items in prop::collection::vec(day_item(), 1..6),
        seps in prop::collection::vec(prop::sample::select(vec![",", " ", ", ", " ,", ",,", "\t"]), 6),
    ) {
        let text = items.iter().zip(&seps).map(|((t, _), sep)| format!("{t}{sep}")).collect::<String>();
        let expected: BTreeSet<usize> = items.iter().flat_map(|(_, d)| d.iter().copied()).collect();
        let parsed = DaySet::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let got: BTreeSet<usize> = (0..7).filter(|i| parsed.contains(WEEK[*i])).collect();
        prop_assert_eq!(got, expected, "{:?}", text);
    }

    #[test]
    fn windows_parse_or_name_the_window(s in text()) {
        match Windows::parse(&s) {
            Ok(windows) => {
                prop_assert!(!windows.0.is_empty());
                for w in windows.0 {
                    prop_assert!(w.start < 1440 && (1..=1440).contains(&w.length), "{:?}", w);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with("TIME"), "{}", msg);
                prop_assert!(short(&msg), "{}", msg);
            }
        }
    }

    #[test]
    fn valid_windows_mean_what_the_reference_says(items in prop::collection::vec(window_item(), 1..4)) {
        let text = items.iter().map(|(t, _)| t.as_str()).collect::<Vec<_>>().join(" , ");
        let parsed = Windows::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        let expected: Vec<Window> = items.iter().map(|(_, (start, length))| Window { start: *start, length: *length }).collect();
        prop_assert_eq!(parsed.0, expected, "{:?}", text);
    }

    #[test]
    fn windows_separated_by_spaces_or_commas_mean_the_same(
        items in prop::collection::vec(window_item(), 1..4),
        seps in prop::collection::vec(prop::sample::select(vec![",", " , ", " ", "   "]), 3),
    ) {
        let text = items.iter().zip(&seps).map(|((t, _), sep)| format!("{t}{sep}")).collect::<String>();
        let expected: Vec<Window> = items.iter().map(|(_, (start, length))| Window { start: *start, length: *length }).collect();
        let parsed = Windows::parse(&text).map_err(|e| TestCaseError::fail(format!("{text:?}: {e}")))?;
        prop_assert_eq!(&parsed.0, &expected, "{:?}", text);
        // The form a load balancer accepts means the same.
        let form = restricted_form(&text);
        prop_assert_eq!(refusal(&form), None, "{:?}", form);
        prop_assert_eq!(Windows::parse(&form).map(|w| w.0), Ok(expected), "{:?}", form);
    }

    #[test]
    fn days_in_the_restricted_form_mean_the_same(
        items in prop::collection::vec(day_item(), 1..5),
        seps in prop::collection::vec(prop::sample::select(vec![",", ", ", " ", " , "]), 5),
    ) {
        let text = items.iter().zip(&seps).map(|((t, _), sep)| format!("{t}{sep}")).collect::<String>();
        let form = restricted_form(&text);
        prop_assert_eq!(refusal(&form), None, "{:?}", form);
        prop_assert_eq!(DaySet::parse(&form), DaySet::parse(&text), "{:?} / {:?}", text, form);
    }

    #[test]
    fn one_bad_tag_skips_the_instance_naming_that_tag(
        tag in prop::sample::select(vec!["DAY", "TIME", "TZ", "AUTOSTOP_HOLD_UNTIL", "AUTOSTOP_SKIP_DATES", "AUTOSTOP_MODE", "AUTOSTOP_HIBERNATE"]),
        value in tag_value(),
        base_zone in prop::sample::select(TZ_VARIANTS.to_vec()),
    ) {
        let mut tags: BTreeMap<String, String> = [
            ("AUTOSTOP_ENABLE", "true"), ("DAY", "월-금"), ("TIME", "9~18"), ("TZ", "Asia/Seoul"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T23:00:00+09:00"), ("AUTOSTOP_SKIP_DATES", "2026-12-25"),
            ("AUTOSTOP_MODE", "both"), ("AUTOSTOP_HIBERNATE", "false"),
        ].into_iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        tags.insert(tag.to_string(), value.clone());
        match classify(&tags, base_zone) {
            Classification::Managed(_) => {}
            Classification::Invalid(e) => {
                let msg = e.to_string();
                prop_assert!(msg.starts_with(tag), "{}={:?}: {}", tag, value, msg);
                prop_assert!(short(&msg), "{}", msg);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }

    #[test]
    fn every_zone_parses_in_any_letter_case(zone in prop::sample::select(TZ_VARIANTS.to_vec()), flips in prop::collection::vec(any::<bool>(), 40)) {
        let name: String = zone.name().chars().zip(flips.iter().cycle())
            .map(|(c, f)| if *f { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect();
        let parsed = parse_zone(&format!(" {name} ")).map(|z| z.name().to_ascii_lowercase());
        // Case-insensitively equal names (a few aliases differ only in case) may resolve to
        // either spelling; what matters is that a zone is found and it is the same name.
        prop_assert_eq!(parsed, Some(zone.name().to_ascii_lowercase()));
    }

    #[test]
    fn dates_round_trip(days in prop::collection::btree_set(0i64..100_000, 0..10), seps in prop::collection::vec(prop::sample::select(vec![",", ", ", " ", " , "]), 10)) {
        let base = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let dates: BTreeSet<NaiveDate> = days.iter().map(|d| base + Duration::days(*d)).collect();
        let text = dates.iter().zip(&seps).map(|(d, s)| format!("{d}{s}")).collect::<String>();
        prop_assert_eq!(parse_dates(&text), Ok(dates));
    }
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_tags_never_panic(
        tags in prop::collection::btree_map(
            prop_oneof![
                prop::sample::select(vec!["AUTOSTOP_ENABLE", "DAY", "TIME", "TZ", "AUTOSTOP_HOLD_UNTIL",
                    "AUTOSTOP_SKIP_DATES", "AUTOSTOP_MODE", "AUTOSTOP_HIBERNATE", "aws:autoscaling:groupName"])
                    .prop_map(str::to_string),
                "\\PC{0,10}",
            ],
            tag_value(),
            0..10,
        ),
    ) {
        if let Classification::Invalid(e) = classify(&tags, Tz::UTC) {
            prop_assert!(short(&e.to_string()));
        }
    }
}

#[test]
fn zone_names_are_found_as_written() {
    for zone in TZ_VARIANTS {
        assert_eq!(parse_zone(zone.name()), Some(zone), "{}", zone.name());
    }
}
