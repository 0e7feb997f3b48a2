//! Fuzzing the ALB event contract (`AlbEvent::parse`, what all five state functions run first)
//! with proptest: arbitrary JSON, mutations of a valid event, generated valid events.
//!
//! Properties: nothing panics; a refusal is always `InvalidInput`, names the field, and stays
//! short whatever the input; valid events round-trip to what was generated; fields the contract
//! does not know are carried and change nothing.
//!
//! Case counts are bounded for CI (see `config`); set `PROPTEST_CASES` for longer local runs.

use chrono::{DateTime, Utc};
use chrono_tz::TZ_VARIANTS;
use lightsout_alb::event::{FIELDS, TARGET_GROUP_FIELDS};
use lightsout_alb::{set, AlbEvent, IpAddressType, Protocol, Scheme, TimeSource};
use lightsout_fuzz::{config, json_tree, nested, TreeSize};
use lightsout_schedule::event::near_miss;
use lightsout_schedule::DaySet;
use proptest::prelude::*;
use serde_json::{json, Value};

/// The longest message (characters): ten problems of at most a few hundred characters each.
const MAX_MESSAGE: usize = 4096;

fn clock() -> DateTime<Utc> {
    "2026-11-25T00:00:00Z".parse().unwrap()
}

/// The pieces of the event's values that `text` mixes in.
#[rustfmt::skip]
const WORDS: &[&str] = &[
    "월", "금", "월요일", "mon", "fri", "-", "~", ",", " ", ":", "9", "18", "09:30", "24:00", "arn:",
    ":targetgroup/", ":certificate/", ":loadbalancer/app/", "subnet-", "Z", "/hostedzone/", ".",
    "example.com", "Asia/Seoul", "2026-11-25", "T09:00:00+09:00", "\u{0}", "🕘",
];

/// Any text, with the pieces the event's values are made of.
fn text() -> BoxedStrategy<String> {
    lightsout_fuzz::text(WORDS)
}

/// An object key: the event's fields and the target groups' fields, or anything.
fn key() -> BoxedStrategy<String> {
    let fields = [FIELDS.as_slice(), TARGET_GROUP_FIELDS.as_slice()].concat();
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
        // Up to 100 KB here; the unit tests feed 5 MB to every field.
        1 => (0usize..100_000).prop_map(|n| Value::String("9".repeat(n))),
        1 => (0usize..300).prop_map(nested),
        1 => (0usize..5_000).prop_map(|n| Value::Array(vec![json!(1); n])),
    ]
}

/// A valid event, and what it must parse to.
#[derive(Debug, Clone)]
struct Valid {
    doc: Value,
    name: String,
    zone: chrono_tz::Tz,
    days: Option<DaySet>,
    ports: Vec<(u16, Protocol)>,
    zone_id: String,
    domain: String,
    scheme: Scheme,
    ip: IpAddressType,
    now: Option<DateTime<Utc>>,
}

