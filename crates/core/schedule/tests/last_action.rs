//! Property tests of the `lightsout:last-action` tag: every value written reads back as written and
//! fits EC2's limit; any string is read without panicking; and the "start did not hold" period test
//! agrees with the wanted-state decision sampled every 15 seconds.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use lightsout_schedule::last_action::{running_at, wanted_running_throughout, MAX_VALUE_CHARS};
use lightsout_schedule::{
    classify, wanted_state, Cause, Classification, Done, LastAction, Policy, Wanted,
};
use proptest::prelude::*;

const ZONES: [Tz; 7] = [
    Tz::UTC,
    Tz::Asia__Seoul,
    Tz::Europe__Berlin,
    Tz::America__New_York,
    Tz::America__St_Johns,    // -03:30 / -02:30
    Tz::Asia__Kathmandu,      // +05:45
    Tz::Australia__Lord_Howe, // half-hour DST shift
];

fn done() -> impl Strategy<Value = Done> {
    prop::sample::select(vec![Done::Started, Done::Stopped, Done::Hibernated])
}

fn cause() -> impl Strategy<Value = Cause> {
    prop_oneof![
        Just(Cause::Schedule),
        // What the API accepts as an Idempotency-Key (and so as a request id)…
        "[A-Za-z0-9._:-]{1,128}".prop_map(Cause::Request),
        // …and anything else, spaces and other scripts included.
        "\\PC{1,300}".prop_map(Cause::Request),
    ]
}

/// 1972 (every zone's offset whole minutes) to 2100.
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    (63_072_000i64..4_102_444_800, 0u32..1_000_000_000)
        .prop_map(|(s, ns)| Utc.timestamp_opt(s, ns).unwrap())
}

fn policy(
    time: &str,
    day: &str,
    zone: Tz,
    hold: Option<DateTime<Utc>>,
    skip: Option<NaiveDate>,
) -> Policy {
    let mut tags = BTreeMap::from([
        ("AUTOSTOP_ENABLE".to_string(), "true".to_string()),
        ("TIME".to_string(), time.to_string()),
        ("DAY".to_string(), day.to_string()),
        ("TZ".to_string(), zone.name().to_string()),
    ]);
    if let Some(hold) = hold {
        tags.insert("AUTOSTOP_HOLD_UNTIL".into(), hold.to_rfc3339());
    }
    if let Some(skip) = skip {
        tags.insert("AUTOSTOP_SKIP_DATES".into(), skip.to_string());
    }
    match classify(&tags, Tz::UTC) {
        Classification::Managed(p) => *p,
        other => panic!("{other:?}"),
    }
}

const TIMES: [&str; 9] = [
    "9~18",
    "09:00~11:59,12:00~18:00", // one stopped minute at 11:59
    "09:30~18:00",
    "22~2",
    "0~23",
    "9~11,12~18",
    "9~11,14:00~16:00",
    "23:59~00:01",
    "1~3",
];
const DAYS: [&str; 5] = ["daily", "mon-fri", "weekends", "fri", "sun,tue"];

/// Instants on 15-second steps around 2026, where the reference samples.
fn step(base: i64, steps: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(base + steps * 15, 0).unwrap()
}

const BASE: i64 = 1_773_999_960; // 2026-03-20, a whole minute, a week before Europe's spring-forward

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn values_read_back_as_written_and_fit_the_limit(
        done in done(), at in instant(), zone in prop::sample::select(ZONES.to_vec()), cause in cause(),
    ) {
        let action = LastAction::new(done, at, zone, cause.clone());
        let value = action.value();
        prop_assert!(value.chars().count() <= MAX_VALUE_CHARS, "{} chars", value.chars().count());
        // To the minute, not after the action.
        let when = action.at.with_timezone(&Utc);
        prop_assert!(when <= at && at - when < Duration::minutes(1), "{} for {}", when, at);
        let back = LastAction::parse(&value).unwrap();
        prop_assert_eq!(back.value(), value.clone());
        let fits = match &cause {
            Cause::Request(id) => value.ends_with(id.as_str()),
            Cause::Schedule => true,
        };
        if fits {
            prop_assert_eq!(back, action);
        } else {
            prop_assert_eq!((back.done, back.at), (action.done, action.at));
            prop_assert_eq!(value.chars().count(), MAX_VALUE_CHARS);
        }
    }

    #[test]
    fn any_string_is_read_without_panic(s in "\\PC{0,80}", t in "(started|stopped|hibernated) [0-9T:+\\-Z]{0,30} (schedule|request ?.{0,5})") {
        let _ = LastAction::parse(&s);
        let _ = LastAction::parse(&t);
    }

    #[test]
    fn running_at_is_the_decision(
        time in prop::sample::select(TIMES.to_vec()), day in prop::sample::select(DAYS.to_vec()),
        zone in prop::sample::select(ZONES.to_vec()), hold in prop::option::of(0i64..40_000),
        skip in prop::option::of(0u64..14), holiday in prop::option::of(0u64..14), at in 0i64..80_000,
    ) {
        let date = |d: u64| NaiveDate::from_ymd_opt(2026, 3, 20).unwrap() + chrono::Days::new(d);
        let p = policy(time, day, zone, hold.map(|h| step(BASE, h)), skip.map(date));
        let holidays: BTreeSet<NaiveDate> = holiday.map(date).into_iter().collect();
        let skipped: BTreeSet<NaiveDate> = p.skip_dates.union(&holidays).copied().collect();
        let t = step(BASE, at);
        prop_assert_eq!(running_at(&p, t, &skipped), wanted_state(&p, t, &holidays).0 == Wanted::Running);
    }

    #[test]
    fn running_throughout_agrees_with_sampling_every_15_seconds(
        time in prop::sample::select(TIMES.to_vec()), day in prop::sample::select(DAYS.to_vec()),
        zone in prop::sample::select(ZONES.to_vec()), hold in prop::option::of(0i64..60_000),
        skip in prop::option::of(0u64..14), from in 0i64..50_000, span in 0i64..1_500,
    ) {
        let date = |d: u64| NaiveDate::from_ymd_opt(2026, 3, 20).unwrap() + chrono::Days::new(d);
        let p = policy(time, day, zone, hold.map(|h| step(BASE, h)), skip.map(date));
        let holidays = BTreeSet::new();
        // A tag's time is a whole minute; the decision time any 15-second step after it.
        let from = from - from % 4;
        let expected = (from..=from + span)
            .all(|s| wanted_state(&p, step(BASE, s), &holidays).0 == Wanted::Running);
        prop_assert_eq!(
            wanted_running_throughout(&p, step(BASE, from), step(BASE, from + span), &holidays),
            expected
        );
    }
}
