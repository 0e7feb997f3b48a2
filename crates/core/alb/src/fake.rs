//! In-memory load balancers, alias records and snapshots implementing the [`crate::ports`], for
//! the unit tests of the five steps (feature `fake`, dev-dependencies only: no function ships
//! it). It keeps what a step would change in AWS, so a test asserts on that state, and it can be
//! told to fail any operation with a given error.

use std::cell::RefCell;
use std::collections::BTreeMap;

use crate::discovery::{LiveAlb, Stored};
use crate::ports::{
    AlbInfo, AlbTarget, Albs, Created, RecordKind, RecordState, Records, Snapshots,
};
use crate::snapshot::{KeyValue, ListenerSnapshot, SNAPSHOT_VERSION};
use crate::{AlbError, AlbEvent, AlbSnapshot, ErrorKind};

/// A record in the fake zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FakeRecord {
    /// An alias to this DNS name.
    Alias(String),
    /// Anything else, as the event would describe it (`a CNAME record with x`).
    Other(String),
}

/// What the fake account holds.
#[derive(Debug, Default)]
pub struct State {
    /// ALBs by name: what the workflow sees, and their configuration (as a snapshot would hold it).
    pub albs: BTreeMap<String, (AlbInfo, AlbSnapshot)>,
    /// Records by (zone, domain, kind).
    pub records: BTreeMap<(String, String, RecordKind), FakeRecord>,
    /// Snapshots by (bucket, key).
    pub snapshots: BTreeMap<(String, String), AlbSnapshot>,
    /// Operations (AWS API names) that fail, with their error.
    pub failing: BTreeMap<&'static str, AlbError>,
    /// Snapshots that cannot be read, by (bucket, ALB name), with why.
    pub unreadable: BTreeMap<(String, String), String>,
    /// Every operation called, in order.
    pub calls: Vec<&'static str>,
    made: u32,
}

/// The fake account.
#[derive(Debug, Default)]
pub struct FakeAccount {
    state: RefCell<State>,
}

impl FakeAccount {
    /// An empty account.
    pub fn new() -> FakeAccount {
        FakeAccount::default()
    }

    /// Reads or changes the state (set up a test, assert on its end).
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.borrow_mut())
    }

    /// Makes `operation` (e.g. `DeleteLoadBalancer`) fail with `error` from now on.
    pub fn fail(&self, operation: &'static str, error: AlbError) {
        self.with(|s| s.failing.insert(operation, error));
    }

    /// An ALB called `name`, as CreateALB would make it from `event`; returns it.
    pub fn add_alb(&self, event: &AlbEvent) -> AlbInfo {
        self.with(|s| {
            make(
                s,
                &event.alb_name,
                event.ip_address_type.as_aws(),
                config(event),
            )
        })
    }

    /// Records `operation` and answers its failure, if one was set.
    fn call(&self, operation: &'static str) -> Result<(), AlbError> {
        self.with(|s| {
            s.calls.push(operation);
            s.failing.get(operation).cloned().map_or(Ok(()), Err)
        })
    }
}

fn make(state: &mut State, name: &str, ip: &str, mut config: AlbSnapshot) -> AlbInfo {
    state.made += 1;
    let n = state.made;
    let info = AlbInfo {
        arn: format!("arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:loadbalancer/app/{name}/{n:016x}"),
        dns_name: format!("{name}-{n}.ap-northeast-2.elb.amazonaws.com"),
        canonical_hosted_zone_id: "ZWKZPGTI48KDX".into(),
        scheme: config.scheme.clone(),
        ip_address_type: ip.into(),
        subnets: config.subnets.clone(),
        security_groups: config.security_groups.clone(),
    };
    config.alb_arn = info.arn.clone();
    state.albs.insert(name.into(), (info.clone(), config));
    info
}

/// The configuration an ALB made from `event` has: one listener per target group.
fn config(event: &AlbEvent) -> AlbSnapshot {
    AlbSnapshot {
        version: SNAPSHOT_VERSION,
        alb_name: event.alb_name.clone(),
        taken_at: String::new(),
        alb_arn: String::new(),
        scheme: event.scheme.as_aws().into(),
        ip_address_type: event.ip_address_type.as_aws().into(),
        subnets: event.subnets.clone(),
        security_groups: event.security_groups.clone(),
        listeners: event
            .target_groups
            .iter()
            .map(|tg| ListenerSnapshot {
                port: tg.port,
                protocol: tg.protocol.as_aws().into(),
                ssl_policy: None,
                certificate_arn: tg.certificate_arn.clone(),
                extra_certificate_arns: vec![],
                default_actions: vec![],
                rules: vec![],
            })
            .collect(),
        attributes: vec![],
        // A Name tag, and the tags the event was made from.
        tags: std::iter::once(("Name".to_string(), event.alb_name.clone()))
            .chain(event.tags.clone().unwrap_or_default())
            .map(|(key, value)| KeyValue { key, value })
            .collect(),
    }
}

