//! One invocation: read the event, decide for every managed instance, act, tag what was done,
//! report.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use futures::stream::{self, StreamExt};
use serde_json::Value;
use tracing::{info, warn};

use lightsout_ec2::{Instances, Selector};
use lightsout_schedule::{
    assess, Action, Assessment, AutostopEvent, Cause, Done, EventError, Instance, LastAction,
    Settings, TAG_LAST_ACTION,
};

use crate::batch::{run_batched, CallError};
use crate::report::{Acted, Failed, NotHeld, Report, Skipped, TagFailed};

/// Errors the invocation ends with. Their `error_type` names are stable: Step Functions
/// `Retry`/`Catch` and alarms match on them.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    /// The event cannot be read: nothing was done.
    #[error("{0}")]
    InvalidEvent(#[from] EventError),
    /// A setting cannot be read (the message names the variable): nothing was done.
    #[error("{0}")]
    InvalidSettings(String),
    /// Some instances (or whole regions) failed; carries the full report (in the message as
    /// JSON, for whoever reads the failed invocation).
    #[error("{count} failure(s): {summary}; report: {}", serde_json::to_string(.report).unwrap_or_default())]
    ActionsFailed {
        /// How many failures: instances, and regions that could not be listed.
        count: usize,
        /// The first ten, as `<instance> (<action> in <region>: <error code>)`.
        summary: String,
        /// The whole report.
        report: Box<Report>,
    },
}

impl FunctionError {
    /// The stable name: `InvalidEvent`, `InvalidSettings` or `InstanceActionFailed`.
    pub fn error_type(&self) -> &'static str {
        match self {
            FunctionError::InvalidEvent(_) => "InvalidEvent",
            FunctionError::InvalidSettings(_) => "InvalidSettings",
            FunctionError::ActionsFailed { .. } => "InstanceActionFailed",
        }
    }
}

impl lightsout_runtime::Failure for FunctionError {
    fn error_type(&self) -> &str {
        FunctionError::error_type(self)
    }

    fn message(&self) -> String {
        self.to_string()
    }

    /// A run that failed for some instances still counts what it did.
    fn count(&self, metrics: &lightsout_runtime::Metrics) {
        if let FunctionError::ActionsFailed { report, .. } = self {
            lightsout_runtime::Counted::count(report.as_ref(), metrics);
        }
    }
}

/// How many regions are worked on at the same time: every commercial region of a typical account
/// fits in a few rounds, and each region's own calls stay sequential (within EC2's rate limits).
pub const REGIONS_AT_ONCE: usize = 8;

