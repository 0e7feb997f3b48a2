//! `ec2-autostop`: starts and stops every EC2 instance tagged `AUTOSTOP_ENABLE=true` as its `DAY`,
//! `TIME` and `TZ` tags say. Triggered every 15 minutes by EventBridge Scheduler (the stack's default); the tags are in docs/tags.md,
//! the event and the report in docs/ec2-autostop.md.

use lambda_runtime::Error;
use serde_json::Value;

use ec2_autostop::handler::{self, FunctionError};
use ec2_autostop::report::METRICS;
use lightsout_ec2::Ec2;
use lightsout_runtime::metrics::Metrics;
use lightsout_runtime::Payload;
use lightsout_schedule::{EventError, Settings};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();

    // Shared setup, once per cold start: settings and one EC2 client per region.
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::BULK).await;
    let setup = Settings::from_lookup(|name| std::env::var(name).ok())
        .map_err(|e| e.to_string())
        .and_then(|settings| {
            let clients = Ec2::regional(&config, &settings.regions, settings.page_size).ok_or(
                "setting REGIONS: empty and the function has no region; set AWS_REGION or REGIONS",
            )?;
            Ok((settings, clients))
        });
    let setup = &setup;
    let metrics = Metrics::new("ec2-autostop", METRICS);
    lightsout_runtime::serve(&metrics, |payload: Payload<Value>, _| async move {
        match (setup, payload.into_result()) {
            (Err(e), _) => Err(FunctionError::InvalidSettings(e.clone())),
            (Ok((settings, clients)), Ok(event)) => {
                handler::handle(&event, settings, clients, chrono::Utc::now()).await
            }
            // A payload the runtime cannot read (nested too deeply, …) is a bad event too.
            (Ok(_), Err(why)) => Err(FunctionError::InvalidEvent(EventError::Unreadable(why))),
        }
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use ec2_autostop::report::{Acted, Failed, NotHeld, Report, Skipped, TagFailed};
    use lightsout_runtime::metrics::function_counts;

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

    /// The metrics of an invocation that ends with `result`, as the one invocation loop counts.
    fn tallied(result: Result<Report, FunctionError>) -> Metrics {
        let metrics = Metrics::in_namespace("lightsout", "ec2-autostop", METRICS);
        metrics.begin(Some("req"));
        lightsout_runtime::tally(&metrics, &result);
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
            report: Box::new(failing),
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
