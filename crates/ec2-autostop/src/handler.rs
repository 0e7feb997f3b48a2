//! One invocation: read the event, decide for every managed instance, act, report.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use serde_json::Value;
use tracing::{info, warn};

use lightsout_schedule::{
    classify, plan, Action, AutostopEvent, Classification, EventError, Plan, Settings,
};

use crate::batch::{run_batched, CallError};
use crate::ec2::{Ec2, Instance};
use crate::report::{Acted, Failed, Report, Skipped};

/// Errors the invocation ends with. Their `error_type` names are stable: Step Functions
/// `Retry`/`Catch` and alarms match on them.
#[derive(Debug, thiserror::Error)]
pub enum FunctionError {
    #[error("{0}")]
    InvalidEvent(#[from] EventError),
    #[error("{0}")]
    InvalidSettings(String),
    /// Some instances (or whole regions) failed; carries the full report.
    #[error("{count} failure(s): {summary}; report: {report}")]
    ActionsFailed {
        count: usize,
        summary: String,
        report: String,
    },
}

impl FunctionError {
    pub fn error_type(&self) -> &'static str {
        match self {
            FunctionError::InvalidEvent(_) => "InvalidEvent",
            FunctionError::InvalidSettings(_) => "InvalidSettings",
            FunctionError::ActionsFailed { .. } => "InstanceActionFailed",
        }
    }
}

impl From<FunctionError> for lambda_runtime::Diagnostic {
    fn from(error: FunctionError) -> Self {
        lightsout_lambda::diagnostic(error.error_type(), &error)
    }
}

/// Handles one event against every region's EC2.
pub async fn handle<E: Ec2>(
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
    };
    info!(decision_time = %report.decision_time, source = ?source, dry_run, regions = ?report.regions, "deciding");
    for ec2 in regions {
        run_region(ec2, settings, now, dry_run, &mut report).await;
    }
    info!(
        started = report.started.len(),
        stopped = report.stopped.len(),
        unchanged = report.unchanged,
        skipped = report.skipped.len(),
        failed = report.failed.len(),
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
        report: serde_json::to_string(&report).unwrap_or_default(),
    })
}

/// The instances to start, and to stop (with or without hibernation), in one region.
#[derive(Default)]
struct Work {
    start: Vec<(Instance, String)>,
    stop: Vec<(Instance, String)>,
    hibernate: Vec<(Instance, String)>,
}

async fn run_region<E: Ec2>(
    ec2: &E,
    settings: &Settings,
    now: DateTime<Utc>,
    dry_run: bool,
    report: &mut Report,
) {
    let region = ec2.region().to_string();
    let instances = match ec2.managed_instances().await {
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
    start_all(ec2, work.start, settings.batch_size, dry_run, report).await;
    stop_all(ec2, work.stop, false, settings.batch_size, dry_run, report).await;
    stop_all(
        ec2,
        work.hibernate,
        true,
        settings.batch_size,
        dry_run,
        report,
    )
    .await;
}

/// What the function does with one listed instance, from its tags and state alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// `AUTOSTOP_ENABLE` is not `true`: never touched, not reported. (The server-side filter
    /// should leave none of these.)
    Unmanaged,
    /// Managed but left alone, with the reason the report gives: a member of an Auto Scaling
    /// group, or a tag that cannot be read (`bad_tags`).
    Skipped { reason: String, bad_tags: bool },
    /// The decision: wanted state, action and reason. `hibernate`: a stop hibernates.
    Decided { plan: Plan, hibernate: bool },
}

/// Decides for one instance at `now`: what [`handle`] acts on, and what `lightsout plan` shows.
pub fn assess(instance: &Instance, settings: &Settings, now: DateTime<Utc>) -> Assessment {
    let holidays: &BTreeSet<NaiveDate> = &settings.holidays;
    match classify(&instance.tags, settings.default_zone) {
        Classification::Unmanaged => Assessment::Unmanaged,
        Classification::AutoScaling(group) => Assessment::Skipped {
            reason: format!(
                "member of Auto Scaling group {group}: stopping it would make the group replace it"
            ),
            bad_tags: false,
        },
        Classification::Invalid(error) => Assessment::Skipped {
            reason: error.to_string(),
            bad_tags: true,
        },
        Classification::Managed(policy) => Assessment::Decided {
            plan: plan(&policy, instance.state, now, holidays),
            hibernate: policy.hibernate,
        },
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
        let (decision, hibernate) = match assess(&instance, settings, now) {
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
            Assessment::Decided { plan, hibernate } => (plan, hibernate),
        };
        match decision.action {
            Action::Start => work.start.push((instance, decision.reason)),
            Action::Stop if hibernate => work.hibernate.push((instance, decision.reason)),
            Action::Stop => work.stop.push((instance, decision.reason)),
            Action::Leave => {
                info!(instance_id = instance.id, region, state = ?instance.state, wanted = %decision.wanted, reason = decision.reason, "unchanged");
                report.unchanged += 1;
            }
        }
    }
    work
}

