//! Which load balancers the workflow runs for: every Application Load Balancer tagged
//! `AUTOSTOP_ENABLE=true`, every sleeping one (deleted for the night, its snapshot in the bucket
//! keeps its tags), and the single ALB of the stack's `Alb*` parameters ([`with_single`]). One
//! per-ALB event each, the reasons for any left out.
//!
//! Each per-ALB event is checked here with [`AlbEvent::parse`], the very check every state makes,
//! so an ALB whose tags cannot be read is reported once, by name, and never enters the workflow.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;
use serde_json::{json, Map, Value};

use lightsout_schedule::policy::{is_enabled, TAG_ENABLE};

pub use crate::ports::{LiveAlb, Stored};
use crate::{AlbEvent, AlbSnapshot};

/// The tags a per-ALB event carries: the schedule's and the record's. The others (`Name`, a team's
/// own) stay on the ALB and in its snapshot; leaving them out keeps each event small (Step
/// Functions passes at most 256 KB between states, the whole list included).
pub fn is_schedule_tag(key: &str) -> bool {
    matches!(key, "DAY" | "TIME" | "TZ")
        || key.starts_with("AUTOSTOP_")
        || key.starts_with("lightsout:")
}

/// What discovery needs besides the load balancers.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    /// The bucket the snapshots are saved to and restored from.
    pub snapshot_bucket: String,
    /// The zone of an ALB without a `TZ` tag (the stack's `SCHEDULE_TIMEZONE`).
    pub default_zone: Tz,
    /// The discovery event's `now` and `time`, passed on: every ALB is decided at the same instant.
    pub now: Option<String>,
    /// The scheduled time of the run (EventBridge's `time`).
    pub time: Option<String>,
    /// The clock, for the check of each event when the run names no time.
    pub clock: DateTime<Utc>,
    /// The records tagged ALBs may have (the stack's `AlbRecordZones` and `AlbRecordNames`);
    /// `None`: not checked (the CLI, a run by hand).
    pub records: Option<AllowedRecords>,
}

/// The alias records tagged ALBs may point at themselves, as the Route 53 functions' roles allow
/// them: a zone of `zones`, a name that one of `names` matches as IAM's `StringLike` matches
/// Route 53's normalized record name (lower case, no trailing dot, `*` written `\052`; in a
/// pattern `*` is any run of characters, `?` any one). An ALB whose record tags name anything
/// else is left out with the reason, rather than failing every night on a refused record change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedRecords {
    /// Hosted zone ids, bare (`Z0123456789EXAMPLE`).
    pub zones: Vec<String>,
    /// Record name patterns (`*.dev.example.com`).
    pub names: Vec<String>,
}

impl AllowedRecords {
    /// From the comma-separated settings (`RECORD_ZONES`, `RECORD_NAMES`); blanks are dropped.
    pub fn from_lists(zones: &str, names: &str) -> AllowedRecords {
        let split = |list: &str| {
            list.split(',')
                .map(|v| v.trim().trim_start_matches("/hostedzone/").to_string())
                .filter(|v| !v.is_empty())
                .collect()
        };
        AllowedRecords {
            zones: split(zones),
            names: split(names),
        }
    }

    /// Why `record` may not be changed by the stack's roles, if it may not.
    pub fn refusal(&self, record: &crate::AliasRecord) -> Option<String> {
        let name = record
            .domain_name
            .trim_end_matches('.')
            .to_ascii_lowercase()
            .replace('*', "\\052");
        if self.zones.is_empty() || self.names.is_empty() {
            return Some(format!(
                "its record {name} is in no zone the stack allows: the stack's AlbRecordZones and \
                 AlbRecordNames are not both set (or remove its lightsout:domain and \
                 lightsout:hosted-zone tags)"
            ));
        }
        if !self.zones.contains(&record.hosted_zone_id) {
            return Some(format!(
                "its record's hosted zone {} is not one of the stack's AlbRecordZones ({})",
                record.hosted_zone_id,
                self.zones.join(", ")
            ));
        }
        if !self.names.iter().any(|pattern| string_like(pattern, &name)) {
            return Some(format!(
                "its record {name} matches none of the stack's AlbRecordNames ({})",
                self.names.join(", ")
            ));
        }
        None
    }
}

/// IAM's `StringLike`: `*` matches any run of characters (none included), `?` any one character,
/// everything else itself, case-sensitively.
fn string_like(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    // The classic two-pointer match with backtracking to the last `*`.
    let (mut i, mut j, mut star, mut mark) = (0, 0, None, 0);
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some(i);
            mark = j;
            i += 1;
        } else if let Some(s) = star {
            i = s + 1;
            mark += 1;
            j = mark;
        } else {
            return false;
        }
    }
    p[i..].iter().all(|c| *c == '*')
}