fn valid() -> impl Strategy<Value = Valid> {
    (
        "[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?".prop_filter("reserved prefix", |n| !n.starts_with("internal-")),
        (0u32..24, 0u32..24),
        prop::option::of(prop::sample::select(vec!["mon-fri", "월-금", "weekends", "sat,sun", "daily", "화,목"])),
        prop::sample::select(TZ_VARIANTS.to_vec()),
        prop::collection::btree_map(1u16..=65535, any::<bool>(), 1..4),
        "[A-Z0-9]{1,32}",
        "[a-z][a-z0-9-]{0,20}(\\.[a-z][a-z0-9-]{0,20}){1,3}",
        any::<bool>(),
        any::<bool>(),
        prop::option::of(0i64..4_102_444_800),
    )
        .prop_map(|(name, (start, end), days, zone, ports, zone_id, domain, internal, dual, now)| {
            let target_groups: Vec<Value> = ports
                .iter()
                .map(|(port, https)| {
                    json!({"targetGroupArn": "arn:aws:elasticloadbalancing:r:1:targetgroup/a/1",
                           "listenerProtocol": if *https { "HTTPS" } else { "http" }, "listenerPort": port})
                })
                .collect();
            let now = now.map(|s| DateTime::from_timestamp(s, 0).unwrap());
            let mut doc = json!({
                "albName": name, "startTime": start, "endTime": end.to_string(),
                "subnets": ["subnet-a", "subnet-b"], "securityGroups": ["sg-1"],
                "hostedZoneId": format!("/hostedzone/{zone_id}"), "domainName": domain.to_uppercase(),
                "targetGroups": target_groups, "certificateArn": "arn:aws:acm:r:1:certificate/c",
                "timezone": zone.name(), "scheme": if internal { "INTERNAL" } else { "internet-facing" },
                "ipAddressType": if dual { "dualstack" } else { "" }, "albArn": "", "albDNSName": "",
            });
            if let Some(d) = days {
                doc["days"] = json!(d);
            }
            if let Some(n) = now {
                doc["now"] = json!(n.to_rfc3339());
            }
            Valid {
                doc,
                name,
                zone,
                days: days.map(|d| DaySet::parse(d).unwrap()),
                ports: ports
                    .into_iter()
                    .map(|(p, h)| (p, if h { Protocol::Https } else { Protocol::Http }))
                    .collect(),
                zone_id,
                domain: format!("{domain}."),
                scheme: if internal { Scheme::Internal } else { Scheme::InternetFacing },
                ip: if dual { IpAddressType::Dualstack } else { IpAddressType::Ipv4 },
                now,
            }
        })
}