/// Handles one event against every region's EC2.
pub async fn handle<E: Instances>(
    event: &Value,
    settings: &Settings,
    regions: &[E],
    clock: DateTime<Utc>,
) -> Result<Report, FunctionError> {
    let event = AutostopEvent::parse(event)?;
    let (now, source) = event.decision_time(clock);
    let dry_run = event.dry_run.unwrap_or(settings.dry_run);
    let mut report = Report {
        decision_time: now.to_rfc3339_opts(SecondsFormat::Secs, true),
        decision_time_source: source,
        default_timezone: settings.default_zone.to_string(),
        dry_run,
        regions: regions.iter().map(|r| r.region().to_string()).collect(),
        started: vec![],
        stopped: vec![],
        unchanged: 0,
        skipped: vec![],
        failed: vec![],
        start_did_not_hold: vec![],
        tag_failed: vec![],
    };
    info!(decision_time = %report.decision_time, source = ?source, dry_run, regions = ?report.regions, "deciding");
    // Every region at once (at most REGIONS_AT_ONCE): the run takes as long as its slowest region,
    // not the sum of them, and a region that fails or is slow holds up no other. Each region
    // reports into a part of its own; the parts are joined in the regions' order.
    let header = report.clone();
    let parts: Vec<Report> = stream::iter(regions)
        .map(|ec2| {
            let mut part = header.clone();
            async move {
                run_region(ec2, settings, now, dry_run, &mut part).await;
                part
            }
        })
        .buffered(REGIONS_AT_ONCE)
        .collect()
        .await;
    for part in parts {
        report.absorb(part);
    }
    info!(
        started = report.started.len(),
        stopped = report.stopped.len(),
        unchanged = report.unchanged,
        skipped = report.skipped.len(),
        failed = report.failed.len(),
        start_did_not_hold = report.start_did_not_hold.len(),
        tag_failed = report.tag_failed.len(),
        "done"
    );
    if report.failed.is_empty() {
        return Ok(report);
    }
    let summary = report
        .failed
        .iter()
        .take(10)
        .map(|f| {
            format!(
                "{} ({} in {}: {})",
                f.instance_id.as_deref().unwrap_or("*"),
                f.action,
                f.region,
                f.error_code
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    Err(FunctionError::ActionsFailed {
        count: report.failed.len(),
        summary,
        report: Box::new(report),
    })
}

/// One instance to act on: why, and the zone its last-action tag is written in.
struct Item {
    instance: Instance,
    reason: String,
    zone: Tz,
}

/// The instances to start, and to stop (with or without hibernation), in one region.
#[derive(Default)]
struct Work {
    start: Vec<Item>,
    stop: Vec<Item>,
    hibernate: Vec<Item>,
}

/// An instance acted on, its zone and what was done: what its last-action tag says.
type Done_ = (String, Tz, Done);

async fn run_region<E: Instances>(
    ec2: &E,
    settings: &Settings,
    now: DateTime<Utc>,
    dry_run: bool,
    report: &mut Report,
) {
    let region = ec2.region().to_string();
    let instances = match ec2.instances(&Selector::Managed).await {
        Ok(instances) => instances,
        Err(e) => {
            warn!(
                region,
                error_code = e.code,
                error = e.message,
                "could not list instances"
            );
            report.failed.push(Failed {
                instance_id: None,
                region,
                action: "describe",
                error_code: e.code,
                error: e.message,
            });
            return;
        }
    };
    let work = decide(instances, settings, now, &region, report);
    let batch_size = settings.batch_size;
    let mut acted = start_all(ec2, work.start, batch_size, dry_run, report).await;
    acted.extend(stop_all(ec2, work.stop, false, batch_size, dry_run, report).await);
    acted.extend(stop_all(ec2, work.hibernate, true, batch_size, dry_run, report).await);
    if !dry_run {
        tag_all(ec2, acted, now, batch_size, report).await;
    }
}

/// Writes `lightsout:last-action` on every instance acted on: one CreateTags call per batch of
/// instances whose value is the same (same action, same UTC offset), so tagging costs at most
/// ⌈acted/batch⌉ calls per distinct value. A failure is reported and changes nothing else.
async fn tag_all<E: Instances>(
    ec2: &E,
    acted: Vec<Done_>,
    now: DateTime<Utc>,
    batch_size: usize,
    report: &mut Report,
) {
    let mut by_value: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (id, zone, done) in acted {
        let value = LastAction::new(done, now, zone, Cause::Schedule).value();
        by_value.entry(value).or_default().push(id);
    }
    let region = ec2.region();
    for (value, ids) in by_value {
        let (_, failed) = run_batched(&ids, batch_size, |chunk| {
            ec2.set_tag(chunk, TAG_LAST_ACTION, &value)
        })
        .await;
        for (id, error) in failed {
            warn!(
                instance_id = id,
                region,
                value,
                error_code = error.code,
                error = error.message,
                "last-action tag not set"
            );
            report.tag_failed.push(TagFailed {
                instance_id: id,
                region: region.to_string(),
                value: value.clone(),
                error_code: error.code,
                error: error.message,
            });
        }
    }
}

fn decide(
    instances: Vec<Instance>,
    settings: &Settings,
    now: DateTime<Utc>,
    region: &str,
    report: &mut Report,
) -> Work {
    let mut work = Work::default();
    for instance in instances {
        let decision = match assess(&instance, settings, now) {
            // Never act on an unmanaged instance, whatever the filter returned.
            Assessment::Unmanaged => continue,
            Assessment::Skipped { reason, bad_tags } => {
                if bad_tags {
                    warn!(
                        instance_id = instance.id,
                        region, reason, "skipped: bad tags"
                    );
                } else {
                    info!(instance_id = instance.id, region, reason, "skipped");
                }
                report.skipped.push(Skipped {
                    instance_id: instance.id.clone(),
                    region: region.to_string(),
                    reason,
                });
                continue;
            }
            Assessment::Decided {
                did_not_hold: Some(found),
                ..
            } => {
                let state_reason = found.state_reason.as_deref().unwrap_or("");
                warn!(
                    instance_id = instance.id,
                    region,
                    started = %found.started,
                    state_reason,
                    hint = found.hint,
                    "start did not hold: found stopped again; not started again while it stays due"
                );
                report.start_did_not_hold.push(NotHeld {
                    instance_id: instance.id.clone(),
                    region: region.to_string(),
                    name: instance.name(),
                    started_at: found.started.time(),
                    started_by: found.started.cause.to_string(),
                    state_reason: found.state_reason,
                    hint: found.hint.to_string(),
                });
                continue;
            }
            Assessment::Decided {
                plan,
                hibernate,
                zone,
                did_not_hold: None,
            } => (plan, hibernate, zone),
        };
        let (decision, hibernate, zone) = decision;
        let list = match decision.action {
            Action::Start => &mut work.start,
            Action::Stop if hibernate => &mut work.hibernate,
            Action::Stop => &mut work.stop,
            Action::Leave => {
                info!(instance_id = instance.id, region, state = ?instance.state, wanted = %decision.wanted, reason = decision.reason, "unchanged");
                report.unchanged += 1;
                continue;
            }
        };
        list.push(Item {
            instance,
            reason: decision.reason,
            zone,
        });
    }
    work
}

fn ids(items: &[Item]) -> Vec<String> {
    items.iter().map(|i| i.instance.id.clone()).collect()
}

/// Starts `items`; returns those started.
async fn start_all<E: Instances>(
    ec2: &E,
    items: Vec<Item>,
    batch_size: usize,
    dry_run: bool,
    report: &mut Report,
) -> Vec<Done_> {
    let (_, failed) =
        run_batched(&ids(&items), batch_size, |chunk| ec2.start(chunk, dry_run)).await;
    record(ec2.region(), items, failed, "start", None, report)
}

/// Stops (or hibernates) `items`; returns those stopped, each with what was done.
async fn stop_all<E: Instances>(
    ec2: &E,
    items: Vec<Item>,
    hibernate: bool,
    batch_size: usize,
    dry_run: bool,
    report: &mut Report,
) -> Vec<Done_> {
    let (_, mut failed) = run_batched(&ids(&items), batch_size, |chunk| {
        ec2.stop(chunk, hibernate, dry_run)
    })
    .await;
    // EC2 refuses hibernation for instances not configured for it: stop those normally instead.
    // Failures of the call itself (throttling, network) are not a refusal and stay failures.
    let mut notes = Vec::new();
    if hibernate && failed.iter().any(|(_, e)| !e.whole_call) {
        let (refused, call_failures): (Vec<_>, Vec<_>) = std::mem::take(&mut failed)
            .into_iter()
            .partition(|(_, e)| !e.whole_call);
        let retry: Vec<String> = refused.iter().map(|(id, _)| id.clone()).collect();
        let (_, still_failed) =
            run_batched(&retry, batch_size, |chunk| ec2.stop(chunk, false, dry_run)).await;
        for (id, why) in refused {
            if !still_failed.iter().any(|(f, _)| *f == id) {
                notes.push((
                    id,
                    format!(
                        "hibernation refused ({}: {}); stopped normally",
                        why.code, why.message
                    ),
                ));
            }
        }
        failed = call_failures;
        failed.extend(still_failed);
    }
    record(
        ec2.region(),
        items,
        failed,
        "stop",
        Some((hibernate, notes)),
        report,
    )
}

/// Files each instance under `started`/`stopped` or `failed`, with one log line per action.
/// Returns the instances acted on, with what was done.
fn record(
    region: &str,
    items: Vec<Item>,
    failed: Vec<(String, CallError)>,
    action: &'static str,
    stop: Option<(bool, Vec<(String, String)>)>,
    report: &mut Report,
) -> Vec<Done_> {
    let mut done = Vec::new();
    for Item {
        instance,
        reason,
        zone,
    } in items
    {
        if let Some((_, error)) = failed.iter().find(|(id, _)| *id == instance.id) {
            warn!(
                instance_id = instance.id,
                region,
                action,
                error_code = error.code,
                error = error.message,
                reason,
                "failed"
            );
            report.failed.push(Failed {
                instance_id: Some(instance.id.clone()),
                region: region.to_string(),
                action,
                error_code: error.code.clone(),
                error: error.message.clone(),
            });
            continue;
        }
        let note = stop
            .as_ref()
            .and_then(|(_, notes)| notes.iter().find(|(id, _)| *id == instance.id))
            .map(|(_, n)| n.clone());
        let hibernated = stop.as_ref().map(|(h, _)| *h && note.is_none());
        info!(
            instance_id = instance.id,
            region,
            action,
            hibernated,
            note,
            reason,
            "{}",
            if action == "start" {
                "started"
            } else {
                "stopped"
            }
        );
        done.push((
            instance.id.clone(),
            zone,
            match hibernated {
                None => Done::Started,
                Some(true) => Done::Hibernated,
                Some(false) => Done::Stopped,
            },
        ));
        let acted = Acted {
            instance_id: instance.id.clone(),
            region: region.to_string(),
            name: instance.name(),
            reason,
            hibernated,
            note,
        };
        if action == "start" {
            report.started.push(acted);
        } else {
            report.stopped.push(acted);
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_schedule::{InstanceState, Wanted};
    use lightsout_sdk::AwsError;
    use serde_json::json;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// An in-memory EC2 that records calls; ids in `refuse_hibernation` reject `hibernate`,
    /// ids in `broken` reject everything, ids in `untaggable` reject tags (as a terminated
    /// instance would), and `throttle_tags` throttles every CreateTags call.
    #[derive(Default)]
    struct FakeEc2 {
        instances: Vec<Instance>,
        refuse_hibernation: Vec<&'static str>,
        broken: Vec<&'static str>,
        untaggable: Vec<&'static str>,
        throttle_hibernation: bool,
        throttle_tags: bool,
        calls: RefCell<Vec<String>>,
    }

    impl Instances for FakeEc2 {
        fn region(&self) -> &str {
            "ap-northeast-2"
        }
        async fn instances(&self, selector: &Selector) -> Result<Vec<Instance>, AwsError> {
            assert_eq!(*selector, Selector::Managed);
            Ok(self.instances.clone())
        }
        async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), AwsError> {
            self.calls.borrow_mut().push(format!(
                "start{} {}",
                if dry_run { "?" } else { "" },
                ids.join(",")
            ));
            self.check("StartInstances", &ids, false)
        }
        async fn stop(
            &self,
            ids: Vec<String>,
            hibernate: bool,
            dry_run: bool,
        ) -> Result<(), AwsError> {
            let verb = if hibernate { "hibernate" } else { "stop" };
            self.calls.borrow_mut().push(format!(
                "{verb}{} {}",
                if dry_run { "?" } else { "" },
                ids.join(",")
            ));
            self.check("StopInstances", &ids, hibernate)
        }
        async fn set_tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), AwsError> {
            assert_eq!(key, "lightsout:last-action");
            self.calls
                .borrow_mut()
                .push(format!("tag {value} {}", ids.join(",")));
            if self.throttle_tags {
                return Err(AwsError::new(
                    "CreateTags",
                    "RequestLimitExceeded",
                    "slow down",
                ));
            }
            if ids.iter().any(|id| self.untaggable.contains(&id.as_str())) {
                return Err(AwsError::new(
                    "CreateTags",
                    "InvalidInstanceID.NotFound",
                    "gone",
                ));
            }
            Ok(())
        }
        async fn delete_tag(&self, ids: Vec<String>, key: &str) -> Result<(), AwsError> {
            panic!("the schedule never deletes a tag (DeleteTags {key} on {ids:?})")
        }
    }

    impl FakeEc2 {
        fn check(
            &self,
            operation: &'static str,
            ids: &[String],
            hibernate: bool,
        ) -> Result<(), AwsError> {
            let bad = |list: &[&str]| ids.iter().any(|id| list.contains(&id.as_str()));
            if bad(&self.broken) {
                return Err(AwsError::new(operation, "IncorrectInstanceState", "nope"));
            }
            if hibernate && self.throttle_hibernation {
                return Err(AwsError::new(
                    operation,
                    "RequestLimitExceeded",
                    "slow down",
                ));
            }
            if hibernate && bad(&self.refuse_hibernation) {
                return Err(AwsError::new(
                    operation,
                    "UnsupportedHibernationConfiguration",
                    "not configured",
                ));
            }
            Ok(())
        }
    }

    fn instance(id: &str, state: InstanceState, tags: &[(&str, &str)]) -> Instance {
        let mut tags: BTreeMap<String, String> = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tags.insert("AUTOSTOP_ENABLE".into(), "true".into());
        Instance {
            id: id.into(),
            state,
            tags,
            state_reason: None,
        }
    }

    fn settings() -> Settings {
        Settings::from_lookup(|_| None).unwrap()
    }

    // Wednesday 2026-11-25 20:00 in Seoul: outside 9~18.
    const EVENING: &str = "2026-11-25T20:00:00+09:00";

    async fn run(ec2: &FakeEc2, event: Value) -> Result<Report, FunctionError> {
        handle(&event, &settings(), std::slice::from_ref(ec2), Utc::now()).await
    }

    /// Counts the regions that have asked for their instances; each waits until all have.
    struct Gate {
        arrived: std::cell::Cell<usize>,
        regions: usize,
    }

    /// One region's EC2 whose listing waits at the gate: run one region after another, the first
    /// would wait alone and give up (`NotConcurrent`).
    struct GatedEc2<'a> {
        region: &'static str,
        gate: &'a Gate,
        unreachable: bool,
        calls: RefCell<Vec<String>>,
    }

    impl Instances for GatedEc2<'_> {
        fn region(&self) -> &str {
            self.region
        }
        async fn instances(&self, _: &Selector) -> Result<Vec<Instance>, AwsError> {
            self.gate.arrived.set(self.gate.arrived.get() + 1);
            for _ in 0..10_000 {
                if self.gate.arrived.get() == self.gate.regions {
                    break;
                }
                tokio::task::yield_now().await;
            }
            if self.gate.arrived.get() < self.gate.regions {
                return Err(AwsError::new("DescribeInstances", "NotConcurrent", "alone"));
            }
            if self.unreachable {
                return Err(AwsError::new(
                    "DescribeInstances",
                    "UnauthorizedOperation",
                    "region disabled",
                ));
            }
            let id = format!("i-{}", self.region);
            Ok(vec![instance(
                &id,
                InstanceState::Running,
                &[("TIME", "9~18")],
            )])
        }
        async fn start(&self, ids: Vec<String>, _: bool) -> Result<(), AwsError> {
            self.calls
                .borrow_mut()
                .push(format!("start {}", ids.join(",")));
            Ok(())
        }
        async fn stop(&self, ids: Vec<String>, _: bool, _: bool) -> Result<(), AwsError> {
            self.calls
                .borrow_mut()
                .push(format!("stop {}", ids.join(",")));
            Ok(())
        }
        async fn set_tag(&self, _: Vec<String>, _: &str, _: &str) -> Result<(), AwsError> {
            Ok(())
        }
        async fn delete_tag(&self, ids: Vec<String>, key: &str) -> Result<(), AwsError> {
            panic!("the schedule never deletes a tag (DeleteTags {key} on {ids:?})")
        }
    }

    #[tokio::test]
    async fn regions_are_worked_on_at_once_and_a_failing_one_holds_up_none() {
        let names = ["ap-northeast-2", "eu-central-1", "us-east-1", "us-west-2"];
        let gate = Gate {
            arrived: std::cell::Cell::new(0),
            regions: names.len(),
        };
        let regions: Vec<GatedEc2> = names
            .iter()
            .map(|region| GatedEc2 {
                region,
                gate: &gate,
                unreachable: *region == "us-east-1",
                calls: RefCell::default(),
            })
            .collect();
        let error = handle(&json!({"now": EVENING}), &settings(), &regions, Utc::now())
            .await
            .unwrap_err();
        let FunctionError::ActionsFailed { report, .. } = error else {
            panic!("expected the failed region to fail the run: {error}");
        };
        // The three reachable regions were done, in the regions' order; the fourth is reported.
        let stopped: Vec<&str> = report
            .stopped
            .iter()
            .map(|a| a.instance_id.as_str())
            .collect();
        assert_eq!(
            stopped,
            ["i-ap-northeast-2", "i-eu-central-1", "i-us-west-2"]
        );
        assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
        let failed = &report.failed[0];
        assert_eq!(
            (
                failed.region.as_str(),
                failed.instance_id.as_deref(),
                failed.error_code.as_str()
            ),
            ("us-east-1", None, "UnauthorizedOperation")
        );
        assert_eq!(report.regions, names);
        for region in &regions {
            let want: &[String] = if region.unreachable {
                &[]
            } else {
                &[format!("stop i-{}", region.region)]
            };
            assert_eq!(*region.calls.borrow(), want, "{}", region.region);
        }
    }

    #[tokio::test]
    async fn hibernation_refused_falls_back_to_a_normal_stop() {
        let ec2 = FakeEc2 {
            instances: vec![
                instance(
                    "i-1",
                    InstanceState::Running,
                    &[("TIME", "9~18"), ("AUTOSTOP_HIBERNATE", "true")],
                ),
                instance(
                    "i-2",
                    InstanceState::Running,
                    &[("TIME", "9~18"), ("AUTOSTOP_HIBERNATE", "true")],
                ),
            ],
            refuse_hibernation: vec!["i-2"],
            ..Default::default()
        };
        let report = run(&ec2, json!({"now": EVENING})).await.unwrap();
        assert_eq!(report.stopped.len(), 2);
        assert_eq!(report.stopped[0].hibernated, Some(true));
        assert_eq!(report.stopped[1].hibernated, Some(false));
        assert!(report.stopped[1]
            .note
            .as_deref()
            .unwrap()
            .starts_with("hibernation refused (UnsupportedHibernationConfiguration"));
        assert_eq!(
            *ec2.calls.borrow(),
            [
                "hibernate i-1,i-2",
                "hibernate i-1",
                "hibernate i-2",
                "stop i-2",
                "tag hibernated 2026-11-25T20:00+09:00 schedule i-1",
                "tag stopped 2026-11-25T20:00+09:00 schedule i-2",
            ]
        );
    }

    #[tokio::test]
    async fn throttled_hibernation_is_a_failure_not_a_refusal() {
        let ec2 = FakeEc2 {
            instances: vec![instance(
                "i-1",
                InstanceState::Running,
                &[("TIME", "9~18"), ("AUTOSTOP_HIBERNATE", "true")],
            )],
            throttle_hibernation: true,
            ..Default::default()
        };
        let error = run(&ec2, json!({"now": EVENING})).await.unwrap_err();
        assert!(error
            .to_string()
            .contains("i-1 (stop in ap-northeast-2: RequestLimitExceeded)"));
        assert_eq!(*ec2.calls.borrow(), ["hibernate i-1"]);
    }

    #[tokio::test]
    async fn failures_are_reported_then_the_invocation_fails_with_a_stable_type() {
        let ec2 = FakeEc2 {
            instances: vec![
                instance("i-1", InstanceState::Running, &[("TIME", "9~18")]),
                instance("i-2", InstanceState::Running, &[("TIME", "9~18")]),
                instance("i-3", InstanceState::Running, &[("TIME", "9~18")]),
            ],
            broken: vec!["i-2"],
            ..Default::default()
        };
        let error = run(&ec2, json!({"now": EVENING})).await.unwrap_err();
        assert_eq!(error.error_type(), "InstanceActionFailed");
        let message = error.to_string();
        assert!(
            message
                .starts_with("1 failure(s): i-2 (stop in ap-northeast-2: IncorrectInstanceState)"),
            "{message}"
        );
        assert!(
            message.contains(r#""stopped":[{"instanceId":"i-1""#),
            "{message}"
        );
    }

    #[tokio::test]
    async fn dry_run_asks_aws_with_dry_run_and_reports() {
        let ec2 = FakeEc2 {
            instances: vec![instance("i-1", InstanceState::Stopped, &[("TIME", "9~18")])],
            ..Default::default()
        };
        let report = run(
            &ec2,
            json!({"now": "2026-11-25T10:00:00+09:00", "dryRun": true}),
        )
        .await
        .unwrap();
        assert!(report.dry_run);
        assert_eq!(report.started.len(), 1);
        assert_eq!(*ec2.calls.borrow(), ["start? i-1"]);
    }

    #[tokio::test]
    async fn skipped_and_unchanged_make_no_calls() {
        let ec2 = FakeEc2 {
            instances: vec![
                instance(
                    "i-asg",
                    InstanceState::Running,
                    &[("TIME", "9~18"), ("aws:autoscaling:groupName", "web")],
                ),
                instance("i-bad", InstanceState::Running, &[("TIME", "late")]),
                instance("i-ok", InstanceState::Stopped, &[("TIME", "9~18")]),
                instance("i-moving", InstanceState::Stopping, &[("TIME", "9~18")]),
            ],
            ..Default::default()
        };
        let report = run(&ec2, json!({"now": EVENING})).await.unwrap();
        assert_eq!(report.unchanged, 2);
        let skipped: Vec<_> = report
            .skipped
            .iter()
            .map(|s| (s.instance_id.as_str(), s.reason.as_str()))
            .collect();
        assert_eq!(skipped[0].0, "i-asg");
        assert!(skipped[0].1.starts_with("member of Auto Scaling group web"));
        assert_eq!(
            skipped[1],
            (
                "i-bad",
                "TIME: `late` is not a window; expected START~END such as `9~18` or `09:30~18:00`"
            )
        );
        assert!(ec2.calls.borrow().is_empty());
    }

    #[test]
    fn assess_is_what_handle_acts_on() {
        let now = DateTime::parse_from_rfc3339(EVENING)
            .unwrap()
            .with_timezone(&Utc);
        let running = instance(
            "i-1",
            InstanceState::Running,
            &[("TIME", "9~18"), ("AUTOSTOP_HIBERNATE", "true")],
        );
        match assess(&running, &settings(), now) {
            Assessment::Decided {
                plan, hibernate, ..
            } => {
                assert_eq!((plan.wanted, plan.action), (Wanted::Stopped, Action::Stop));
                assert!(hibernate);
                assert!(plan
                    .reason
                    .starts_with("outside schedule daily 09:00–18:59"));
            }
            other => panic!("{other:?}"),
        }
        let bad = instance("i-2", InstanceState::Running, &[("TIME", "late")]);
        assert!(matches!(
            assess(&bad, &settings(), now),
            Assessment::Skipped { bad_tags: true, .. }
        ));
        let mut unmanaged = instance("i-3", InstanceState::Running, &[("TIME", "9~18")]);
        unmanaged.tags.remove("AUTOSTOP_ENABLE");
        assert_eq!(assess(&unmanaged, &settings(), now), Assessment::Unmanaged);
    }

    fn settings_with(batch_size: &str) -> Settings {
        Settings::from_lookup(|name| (name == "BATCH_SIZE").then(|| batch_size.to_string()))
            .unwrap()
    }

    #[tokio::test]
    async fn what_was_done_is_tagged_once_per_batch_of_equal_values() {
        // 10:00 in Seoul = 02:00 in Berlin: Seoul's office opens, Berlin's night box stops.
        let mut instances: Vec<Instance> = (0..5)
            .map(|i| {
                instance(
                    &format!("i-s{i}"),
                    InstanceState::Stopped,
                    &[("TIME", "9~18")],
                )
            })
            .collect();
        instances.extend((0..3).map(|i| {
            instance(
                &format!("i-b{i}"),
                InstanceState::Running,
                &[("TIME", "20~1"), ("TZ", "Europe/Berlin")],
            )
        }));
        instances.push(instance(
            "i-h",
            InstanceState::Running,
            &[
                ("TIME", "20~1"),
                ("TZ", "Europe/Berlin"),
                ("AUTOSTOP_HIBERNATE", "true"),
            ],
        ));
        let ec2 = FakeEc2 {
            instances,
            ..Default::default()
        };
        let report = handle(
            &json!({"now": "2026-11-25T10:00:00+09:00"}),
            &settings_with("2"),
            std::slice::from_ref(&ec2),
            Utc::now(),
        )
        .await
        .unwrap();
        assert_eq!((report.started.len(), report.stopped.len()), (5, 4));
        assert!(report.tag_failed.is_empty());
        let tags: Vec<String> = ec2
            .calls
            .borrow()
            .iter()
            .filter(|c| c.starts_with("tag "))
            .cloned()
            .collect();
        assert_eq!(
            tags,
            [
                "tag hibernated 2026-11-25T02:00+01:00 schedule i-h",
                "tag started 2026-11-25T10:00+09:00 schedule i-s0,i-s1",
                "tag started 2026-11-25T10:00+09:00 schedule i-s2,i-s3",
                "tag started 2026-11-25T10:00+09:00 schedule i-s4",
                "tag stopped 2026-11-25T02:00+01:00 schedule i-b0,i-b1",
                "tag stopped 2026-11-25T02:00+01:00 schedule i-b2",
            ]
        );
    }

    #[tokio::test]
    async fn a_tag_failure_is_reported_and_changes_nothing_else() {
        let ec2 = FakeEc2 {
            instances: vec![
                instance("i-1", InstanceState::Running, &[("TIME", "9~18")]),
                instance("i-2", InstanceState::Running, &[("TIME", "9~18")]),
                instance("i-3", InstanceState::Running, &[("TIME", "9~18")]),
            ],
            untaggable: vec!["i-2"],
            ..Default::default()
        };
        let report = run(&ec2, json!({"now": EVENING})).await.unwrap();
        assert_eq!(report.stopped.len(), 3);
        assert!(report.failed.is_empty());
        assert_eq!(report.tag_failed.len(), 1);
        let failed = &report.tag_failed[0];
        assert_eq!(
            (
                failed.instance_id.as_str(),
                failed.value.as_str(),
                failed.error_code.as_str()
            ),
            (
                "i-2",
                "stopped 2026-11-25T20:00+09:00 schedule",
                "InvalidInstanceID.NotFound"
            )
        );
        // Split to find the one that cannot be tagged, as for starts and stops.
        assert!(ec2
            .calls
            .borrow()
            .contains(&"tag stopped 2026-11-25T20:00+09:00 schedule i-3".to_string()));

        let throttled = FakeEc2 {
            instances: vec![instance("i-1", InstanceState::Stopped, &[("TIME", "9~18")])],
            throttle_tags: true,
            ..Default::default()
        };
        let report = run(&throttled, json!({"now": "2026-11-25T10:00:00+09:00"}))
            .await
            .unwrap();
        assert_eq!(report.started.len(), 1);
        assert_eq!(report.tag_failed[0].error_code, "RequestLimitExceeded");
    }

    #[tokio::test]
    async fn nothing_is_tagged_in_a_dry_run_or_after_a_failed_action() {
        let ec2 = FakeEc2 {
            instances: vec![
                instance("i-1", InstanceState::Running, &[("TIME", "9~18")]),
                instance("i-2", InstanceState::Running, &[("TIME", "9~18")]),
            ],
            broken: vec!["i-2"],
            ..Default::default()
        };
        run(&ec2, json!({"now": EVENING, "dryRun": true}))
            .await
            .unwrap_err();
        assert!(ec2.calls.borrow().iter().all(|c| !c.starts_with("tag ")));
        run(&ec2, json!({"now": EVENING})).await.unwrap_err();
        let tags: Vec<String> = ec2
            .calls
            .borrow()
            .iter()
            .filter(|c| c.starts_with("tag "))
            .cloned()
            .collect();
        assert_eq!(tags, ["tag stopped 2026-11-25T20:00+09:00 schedule i-1"]);
    }

    #[tokio::test]
    async fn a_start_that_did_not_hold_is_reported_and_not_repeated() {
        let failed_start = |id: &str, when: &str| {
            let mut i = instance(
                id,
                InstanceState::Stopped,
                &[
                    ("TIME", "9~18"),
                    ("Name", "kms-box"),
                    ("lightsout:last-action", when),
                ],
            );
            i.state_reason = Some("Client.InternalError: Client error on launch".into());
            i
        };
        let ec2 = FakeEc2 {
            instances: vec![
                // Started at 09:00 today, stopped again by EC2.
                failed_start("i-today", "started 2026-11-25T09:00+09:00 schedule"),
                // Started yesterday; stopped by someone before the evening: an ordinary start.
                failed_start("i-yesterday", "started 2026-11-24T09:00+09:00 schedule"),
                // Stopped by lightsout last night: an ordinary start.
                failed_start("i-stopped", "stopped 2026-11-24T19:00+09:00 schedule"),
            ],
            ..Default::default()
        };
        let report = run(&ec2, json!({"now": "2026-11-25T11:00:00+09:00"}))
            .await
            .unwrap();
        let started: Vec<&str> = report
            .started
            .iter()
            .map(|a| a.instance_id.as_str())
            .collect();
        assert_eq!(started, ["i-yesterday", "i-stopped"]);
        assert_eq!(report.unchanged, 0);
        assert_eq!(report.start_did_not_hold.len(), 1);
        let found = &report.start_did_not_hold[0];
        assert_eq!(found.instance_id, "i-today");
        assert_eq!(found.name.as_deref(), Some("kms-box"));
        assert_eq!(found.started_at, "2026-11-25T09:00+09:00");
        assert_eq!(found.started_by, "schedule");
        assert_eq!(
            found.state_reason.as_deref(),
            Some("Client.InternalError: Client error on launch")
        );
        assert!(found.hint.contains("KMS"), "{}", found.hint);
        assert!(ec2.calls.borrow().iter().all(|c| !c.contains("i-today")));
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!(
            json["startDidNotHold"][0]["startedAt"],
            "2026-11-25T09:00+09:00"
        );
        assert_eq!(json["tagFailed"], json!([]));
        // What `lightsout plan` shows for it: left, and why.
        let now = DateTime::parse_from_rfc3339("2026-11-25T11:00:00+09:00")
            .unwrap()
            .with_timezone(&Utc);
        match assess(&ec2.instances[0], &settings(), now) {
            Assessment::Decided { plan, .. } => {
                assert_eq!((plan.wanted, plan.action), (Wanted::Running, Action::Leave));
                assert!(
                    plan.reason.ends_with(
                        "; but lightsout started it at 2026-11-25T09:00+09:00 (schedule) and it \
                         is stopped again: not started again while it stays due"
                    ),
                    "{}",
                    plan.reason
                );
            }
            other => panic!("{other:?}"),
        }
        // The next window starts it again.
        let report = run(&ec2, json!({"now": "2026-11-26T09:00:00+09:00"}))
            .await
            .unwrap();
        assert_eq!(report.started.len(), 3);
        assert!(report.start_did_not_hold.is_empty());
    }

    #[tokio::test]
    async fn bad_event_is_invalid_event() {
        let ec2 = FakeEc2::default();
        let error = run(&ec2, json!({"time": "9 o'clock"})).await.unwrap_err();
        assert_eq!(error.error_type(), "InvalidEvent");
        assert!(error.to_string().starts_with("event field `time`"));
        let failure: &dyn lightsout_runtime::Failure = &error;
        assert_eq!(failure.error_type(), "InvalidEvent");
        assert_eq!(failure.message(), error.to_string());
    }
}