/// A load balancer left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// Its name.
    pub alb_name: String,
    /// Why it was left out.
    pub reason: String,
}

/// What discovery found: the discovery step's output, whose `albs` the state machine's Map
/// state runs the per-ALB workflow over.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Discovered {
    /// The per-ALB event of each load balancer the workflow runs for, by name.
    pub albs: Vec<Value>,
    /// The names of those found awake (a live load balancer).
    pub awake: Vec<String>,
    /// The names of those found asleep (only their snapshot).
    pub asleep: Vec<String>,
    /// Those left out, by name.
    pub skipped: Vec<Skipped>,
    /// Load balancers and snapshots without `AUTOSTOP_ENABLE=true` (never touched, not listed).
    pub untagged: usize,
}

/// Whether an ALB was found awake or asleep.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Found {
    Awake,
    Asleep,
}

/// Puts the single-ALB input (the seed's event, from the stack's `Alb*` parameters) first in the
/// list, exactly as given: the per-ALB workflow validates it and notifies a bad one, as it always
/// has. A discovered ALB of the same name is left out (the single input runs it): an ALB is never
/// run twice in one execution.
pub fn with_single(mut found: Discovered, single: Value) -> Discovered {
    if let Some(name) = single.get("albName").and_then(Value::as_str) {
        if let Some(at) = found.albs.iter().position(|e| e["albName"] == name) {
            found.albs.remove(at);
            found.awake.retain(|n| n != name);
            found.asleep.retain(|n| n != name);
            found.skipped.push(Skipped {
                alb_name: name.to_string(),
                reason: "run by the single-ALB input (the stack's AlbName) instead of its tags"
                    .into(),
            });
        }
    }
    found.albs.insert(0, single);
    found
}

/// Decides, for every load balancer and every snapshot, whether the workflow runs for it.
pub fn discover(live: &[LiveAlb], stored: &[Stored], context: &Context) -> Discovered {
    let mut out = Discovered::default();
    let live_by_name: BTreeMap<&str, &LiveAlb> =
        live.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut snapshots: BTreeMap<&str, &AlbSnapshot> = BTreeMap::new();
    let mut unreadable: BTreeMap<&str, &str> = BTreeMap::new();
    for s in stored {
        match s {
            Stored::Read(snapshot) => {
                snapshots.insert(snapshot.alb_name.as_str(), snapshot);
            }
            Stored::Unreadable { alb_name, error } => {
                unreadable.insert(alb_name.as_str(), error.as_str());
            }
        }
    }
    let names: BTreeSet<&str> = live_by_name
        .keys()
        .chain(snapshots.keys())
        .chain(unreadable.keys())
        .copied()
        .collect();
    for name in names {
        let snapshot = snapshots.get(name).copied();
        let snapshot_tagged = snapshot.is_some_and(|s| is_enabled(tag_of(&s.tags, TAG_ENABLE)));
        let skip = |reason: String| Skipped {
            alb_name: name.to_string(),
            reason,
        };
        match live_by_name.get(name) {
            Some(alb) if !is_enabled(alb.tags.get(TAG_ENABLE).map(String::as_str)) => {
                if snapshot_tagged {
                    out.skipped.push(skip(format!(
                        "a load balancer of this name without {TAG_ENABLE}=true is live, and a \
                         snapshot of one with it is in the bucket: left alone (tag the live one, or \
                         delete the snapshot)"
                    )));
                } else {
                    out.untagged += 1;
                }
            }
            Some(alb) if !alb.application => out.skipped.push(skip(format!(
                "tagged {TAG_ENABLE}=true, but not an Application Load Balancer: only those are \
                 scheduled"
            ))),
            Some(alb) => {
                let event = awake_event(alb, context);
                admit(&mut out, name, Found::Awake, event, context);
            }
            None => match (snapshot, unreadable.get(name)) {
                (_, Some(error)) => out.skipped.push(skip(format!(
                    "its snapshot cannot be read: {error}; it is not restored until it can be"
                ))),
                // A snapshot of a load balancer run by the single-ALB input: not ours to find.
                (Some(_), None) if !snapshot_tagged => out.untagged += 1,
                (Some(s), None) if s.subnets.is_empty() => out.skipped.push(skip(
                    "its snapshot names no subnets (taken before lightsout saved them): restore it \
                     once with the single-ALB input, which names them"
                        .into(),
                )),
                (Some(s), None) => {
                    let event = asleep_event(s, context);
                    admit(&mut out, name, Found::Asleep, event, context);
                }
                (None, None) => {}
            },
        }
    }
    out
}