impl Albs for FakeAccount {
    async fn find(&self, name: &str) -> Result<Option<AlbInfo>, AlbError> {
        self.call("DescribeLoadBalancers")?;
        Ok(self.with(|s| s.albs.get(name).map(|(info, _)| info.clone())))
    }

    async fn create(
        &self,
        event: &AlbEvent,
        snapshot: Option<&AlbSnapshot>,
    ) -> Result<Created, AlbError> {
        self.call("CreateLoadBalancer")?;
        Ok(self.with(|s| {
            if let Some((info, _)) = s.albs.get(&event.alb_name) {
                return Created {
                    alb: info.clone(),
                    created: false,
                    listeners_created: 0,
                    rules_created: 0,
                };
            }
            let config = snapshot.cloned().unwrap_or_else(|| config(event));
            let listeners_created = config.listeners.len();
            let rules_created = config.listeners.iter().map(|l| l.rules.len()).sum();
            let ip = config.ip_address_type.clone();
            Created {
                alb: make(s, &event.alb_name, &ip, config),
                created: true,
                listeners_created,
                rules_created,
            }
        }))
    }

    async fn snapshot(
        &self,
        alb: &AlbInfo,
        name: &str,
        taken_at: &str,
    ) -> Result<AlbSnapshot, AlbError> {
        self.call("DescribeListeners")?;
        self.with(|s| match s.albs.get(name) {
            Some((info, config)) if info.arn == alb.arn => Ok(AlbSnapshot {
                taken_at: taken_at.into(),
                ..config.clone()
            }),
            _ => Err(AlbError::new(
                ErrorKind::AwsError,
                format!("DescribeListeners: LoadBalancerNotFound: {}", alb.arn),
            )),
        })
    }

    async fn all(&self) -> Result<Vec<LiveAlb>, AlbError> {
        self.call("DescribeLoadBalancers")?;
        self.call("DescribeTags")?;
        Ok(self.with(|s| {
            s.albs
                .iter()
                .map(|(name, (info, config))| LiveAlb {
                    name: name.clone(),
                    application: true,
                    info: info.clone(),
                    tags: config
                        .tags
                        .iter()
                        .map(|t| (t.key.clone(), t.value.clone()))
                        .collect(),
                })
                .collect()
        }))
    }

    async fn delete(&self, arn: &str) -> Result<bool, AlbError> {
        self.call("DeleteLoadBalancer")?;
        Ok(self.with(|s| {
            let before = s.albs.len();
            s.albs.retain(|_, (info, _)| info.arn != arn);
            s.albs.len() < before
        }))
    }
}

impl Records for FakeAccount {
    type Record = (String, RecordKind);

    async fn state(
        &self,
        zone: &str,
        domain: &str,
        kind: RecordKind,
        target: &AlbTarget<'_>,
    ) -> Result<RecordState<Self::Record>, AlbError> {
        self.call("ListResourceRecordSets")?;
        Ok(self.with(|s| state_of(s, zone, domain, kind, target)))
    }

    async fn upsert(
        &self,
        zone: &str,
        domain: &str,
        kinds: &[RecordKind],
        target: &AlbTarget<'_>,
    ) -> Result<bool, AlbError> {
        self.call("ChangeResourceRecordSets")?;
        self.with(|s| {
            let mut changes = Vec::new();
            for &kind in kinds {
                match state_of(s, zone, domain, kind, target) {
                    RecordState::Ours(_) => {}
                    RecordState::Missing | RecordState::Stale { .. } => changes.push(kind),
                    RecordState::Elsewhere(what) => {
                        return Err(AlbError::new(
                            ErrorKind::RecordConflict,
                            format!(
                                "{} {domain} is {what}, not this ALB's: left alone",
                                kind.name()
                            ),
                        ))
                    }
                }
            }
            for kind in &changes {
                let alias = FakeRecord::Alias(target.dns_name.to_string());
                s.records.insert((zone.into(), domain.into(), *kind), alias);
            }
            Ok(!changes.is_empty())
        })
    }

    async fn delete(&self, zone: &str, records: Vec<Self::Record>) -> Result<(), AlbError> {
        if records.is_empty() {
            return Ok(());
        }
        self.call("ChangeResourceRecordSets")?;
        self.with(|s| {
            for (domain, kind) in records {
                s.records.remove(&(zone.to_string(), domain, kind));
            }
        });
        Ok(())
    }
}