fn ids(items: &[(Instance, String)]) -> Vec<String> {
    items.iter().map(|(i, _)| i.id.clone()).collect()
}

async fn start_all<E: Ec2>(
    ec2: &E,
    items: Vec<(Instance, String)>,
    batch_size: usize,
    dry_run: bool,
    report: &mut Report,
) {
    let (_, failed) =
        run_batched(&ids(&items), batch_size, |chunk| ec2.start(chunk, dry_run)).await;
    record(ec2.region(), items, failed, "start", None, report);
}

async fn stop_all<E: Ec2>(
    ec2: &E,
    items: Vec<(Instance, String)>,
    hibernate: bool,
    batch_size: usize,
    dry_run: bool,
    report: &mut Report,
) {
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
    );
}

/// Files each instance under `started`/`stopped` or `failed`, with one log line per action.
fn record(
    region: &str,
    items: Vec<(Instance, String)>,
    failed: Vec<(String, CallError)>,
    action: &'static str,
    stop: Option<(bool, Vec<(String, String)>)>,
    report: &mut Report,
) {
    for (instance, reason) in items {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_schedule::{InstanceState, Wanted};
    use serde_json::json;
    use std::cell::RefCell;
    use std::collections::BTreeMap;

    /// An in-memory EC2 that records calls; ids in `refuse_hibernation` reject `hibernate`,
    /// ids in `broken` reject everything.
    #[derive(Default)]
    struct FakeEc2 {
        instances: Vec<Instance>,
        refuse_hibernation: Vec<&'static str>,
        broken: Vec<&'static str>,
        throttle_hibernation: bool,
        calls: RefCell<Vec<String>>,
    }

    impl Ec2 for FakeEc2 {
        fn region(&self) -> &str {
            "ap-northeast-2"
        }
        async fn managed_instances(&self) -> Result<Vec<Instance>, CallError> {
            Ok(self.instances.clone())
        }
        async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), CallError> {
            self.calls.borrow_mut().push(format!(
                "start{} {}",
                if dry_run { "?" } else { "" },
                ids.join(",")
            ));
            self.check(&ids, false)
        }
        async fn stop(
            &self,
            ids: Vec<String>,
            hibernate: bool,
            dry_run: bool,
        ) -> Result<(), CallError> {
            let verb = if hibernate { "hibernate" } else { "stop" };
            self.calls.borrow_mut().push(format!(
                "{verb}{} {}",
                if dry_run { "?" } else { "" },
                ids.join(",")
            ));
            self.check(&ids, hibernate)
        }
    }

    impl FakeEc2 {
        fn check(&self, ids: &[String], hibernate: bool) -> Result<(), CallError> {
            let bad = |list: &[&str]| ids.iter().any(|id| list.contains(&id.as_str()));
            if bad(&self.broken) {
                return Err(CallError {
                    code: "IncorrectInstanceState".into(),
                    message: "nope".into(),
                    whole_call: false,
                });
            }
            if hibernate && self.throttle_hibernation {
                return Err(CallError {
                    code: "RequestLimitExceeded".into(),
                    message: "slow down".into(),
                    whole_call: true,
                });
            }
            if hibernate && bad(&self.refuse_hibernation) {
                return Err(CallError {
                    code: "UnsupportedHibernationConfiguration".into(),
                    message: "not configured".into(),
                    whole_call: false,
                });
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
                "stop i-2"
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
            Assessment::Decided { plan, hibernate } => {
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

    #[tokio::test]
    async fn bad_event_is_invalid_event() {
        let ec2 = FakeEc2::default();
        let error = run(&ec2, json!({"time": "9 o'clock"})).await.unwrap_err();
        assert_eq!(error.error_type(), "InvalidEvent");
        assert!(error.to_string().starts_with("event field `time`"));
        let diagnostic: lambda_runtime::Diagnostic = error.into();
        assert_eq!(diagnostic.error_type, "InvalidEvent");
    }
}