fn tag_of<'a>(tags: &'a [crate::snapshot::KeyValue], key: &str) -> Option<&'a str> {
    tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
}

/// Checks `event` as every state will (and its record against the records the stack allows),
/// and lists it or says why not.
fn admit(out: &mut Discovered, name: &str, found: Found, event: Value, context: &Context) {
    let reason = match AlbEvent::parse(&event, context.clock) {
        Err(error) => Some(
            error
                .message
                .trim_start_matches("invalid input: ")
                .to_string(),
        ),
        Ok(parsed) => parsed
            .record
            .as_ref()
            .zip(context.records.as_ref())
            .and_then(|(record, allowed)| allowed.refusal(record)),
    };
    match reason {
        Some(reason) => out.skipped.push(Skipped {
            alb_name: name.to_string(),
            reason,
        }),
        None => {
            out.albs.push(event);
            match found {
                Found::Awake => out.awake.push(name.to_string()),
                Found::Asleep => out.asleep.push(name.to_string()),
            }
        }
    }
}

fn awake_event(alb: &LiveAlb, context: &Context) -> Value {
    let tags = alb
        .tags
        .iter()
        .filter(|(k, _)| is_schedule_tag(k))
        .map(|(k, v)| (k.clone(), Value::String(v.clone())));
    event(
        &alb.name,
        tags.collect(),
        &alb.info.subnets,
        &alb.info.security_groups,
        &alb.info.scheme,
        &alb.info.ip_address_type,
        context,
    )
}

fn asleep_event(snapshot: &AlbSnapshot, context: &Context) -> Value {
    let tags = snapshot
        .tags
        .iter()
        .filter(|t| is_schedule_tag(&t.key))
        .map(|t| (t.key.clone(), Value::String(t.value.clone())));
    event(
        &snapshot.alb_name,
        tags.collect(),
        &snapshot.subnets,
        &snapshot.security_groups,
        &snapshot.scheme,
        &snapshot.ip_address_type,
        context,
    )
}

