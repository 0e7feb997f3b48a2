//! Property tests: parsers never panic on any input, and hour-form schedules agree with a
//! brute-force reference that marks a 7 × 24 grid of (weekday, hour) cells.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Datelike, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use lightsout_schedule::{classify, AutostopEvent, DaySet, Schedule, Settings, Windows};
use proptest::prelude::*;

const ZONES: [Tz; 5] = [
    Tz::UTC,
    Tz::Asia__Seoul,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::Australia__Lord_Howe, // half-hour DST shift
];

fn day_names() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "월",
        "화",
        "수",
        "목",
        "금",
        "토",
        "일",
        "월요일",
        "mon",
        "TUE",
        "Wednesday",
        "thu",
        "fri",
        "sat",
        "sun",
        "weekdays",
        "주말",
        "daily",
        "-",
        "~",
        ",",
        " ",
        "mon-fri",
        "fri-mon",
        "x",
    ])
    .prop_map(str::to_string)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn parsers_never_panic_on_any_string(s in "\\PC{0,40}") {
        let _ = DaySet::parse(&s);
        let _ = Windows::parse(&s);
        let _ = AutostopEvent::parse(&serde_json::json!({"time": s, "dryRun": s}));
        let _ = Settings::from_lookup(|_| Some(s.clone()));
        let tags: BTreeMap<String, String> = ["AUTOSTOP_ENABLE", "DAY", "TIME", "TZ", "AUTOSTOP_HOLD_UNTIL",
            "AUTOSTOP_SKIP_DATES", "AUTOSTOP_MODE", "AUTOSTOP_HIBERNATE"]
            .iter()
            .map(|k| (k.to_string(), if *k == "AUTOSTOP_ENABLE" { "true".into() } else { s.clone() }))
            .collect();
        let _ = classify(&tags, Tz::UTC);
    }

    #[test]
    fn time_grammar_like_strings_never_panic(s in "[0-9:~\\-, ～]{0,24}") {
        let _ = Windows::parse(&s);
    }

    #[test]
    fn day_grammar_like_strings_never_panic(parts in prop::collection::vec(day_names(), 0..8)) {
        let _ = DaySet::parse(&parts.concat());
    }

    #[test]
    fn any_json_event_never_panics(v in json_value()) {
        let _ = AutostopEvent::parse(&v);
        let _ = AutostopEvent::parse(&serde_json::json!({"time": v.clone(), "now": v.clone(), "dryRun": v}));
    }

    #[test]
    fn hour_windows_agree_with_brute_force_grid(
        day_mask in 1u8..128,
        windows in prop::collection::vec((0u32..24, 0u32..24), 1..4),
        zone in prop::sample::select(ZONES.to_vec()),
        seconds in 1_577_836_800i64..1_893_456_000, // 2020..2030
    ) {
        let days = DaySet::parse(
            &["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
                .iter()
                .enumerate()
                .filter(|(i, _)| day_mask & (1 << i) != 0)
                .map(|(_, d)| *d)
                .collect::<Vec<_>>()
                .join(","),
        )
        .unwrap();
        let text = windows.iter().map(|(a, b)| format!("{a}~{b}")).collect::<Vec<_>>().join(",");
        let schedule = Schedule { days, windows: Windows::parse(&text).unwrap(), zone };

        let mut grid = [[false; 24]; 7];
        for day in 0..7usize {
            if day_mask & (1 << day) == 0 {
                continue;
            }
            for &(start, end) in &windows {
                if start <= end {
                    (start..=end).for_each(|h| grid[day][h as usize] = true);
                } else {
                    (start..24).for_each(|h| grid[day][h as usize] = true);
                    (0..=end).for_each(|h| grid[(day + 1) % 7][h as usize] = true);
                }
            }
        }

        let instant: DateTime<Utc> = Utc.timestamp_opt(seconds, 0).unwrap();
        let local = instant.with_timezone(&zone);
        let expected = grid[local.weekday().num_days_from_monday() as usize][local.hour() as usize];
        let actual = schedule.active_at(instant, &BTreeSet::new()).is_some();
        prop_assert_eq!(actual, expected, "{} at {} ({})", text, local, zone);
    }
}

fn json_value() -> impl Strategy<Value = serde_json::Value> {
    use serde_json::Value;
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,30}".prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::btree_map("(time|now|dryRun|[a-z]{1,5})", inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}