fn state_of(
    state: &State,
    zone: &str,
    domain: &str,
    kind: RecordKind,
    target: &AlbTarget<'_>,
) -> RecordState<(String, RecordKind)> {
    let key = (zone.to_string(), domain.to_string(), kind);
    match state.records.get(&key) {
        None => RecordState::Missing,
        Some(FakeRecord::Alias(dns)) if dns.eq_ignore_ascii_case(target.dns_name) => {
            RecordState::Ours((domain.into(), kind))
        }
        Some(FakeRecord::Alias(dns)) if dns.starts_with(&format!("{}-", target.name)) => {
            RecordState::Stale {
                record: (domain.into(), kind),
                alias: dns.clone(),
            }
        }
        Some(FakeRecord::Alias(dns)) => RecordState::Elsewhere(format!("an alias to {dns}")),
        Some(FakeRecord::Other(what)) => RecordState::Elsewhere(what.clone()),
    }
}

impl Snapshots for FakeAccount {
    async fn load(&self, bucket: &str, alb_name: &str) -> Result<Option<AlbSnapshot>, AlbError> {
        self.call("GetObject")?;
        let key = AlbSnapshot::key(alb_name);
        Ok(self.with(|s| s.snapshots.get(&(bucket.to_string(), key)).cloned()))
    }

    async fn save(&self, bucket: &str, snapshot: &AlbSnapshot) -> Result<String, AlbError> {
        self.call("PutObject")?;
        let key = AlbSnapshot::key(&snapshot.alb_name);
        self.with(|s| {
            s.snapshots
                .insert((bucket.to_string(), key.clone()), snapshot.clone())
        });
        Ok(key)
    }

    async fn all(&self, bucket: &str) -> Result<Vec<Stored>, AlbError> {
        self.call("ListObjectsV2")?;
        Ok(self.with(|s| {
            let read = s
                .snapshots
                .iter()
                .filter(|((b, _), _)| b == bucket)
                .map(|(_, snapshot)| Stored::Read(snapshot.clone()));
            let unreadable =
                s.unreadable
                    .iter()
                    .filter(|((b, _), _)| b == bucket)
                    .map(|((_, name), error)| Stored::Unreadable {
                        alb_name: name.clone(),
                        error: error.clone(),
                    });
            read.chain(unreadable).collect()
        }))
    }
}

/// The event of `events/alb-input.json` (dev-alb, 9–18 Asia/Seoul, two listeners, a bucket for
/// snapshots) at `now` (RFC 3339), with `changes` merged in: what the steps' tests start from.
pub fn event(now: &str, changes: serde_json::Value) -> AlbEvent {
    let mut event = serde_json::json!({
        "albName": "dev-alb", "startTime": 9, "endTime": 18, "now": now,
        "subnets": ["subnet-0aaa1111aaaa1111a", "subnet-0bbb2222bbbb2222b"],
        "securityGroups": ["sg-0ccc3333cccc3333c"],
        "hostedZoneId": "Z0123456789EXAMPLE", "domainName": "dev.example.com",
        "targetGroups": [
            {"targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/web/0123456789abcdef",
             "listenerProtocol": "HTTP", "listenerPort": 80},
            {"targetGroupArn": "arn:aws:elasticloadbalancing:ap-northeast-2:123456789012:targetgroup/web/0123456789abcdef",
             "listenerProtocol": "HTTPS", "listenerPort": 443}
        ],
        "certificateArn": "arn:aws:acm:ap-northeast-2:123456789012:certificate/11111111-2222-3333-4444-555555555555",
        "snapshotBucket": "lightsout-snapshots"
    });
    if let (Some(event), serde_json::Value::Object(changes)) = (event.as_object_mut(), changes) {
        for (key, value) in changes {
            match value {
                serde_json::Value::Null => event.remove(&key),
                value => event.insert(key, value),
            };
        }
    }
    AlbEvent::parse(&event, chrono::Utc::now()).unwrap_or_else(|e| panic!("the test's event: {e}"))
}

/// The key of `event`'s alias record of `kind` in [`State::records`].
pub fn record_key(event: &AlbEvent, kind: RecordKind) -> (String, String, RecordKind) {
    let record = event
        .record
        .as_ref()
        .expect("the test's event has a record");
    (
        record.hosted_zone_id.clone(),
        record.domain_name.clone(),
        kind,
    )
}

/// A per-ALB event as the discovery step makes it, with `tags` (the schedule 9-18 and no record
/// unless they say otherwise) and no target groups: the listeners come from the snapshot.
pub fn tagged_event(now: &str, tags: serde_json::Value) -> AlbEvent {
    let mut all = serde_json::json!({"AUTOSTOP_ENABLE": "true", "TIME": "9-18"});
    if let (Some(all), serde_json::Value::Object(tags)) = (all.as_object_mut(), tags) {
        all.extend(tags);
    }
    event(
        now,
        serde_json::json!({
            "startTime": null, "endTime": null, "hostedZoneId": null, "domainName": null,
            "targetGroups": null, "certificateArn": null, "tags": all
        }),
    )
}

/// 10:00 on a Wednesday in Seoul: within 9–18.
pub const WORKING_HOURS: &str = "2026-11-25T10:00:00+09:00";
/// 20:00 on the same Wednesday: outside 9–18.
pub const NIGHT: &str = "2026-11-25T20:00:00+09:00";