fn event(
    name: &str,
    tags: Map<String, Value>,
    subnets: &[String],
    security_groups: &[String],
    scheme: &str,
    ip_address_type: &str,
    context: &Context,
) -> Value {
    let mut event = json!({
        "albName": name,
        "tags": tags,
        "subnets": subnets,
        "securityGroups": security_groups,
        "scheme": scheme,
        "ipAddressType": ip_address_type,
        "snapshotBucket": context.snapshot_bucket,
        "timezone": context.default_zone.name(),
    });
    for (key, value) in [("now", &context.now), ("time", &context.time)] {
        if let Some(value) = value {
            event[key] = Value::String(value.clone());
        }
    }
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::AlbInfo;
    use crate::snapshot::{KeyValue, SNAPSHOT_VERSION};

    fn context() -> Context {
        Context {
            snapshot_bucket: "lightsout-snapshots".into(),
            default_zone: Tz::Asia__Seoul,
            now: Some("2026-11-25T20:00:00+09:00".into()),
            time: None,
            clock: "2026-11-25T00:00:00Z".parse().unwrap(),
            records: None,
        }
    }

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn live(name: &str, pairs: &[(&str, &str)]) -> LiveAlb {
        LiveAlb {
            name: name.into(),
            application: true,
            info: AlbInfo {
                arn: format!("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/{name}/1"),
                dns_name: format!("{name}-1.r.elb.amazonaws.com"),
                canonical_hosted_zone_id: "ZWKZPGTI48KDX".into(),
                scheme: "internal".into(),
                ip_address_type: "dualstack".into(),
                subnets: vec!["subnet-a".into(), "subnet-b".into()],
                security_groups: vec!["sg-a".into()],
            },
            tags: tags(pairs),
        }
    }

    fn snapshot(name: &str, pairs: &[(&str, &str)]) -> Stored {
        Stored::Read(AlbSnapshot {
            version: SNAPSHOT_VERSION,
            alb_name: name.into(),
            taken_at: "2026-11-24T19:00:00+09:00".into(),
            alb_arn: format!("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/{name}/0"),
            scheme: "internet-facing".into(),
            ip_address_type: "ipv4".into(),
            subnets: vec!["subnet-c".into(), "subnet-d".into()],
            security_groups: vec![],
            listeners: vec![],
            attributes: vec![],
            tags: pairs
                .iter()
                .map(|(k, v)| KeyValue {
                    key: k.to_string(),
                    value: v.to_string(),
                })
                .collect(),
        })
    }

    const ON: (&str, &str) = ("AUTOSTOP_ENABLE", "true");
    const HOURS: (&str, &str) = ("TIME", "9-18");

    #[test]
    fn an_awake_tagged_alb_gets_an_event_from_itself() {
        let found = discover(
            &[live(
                "dev",
                &[ON, HOURS, ("TZ", "Europe/Berlin"), ("Name", "dev web")],
            )],
            &[],
            &context(),
        );
        assert_eq!(found.albs.len(), 1);
        assert!(found.skipped.is_empty());
        assert_eq!(
            (found.awake.as_slice(), found.asleep.len()),
            (&["dev".to_string()][..], 0)
        );
        let event = &found.albs[0];
        assert_eq!(event["albName"], "dev");
        assert_eq!(event["subnets"], json!(["subnet-a", "subnet-b"]));
        assert_eq!(event["scheme"], "internal");
        assert_eq!(event["ipAddressType"], "dualstack");
        assert_eq!(event["now"], "2026-11-25T20:00:00+09:00");
        assert_eq!(event.get("time"), None);
        // Only the schedule's tags travel in the event.
        assert_eq!(
            event["tags"],
            json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18", "TZ": "Europe/Berlin"})
        );
        let parsed = AlbEvent::parse(event, context().clock).unwrap();
        assert_eq!(parsed.schedule.zone, Tz::Europe__Berlin);
        assert_eq!(
            parsed.snapshot_bucket.as_deref(),
            Some("lightsout-snapshots")
        );
    }

    #[test]
    fn a_sleeping_alb_is_found_by_its_snapshot_and_made_where_it_was() {
        let found = discover(&[], &[snapshot("qa", &[ON, HOURS])], &context());
        assert_eq!(found.albs.len(), 1);
        assert_eq!(found.asleep, ["qa"]);
        let event = &found.albs[0];
        assert_eq!(event["subnets"], json!(["subnet-c", "subnet-d"]));
        assert_eq!(event["scheme"], "internet-facing");
        assert_eq!(event["timezone"], "Asia/Seoul");
    }

    #[test]
    fn an_awake_alb_with_its_last_snapshot_is_one_awake_alb() {
        let found = discover(
            &[live("dev", &[ON, HOURS])],
            &[snapshot("dev", &[ON, HOURS])],
            &context(),
        );
        assert_eq!(found.albs.len(), 1);
        assert_eq!(
            (found.awake, found.asleep),
            (vec!["dev".to_string()], vec![])
        );
    }

    #[test]
    fn untagged_albs_and_single_input_snapshots_are_never_listed() {
        let found = discover(
            &[
                live("prod", &[("Name", "prod")]),
                live("spaces", &[("AUTOSTOP_ENABLE", " true"), HOURS]),
            ],
            &[snapshot("seed-alb", &[("Name", "seed")])],
            &context(),
        );
        assert!(found.albs.is_empty() && found.skipped.is_empty());
        assert_eq!(found.untagged, 3);
    }

    #[test]
    fn every_alb_left_out_is_named_with_its_reason() {
        let mut nlb = live("nlb", &[ON, HOURS]);
        nlb.application = false;
        let found = discover(
            &[
                live("bad-time", &[ON, ("TIME", "9~25")]),
                live("no-time", &[ON]),
                live(
                    "half-record",
                    &[ON, HOURS, ("lightsout:domain", "dev.example.com")],
                ),
                live("retagged", &[("Name", "someone else's")]),
                nlb,
            ],
            &[
                snapshot("retagged", &[ON, HOURS]),
                Stored::Unreadable {
                    alb_name: "broken".into(),
                    error: "s3://b/k: not JSON".into(),
                },
                {
                    let Stored::Read(mut old) = snapshot("old", &[ON, HOURS]) else {
                        unreachable!()
                    };
                    old.subnets.clear();
                    Stored::Read(old)
                },
            ],
            &context(),
        );
        assert!(found.albs.is_empty(), "{:?}", found.albs);
        let reasons: BTreeMap<&str, &str> = found
            .skipped
            .iter()
            .map(|s| (s.alb_name.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(reasons.len(), 7, "{reasons:?}");
        assert!(reasons["bad-time"].starts_with("tags: TIME: `25` in `9~25` is not a time"));
        assert!(
            reasons["no-time"].starts_with("tags: TIME"),
            "{}",
            reasons["no-time"]
        );
        assert!(reasons["half-record"].contains("go together"));
        assert!(
            reasons["retagged"].contains("is live, and a snapshot of one with it is in the bucket")
        );
        assert!(reasons["nlb"].contains("not an Application Load Balancer"));
        assert!(reasons["broken"].contains("its snapshot cannot be read: s3://b/k: not JSON"));
        assert!(reasons["old"].contains("names no subnets"));
    }

    #[test]
    fn the_single_input_goes_first_as_given_and_is_never_run_twice() {
        let found = discover(
            &[live("dev-alb", &[ON, HOURS]), live("qa", &[ON, HOURS])],
            &[],
            &context(),
        );
        let single = json!({"albName": "dev-alb", "startTime": 9, "endTime": 18, "anything": [1]});
        let found = with_single(found, single.clone());
        assert_eq!(found.albs.len(), 2);
        assert_eq!(found.albs[0], single);
        assert_eq!(found.albs[1]["albName"], "qa");
        assert_eq!(found.awake, ["qa"]);
        assert_eq!(found.skipped[0].alb_name, "dev-alb");
        assert!(found.skipped[0]
            .reason
            .starts_with("run by the single-ALB input"));
        // Even an input that is no ALB event goes on: the workflow refuses and notifies it.
        let odd = with_single(Discovered::default(), json!("not an event"));
        assert_eq!(odd.albs, [json!("not an event")]);
    }

    #[test]
    fn the_same_instant_for_every_alb() {
        let mut context = context();
        context.now = None;
        context.time = Some("2026-11-25T11:00:00Z".into());
        let found = discover(
            &[live("a", &[ON, HOURS]), live("b", &[ON, HOURS])],
            &[snapshot("c", &[ON, HOURS])],
            &context,
        );
        let names: Vec<&str> = found
            .albs
            .iter()
            .filter_map(|e| e["albName"].as_str())
            .collect();
        assert_eq!(names, ["a", "b", "c"]);
        assert!(found
            .albs
            .iter()
            .all(|e| e["time"] == "2026-11-25T11:00:00Z" && e.get("now").is_none()));
    }

    #[test]
    fn string_like_is_iams() {
        for (pattern, text, matches) in [
            ("*.dev.example.com", "qa.dev.example.com", true),
            ("*.dev.example.com", "a.b.dev.example.com", true),
            ("*.dev.example.com", "dev.example.com", false),
            ("*.dev.example.com", "\\052.dev.example.com", true),
            ("dev.example.com", "dev.example.com", true),
            ("dev.example.com", "dev.example.co", false),
            ("qa?.example.com", "qa1.example.com", true),
            ("qa?.example.com", "qa.example.com", false),
            ("*", "", true),
            ("a*b*c", "aXXbYYc", true),
            ("a*b*c", "aXXbYY", false),
            ("", "a", false),
        ] {
            assert_eq!(string_like(pattern, text), matches, "{pattern} / {text}");
        }
    }

    #[test]
    fn an_alb_whose_record_the_stack_may_not_change_is_left_out_with_the_reason() {
        let record = |domain: &str, zone: &str| {
            [
                ("lightsout:domain", domain.to_string()),
                ("lightsout:hosted-zone", zone.to_string()),
            ]
        };
        let with = |name: &str, extra: [(&str, String); 2]| {
            let mut alb = live(name, &[ON, HOURS]);
            alb.tags.extend(extra.map(|(k, v)| (k.to_string(), v)));
            alb
        };
        let albs = [
            with("ok", record("qa.dev.example.com", "Z0ALLOWED")),
            with("zone", record("qa.dev.example.com", "Z0OTHER")),
            with("name", record("www.example.com", "Z0ALLOWED")),
            live("none", &[ON, HOURS]),
        ];
        let mut context = context();
        context.records = Some(AllowedRecords::from_lists(
            " /hostedzone/Z0ALLOWED ,",
            "*.dev.example.com,dev.example.com",
        ));
        let found = discover(&albs, &[], &context);
        assert_eq!(found.awake, ["none", "ok"]);
        let reasons: Vec<(&str, &str)> = found
            .skipped
            .iter()
            .map(|s| (s.alb_name.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(
            reasons,
            [
                ("name", "its record www.example.com matches none of the stack's AlbRecordNames (*.dev.example.com, dev.example.com)"),
                ("zone", "its record's hosted zone Z0OTHER is not one of the stack's AlbRecordZones (Z0ALLOWED)"),
            ]
        );
        // A stack that allows no record leaves out every ALB with record tags, and says how.
        context.records = Some(AllowedRecords::from_lists("", ""));
        let found = discover(&albs, &[], &context);
        assert_eq!(found.awake, ["none"]);
        assert!(found.skipped.iter().all(|s| s
            .reason
            .contains("AlbRecordZones and AlbRecordNames are not both set")));
        // Unchecked (the CLI): every one is listed.
        context.records = None;
        assert_eq!(discover(&albs, &[], &context).albs.len(), 4);
    }
}