fn check_refusal(result: &Result<AlbEvent, lightsout_alb::AlbError>) -> Option<String> {
    let e = result.as_ref().err()?;
    assert_eq!(e.error_type(), "InvalidInput");
    assert!(
        e.message.chars().count() <= MAX_MESSAGE,
        "{} characters",
        e.message.chars().count()
    );
    assert!(
        e.message.starts_with("invalid input: ") || e.message.starts_with("event: "),
        "{}",
        &e.message
    );
    Some(e.message.clone())
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn any_json_is_refused_as_invalid_input_or_parsed(v in json_value()) {
        let result = AlbEvent::parse(&v, clock());
        check_refusal(&result);
    }

    #[test]
    fn any_object_is_refused_by_field_or_parsed(fields in prop::collection::btree_map(key(), json_value(), 0..12)) {
        let v = Value::Object(fields.into_iter().collect());
        if let Some(msg) = check_refusal(&AlbEvent::parse(&v, clock())) {
            prop_assert!(msg.starts_with("invalid input: "), "{}", msg);
        }
    }

    #[test]
    fn valid_events_round_trip(valid in valid()) {
        let e = AlbEvent::parse(&valid.doc, clock()).map_err(|e| TestCaseError::fail(format!("{}: {}", valid.doc, e.message)))?;
        prop_assert_eq!(&e.alb_name, &valid.name);
        prop_assert_eq!(e.schedule.zone, valid.zone);
        prop_assert_eq!(e.schedule.days, valid.days.unwrap_or(DaySet::EVERY_DAY));
        prop_assert_eq!(e.schedule.windows.0.len(), 1);
        let ports: Vec<(u16, Protocol)> = e.target_groups.iter().map(|t| (t.port, t.protocol)).collect();
        prop_assert_eq!(ports, valid.ports);
        prop_assert!(e.target_groups.iter().all(|t| t.certificate_arn.is_some()));
        let record = e.record.as_ref().expect("the single-ALB input always has a record");
        prop_assert_eq!(&record.hosted_zone_id, &valid.zone_id);
        prop_assert_eq!(&record.domain_name, &valid.domain);
        prop_assert_eq!((e.scheme, e.ip_address_type), (valid.scheme, valid.ip));
        match valid.now {
            Some(now) => prop_assert_eq!((e.decision_time, e.time_source), (now, TimeSource::Now)),
            None => prop_assert_eq!((e.decision_time, e.time_source), (clock(), TimeSource::Clock)),
        }
    }

    #[test]
    fn mutated_valid_events_are_refused_naming_the_field(
        valid in valid(),
        field in prop::sample::select(FIELDS.to_vec()),
        mutation in 0u8..6,
        junk in json_value(),
    ) {
        let mut doc = valid.doc.clone();
        let map = doc.as_object_mut().unwrap();
        match mutation {
            0 => { map.remove(field); }
            1 => { map.insert(field.into(), junk); }
            2 => { map.insert(field.into(), json!("")); }
            3 => { map.insert(field.into(), json!("Z".repeat(100_000))); }
            4 => { map.insert(field.into(), nested(120)); }
            _ => { map.insert(field.into(), json!(7)); }
        }
        if let Some(msg) = check_refusal(&AlbEvent::parse(&doc, clock())) {
            prop_assert!(msg.contains(field), "{} not named in {}", field, msg);
        }
    }

    #[test]
    fn mutated_target_groups_are_refused_naming_the_entry(
        valid in valid(),
        field in prop::sample::select(TARGET_GROUP_FIELDS.to_vec()),
        junk in json_value(),
        drop in any::<bool>(),
    ) {
        let mut doc = valid.doc.clone();
        let entry = doc["targetGroups"][0].as_object_mut().unwrap();
        if drop { entry.remove(field); } else { entry.insert(field.into(), junk); }
        if let Some(msg) = check_refusal(&AlbEvent::parse(&doc, clock())) {
            // Named at this entry, or (a port now taken twice) at the later one.
            prop_assert!(msg.contains("targetGroups[") && msg.contains(field), "{}", msg);
        }
    }

    #[test]
    fn unknown_fields_are_carried_and_change_nothing(
        valid in valid(),
        extra in prop::collection::btree_map("[a-zA-Z가-힣_]{1,16}", json_value(), 1..4),
    ) {
        prop_assume!(extra.keys().all(|k| !FIELDS.contains(&k.as_str()) && near_miss(k, &FIELDS).is_none()));
        let mut doc = valid.doc.clone();
        for (k, v) in &extra {
            doc[k] = v.clone();
        }
        let plain = AlbEvent::parse(&valid.doc, clock()).unwrap();
        prop_assert_eq!(AlbEvent::parse(&doc, clock()).unwrap(), plain);
        set(&mut doc, "albExists", true);
        for (k, v) in &extra {
            prop_assert_eq!(&doc[k], v);
        }
    }

    #[test]
    fn near_misses_of_fields_are_refused(
        valid in valid(),
        field in prop::sample::select(FIELDS.to_vec()),
        upper in prop::collection::vec(any::<bool>(), 20),
        sep in prop::sample::select(vec!["", "_", "-"]),
        value in json_value(),
    ) {
        let key: String = field.chars().zip(&upper).enumerate()
            .map(|(i, (c, u))| {
                let c = if *u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() };
                if i == 1 { format!("{sep}{c}") } else { c.to_string() }
            })
            .collect();
        prop_assume!(key != field);
        let mut doc = valid.doc.clone();
        doc[&key] = value;
        let msg = check_refusal(&AlbEvent::parse(&doc, clock())).expect("refused");
        let expected = format!("{key}: not a field; did you mean {field}?");
        prop_assert!(msg.contains(&expected), "{}", msg);
    }
}

#[test]
fn ten_thousand_problems_make_one_short_message() {
    let mut doc = json!({"targetGroups": vec![json!({"listenerPort": "x"}); 10_000]});
    for i in 0..10_000 {
        doc[format!("note{i}")] = json!(1); // not near misses: carried
    }
    doc["subnet"] = json!(1); // a near miss
    let e = AlbEvent::parse(&doc, clock()).unwrap_err();
    assert!(e.message.chars().count() <= MAX_MESSAGE);
    assert!(
        e.message
            .contains("subnet: not a field; did you mean subnets?"),
        "{}",
        e.message
    );
    assert!(e.message.contains(" more"), "{}", e.message);
}
