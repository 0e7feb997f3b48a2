//! `ec2-autostop`: starts and stops every EC2 instance tagged `AUTOSTOP_ENABLE=true` as its `DAY`,
//! `TIME` and `TZ` tags say. Triggered hourly by EventBridge Scheduler; see the README for the tags,
//! the event and the report.

use lambda_runtime::{service_fn, Error, LambdaEvent};
use serde_json::Value;

use ec2_autostop::handler::{self, FunctionError};
use ec2_autostop::regional_clients;
use ec2_autostop::report::Report;
use lightsout_lambda::metrics::{Metrics, FAILURES};
use lightsout_lambda::Payload;
use lightsout_schedule::{EventError, Settings};

/// Its metrics (README, "Metrics"), counted from the report: instances started and stopped (0 in
/// a dry run, whose report lists what would have been), skipped (bad tags, Auto Scaling groups),
/// failed, and found stopped again after a start (`StartsNotHeld`); regions that could not be
/// listed; last-action tags that could not be set.
const METRICS: &[&str] = &[
    "InstancesStarted",
    "InstancesStopped",
    "InstancesSkipped",
    "InstancesFailed",
    "RegionsFailed",
    "StartsNotHeld",
    "TagsFailed",
    FAILURES,
];

/// Counts what a report (as JSON: the invocation's answer, or the one its error carries) says.
fn count(report: &Value, metrics: &Metrics) {
    let listed = |key: &str| report[key].as_array().map_or(0, |a| a.len() as u64);
    let dry_run = report["dryRun"] == true;
    metrics.property("dryRun", dry_run);
    if !dry_run {
        metrics.add("InstancesStarted", listed("started"));
        metrics.add("InstancesStopped", listed("stopped"));
    }
    metrics.add("InstancesSkipped", listed("skipped"));
    for failure in report["failed"].as_array().into_iter().flatten() {
        match failure["instanceId"].is_string() {
            true => metrics.add("InstancesFailed", 1),
            false => metrics.add("RegionsFailed", 1),
        }
    }
    metrics.add("StartsNotHeld", listed("startDidNotHold"));
    metrics.add("TagsFailed", listed("tagFailed"));
}

