//! Discovery over generated accounts: any mix of live load balancers (tagged or not, readable
//! tags or not, Application or not) and snapshots (of tagged ALBs or not, readable or not, with
//! subnets or not), in the forms ELB accepts and others.
//!
//! Properties: every name found ends in exactly one place (run, left out with a reason, or counted
//! untagged); no ALB is run twice; nothing without `AUTOSTOP_ENABLE=true` is ever run; every event
//! it lists passes the check every state makes; awake and asleep split what is run.
//!
//! Case counts are bounded for CI (see `config`); set `PROPTEST_CASES` for longer local runs.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use lightsout_alb::discovery::{discover, Context, LiveAlb, Stored};
use lightsout_alb::ports::AlbInfo;
use lightsout_alb::snapshot::{KeyValue, SNAPSHOT_VERSION};
use lightsout_alb::{AlbEvent, AlbSnapshot};
use lightsout_fuzz::config;
use proptest::prelude::*;

const NAMES: [&str; 6] = ["dev", "qa", "staging", "demo", "web-1", "api"];

fn clock() -> DateTime<Utc> {
    "2026-11-25T00:00:00Z".parse().unwrap()
}

/// A set of tags: `AUTOSTOP_ENABLE` in several spellings or absent, a TIME that reads or not,
/// record tags whole, half or absent.
fn tags() -> impl Strategy<Value = BTreeMap<String, String>> {
    let enable = prop::sample::select(vec![
        Some("true"),
        Some("TRUE"),
        Some("false"),
        Some(" true"),
        None,
    ]);
    let time = prop::sample::select(vec![
        Some("9-18"),
        Some("9-12 13-18"),
        Some("9~18"),
        Some("9-25"),
        None,
    ]);
    let record = prop::sample::select(vec![0u8, 1, 2, 3]);
    (enable, time, record).prop_map(|(enable, time, record)| {
        let mut tags = BTreeMap::from([("Name".to_string(), "x".to_string())]);
        if let Some(e) = enable {
            tags.insert("AUTOSTOP_ENABLE".into(), e.into());
        }
        if let Some(t) = time {
            tags.insert("TIME".into(), t.into());
        }
        if record & 1 == 1 {
            tags.insert("lightsout:domain".into(), "dev.example.com".into());
        }
        if record & 2 == 2 {
            tags.insert("lightsout:hosted-zone".into(), "Z0123456789EXAMPLE".into());
        }
        tags
    })
}

fn live(name: &str, tags: BTreeMap<String, String>, application: bool) -> LiveAlb {
    LiveAlb {
        name: name.into(),
        application,
        info: AlbInfo {
            arn: format!("arn:aws:elbv2:r:1:loadbalancer/app/{name}/1"),
            dns_name: format!("{name}.elb.test"),
            canonical_hosted_zone_id: "ZWKZPGTI48KDX".into(),
            scheme: "internet-facing".into(),
            ip_address_type: "ipv4".into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec![],
        },
        tags,
    }
}

fn stored(name: &str, tags: BTreeMap<String, String>, subnets: bool, readable: bool) -> Stored {
    if !readable {
        return Stored::Unreadable {
            alb_name: name.into(),
            error: "not JSON".into(),
        };
    }
    Stored::Read(AlbSnapshot {
        version: SNAPSHOT_VERSION,
        alb_name: name.into(),
        taken_at: String::new(),
        alb_arn: String::new(),
        scheme: "internal".into(),
        ip_address_type: "ipv4".into(),
        subnets: if subnets {
            vec!["subnet-c".into(), "subnet-d".into()]
        } else {
            vec![]
        },
        security_groups: vec![],
        listeners: vec![],
        attributes: vec![],
        tags: tags
            .into_iter()
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
    })
}

type Account = (Vec<LiveAlb>, Vec<Stored>);

/// An account: each name live or not, and with a snapshot or not.
fn account() -> impl Strategy<Value = Account> {
    let one = (
        any::<bool>(),
        tags(),
        any::<bool>(),
        any::<bool>(),
        tags(),
        any::<bool>(),
        any::<bool>(),
    );
    prop::collection::vec(one, NAMES.len()).prop_map(|names| {
        let (mut albs, mut snapshots) = (Vec::new(), Vec::new());
        for (
            i,
            (is_live, live_tags, application, has_snapshot, snapshot_tags, subnets, readable),
        ) in names.into_iter().enumerate()
        {
            if is_live {
                albs.push(live(NAMES[i], live_tags, application));
            }
            if has_snapshot {
                snapshots.push(stored(NAMES[i], snapshot_tags, subnets, readable));
            }
        }
        (albs, snapshots)
    })
}

fn context() -> Context {
    Context {
        snapshot_bucket: "lightsout-snapshots".into(),
        default_zone: Tz::Asia__Seoul,
        now: None,
        time: Some("2026-11-25T11:00:00Z".into()),
        clock: clock(),
        records: None,
    }
}

fn enabled(tags: &BTreeMap<String, String>) -> bool {
    tags.get("AUTOSTOP_ENABLE")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

proptest! {
    #![proptest_config(config(2000))]

    #[test]
    fn every_name_ends_in_one_place_and_only_tagged_albs_run((live, stored) in account()) {
        let found = discover(&live, &stored, &context());
        let run: Vec<&str> = found.albs.iter().map(|e| e["albName"].as_str().unwrap()).collect();
        let skipped: Vec<&str> = found.skipped.iter().map(|s| s.alb_name.as_str()).collect();
        let names: BTreeSet<&str> = live
            .iter()
            .map(|a| a.name.as_str())
            .chain(stored.iter().map(|s| match s {
                Stored::Read(snapshot) => snapshot.alb_name.as_str(),
                Stored::Unreadable { alb_name, .. } => alb_name.as_str(),
            }))
            .collect();
        // Each name once: run, left out, or untagged.
        prop_assert_eq!(run.len() + skipped.len() + found.untagged, names.len(), "{:?}", found);
        let both: BTreeSet<&str> = run.iter().chain(&skipped).copied().collect();
        prop_assert_eq!(both.len(), run.len() + skipped.len(), "a name in two places: {:?}", found);
        for reason in &found.skipped {
            prop_assert!(!reason.reason.is_empty());
        }
        // Run only what opts in: a live ALB by its own tags, a sleeping one by its snapshot's.
        for event in &found.albs {
            let name = event["albName"].as_str().unwrap();
            match live.iter().find(|a| a.name == name) {
                Some(alb) => prop_assert!(alb.application && enabled(&alb.tags), "{name}"),
                None => {
                    let snapshot = stored.iter().find_map(|s| match s {
                        Stored::Read(snapshot) if snapshot.alb_name == name => Some(snapshot),
                        _ => None,
                    });
                    let tags: BTreeMap<String, String> = snapshot
                        .map(|s| s.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect())
                        .unwrap_or_default();
                    prop_assert!(enabled(&tags), "{name} runs without AUTOSTOP_ENABLE");
                }
            }
            prop_assert!(AlbEvent::parse(event, clock()).is_ok(), "{event}");
        }
        // Untagged, as a reference written apart from discovery counts it: a live ALB without
        // the tag (unless a tagged snapshot of its name says someone removed it: that is said), or
        // only a snapshot of an untagged one (the single-ALB input's).
        let snapshot_of = |name: &str| stored.iter().find_map(|s| match s {
            Stored::Read(snapshot) if snapshot.alb_name == name => Some(snapshot),
            _ => None,
        });
        let snapshot_enabled = |name: &str| snapshot_of(name).is_some_and(|s| {
            enabled(&s.tags.iter().map(|t| (t.key.clone(), t.value.clone())).collect())
        });
        let untagged = names
            .iter()
            .filter(|name| match live.iter().find(|a| a.name == **name) {
                Some(alb) => !enabled(&alb.tags) && !snapshot_enabled(name),
                None => snapshot_of(name).is_some() && !snapshot_enabled(name),
            })
            .count();
        prop_assert_eq!(found.untagged, untagged, "{:?}", found);
        // Awake and asleep split what runs.
        let mut split: Vec<&str> = found.awake.iter().chain(&found.asleep).map(String::as_str).collect();
        split.sort_unstable();
        let mut sorted = run.clone();
        sorted.sort_unstable();
        prop_assert_eq!(split, sorted);
    }
}