/// Counts an invocation's result: its report's counts, and its failure.
fn tally(result: &Result<Report, FunctionError>, metrics: &Metrics) {
    match result {
        Ok(report) => count(&serde_json::to_value(report).unwrap_or_default(), metrics),
        Err(FunctionError::ActionsFailed { report, .. }) => {
            count(&serde_json::from_str(report).unwrap_or_default(), metrics)
        }
        Err(_) => {}
    }
    if let Err(error) = result {
        metrics.failed(error.error_type());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();

    // Shared setup, once per cold start: settings and one EC2 client per region.
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::BULK).await;
    let setup = Settings::from_lookup(|name| std::env::var(name).ok())
        .map_err(|e| e.to_string())
        .and_then(|settings| {
            let clients = regional_clients(&config, &settings)?;
            Ok((settings, clients))
        });
    let setup = &setup;
    let metrics = &Metrics::new("ec2-autostop", METRICS);

    lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload<Value>>| async move {
        metrics.begin(Some(&event.context.request_id));
        let result: Result<Report, FunctionError> = match (setup, event.payload.into_result()) {
            (Err(e), _) => Err(FunctionError::InvalidSettings(e.clone())),
            (Ok((settings, clients)), Ok(payload)) => {
                handler::handle(&payload, settings, clients, chrono::Utc::now()).await
            }
            // A payload the runtime cannot read (nested too deeply, …) is a bad event too.
            (Ok(_), Err(why)) => Err(FunctionError::InvalidEvent(EventError::Unreadable(why))),
        };
        if let Err(error) = &result {
            tracing::error!(error_type = error.error_type(), error = %error, "invocation failed");
        }
        tally(&result, metrics);
        metrics.flush();
        result
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec2_autostop::report::{Acted, Failed, NotHeld, Skipped, TagFailed};
    use lightsout_lambda::metrics::function_counts;

    fn counted(metrics: &Metrics) -> Vec<(String, u64)> {
        function_counts(metrics).unwrap()
    }

    fn expected(counts: [u64; 8]) -> Vec<(String, u64)> {
        let names = [
            "Failures",
            "InstancesFailed",
            "InstancesSkipped",
            "InstancesStarted",
            "InstancesStopped",
            "RegionsFailed",
            "StartsNotHeld",
            "TagsFailed",
        ];
        names.iter().map(|n| n.to_string()).zip(counts).collect()
    }

    fn acted(id: &str) -> Acted {
        Acted {
            instance_id: id.into(),
            region: "ap-northeast-2".into(),
            name: None,
            reason: "within 9~18".into(),
            hibernated: None,
            note: None,
        }
    }

    fn report(dry_run: bool) -> Report {
        let failed = |id: Option<&str>, action| Failed {
            instance_id: id.map(String::from),
            region: "ap-northeast-2".into(),
            action,
            error_code: "UnauthorizedOperation".into(),
            error: "no".into(),
        };
        Report {
            decision_time: "2026-11-25T09:00:00Z".into(),
            decision_time_source: lightsout_schedule::TimeSource::EventTime,
            default_timezone: "Asia/Seoul".into(),
            dry_run,
            regions: vec!["ap-northeast-2".into(), "us-east-1".into()],
            started: vec![acted("i-1"), acted("i-2")],
            stopped: vec![acted("i-3")],
            unchanged: 7,
            skipped: vec![Skipped {
                instance_id: "i-4".into(),
                region: "ap-northeast-2".into(),
                reason: "TIME: …".into(),
            }],
            failed: vec![failed(Some("i-5"), "stop"), failed(None, "describe")],
            start_did_not_hold: vec![NotHeld {
                instance_id: "i-6".into(),
                region: "ap-northeast-2".into(),
                name: None,
                started_at: "2026-11-25T08:00+09:00".into(),
                started_by: "schedule".into(),
                state_reason: None,
                hint: "check".into(),
            }],
            tag_failed: vec![TagFailed {
                instance_id: "i-1".into(),
                region: "ap-northeast-2".into(),
                value: "start 2026-11-25T09:00+09:00 schedule".into(),
                error_code: "Throttling".into(),
                error: "slow down".into(),
            }],
        }
    }

    fn tallied(result: Result<Report, FunctionError>) -> Metrics {
        let metrics = Metrics::in_namespace("lightsout", "ec2-autostop", METRICS);
        metrics.begin(Some("req"));
        tally(&result, &metrics);
        metrics
    }

    #[test]
    fn metrics_count_the_report_of_a_run_that_succeeded() {
        let mut clean = report(false);
        clean.failed.clear();
        let metrics = tallied(Ok(clean));
        assert_eq!(counted(&metrics), expected([0, 0, 1, 2, 1, 0, 1, 1]));
        assert_eq!(metrics.document(1)["dryRun"], false);
    }

    #[test]
    fn metrics_count_the_report_a_failed_run_carries() {
        let failing = report(false);
        let metrics = tallied(Err(FunctionError::ActionsFailed {
            count: 2,
            summary: String::new(),
            report: serde_json::to_string(&failing).unwrap(),
        }));
        assert_eq!(counted(&metrics), expected([1, 1, 1, 2, 1, 1, 1, 1]));
        assert_eq!(metrics.document(1)["ErrorType"], "InstanceActionFailed");
    }

    #[test]
    fn a_dry_run_starts_and_stops_nothing() {
        let metrics = tallied(Ok(report(true)));
        assert_eq!(counted(&metrics), expected([0, 1, 1, 0, 0, 1, 1, 1]));
        assert_eq!(metrics.document(1)["dryRun"], true);
    }

    #[test]
    fn bad_settings_count_a_failure_and_nothing_else() {
        let metrics = tallied(Err(FunctionError::InvalidSettings("REGIONS: …".into())));
        assert_eq!(counted(&metrics), expected([1, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(metrics.document(1)["ErrorType"], "InvalidSettings");
    }
}
