//! The one runner of the ALB workflow's steps (CheckExistingALB, CreateALB, DeleteALB,
//! CreateRoute53Record, DeleteRoute53Record).
//!
//! A step is an async function from the validated event ([`AlbEvent`]) to its typed output
//! ([`StepOutput`]) or an [`AlbError`]. The runner does the rest the same way for all five:
//! it reads the event (an event that fails validation is `InvalidInput`, naming each field),
//! runs the step, merges the output into the event it received (every state returns the whole
//! event, enriched), counts the output's metrics from the typed value, and answers a failure
//! with the error's stable type, which the state machine's `Retry`/`Catch` match on.
#![warn(missing_docs)]

use std::future::Future;

use chrono::{DateTime, Utc};
use lambda_runtime::Diagnostic;
use serde_json::Value;

use lightsout_alb::{merge, AlbError, AlbEvent, ErrorKind, StepOutput};
use lightsout_runtime::metrics::{Metrics, FAILURES};
use lightsout_runtime::{Counted, Payload};

/// A step's answer: the event it received with the step's output merged in (what the next state
/// gets), and the typed output, which its metrics are counted from.
#[derive(Debug, Clone, PartialEq)]
pub struct Merged<O> {
    /// The whole event, enriched.
    pub event: Value,
    /// What the step returned.
    pub output: O,
}

impl<O> serde::Serialize for Merged<O> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.event.serialize(serializer)
    }
}

impl<O: StepOutput> Counted for Merged<O> {
    fn count(&self, metrics: &Metrics) {
        for (name, n) in self.output.counts() {
            metrics.add(name, n);
        }
    }
}

/// Serves `step` as the Lambda function `function` (its name in the metrics) until the runtime
/// stops, through lightsout-runtime's one invocation loop.
pub async fn serve<O, F, Fut>(function: &'static str, step: F) -> Result<(), lambda_runtime::Error>
where
    O: StepOutput,
    F: Fn(AlbEvent) -> Fut,
    Fut: Future<Output = Result<O, AlbError>>,
{
    let metrics = Metrics::new(function, metric_names::<O>());
    let step = &step;
    lightsout_runtime::serve(&metrics, |payload: Payload<Value>, _| async move {
        let event = payload
            .into_result()
            .map_err(|why| lightsout_runtime::diagnostic(ErrorKind::InvalidInput.name(), why))?;
        run(event, Utc::now(), step).await
    })
    .await
}

/// One invocation: `event` as received, `clock` the time when the event names none.
pub async fn run<O, F, Fut>(
    mut event: Value,
    clock: DateTime<Utc>,
    step: &F,
) -> Result<Merged<O>, Diagnostic>
where
    O: StepOutput,
    F: Fn(AlbEvent) -> Fut,
    Fut: Future<Output = Result<O, AlbError>>,
{
    let output = match AlbEvent::parse(&event, clock) {
        Ok(input) => step(input).await,
        Err(e) => Err(e),
    }
    .map_err(|e| lightsout_runtime::diagnostic(e.error_type(), &e))?;
    merge(&mut event, &output);
    Ok(Merged { event, output })
}

/// The step's metrics and `Failures`. Made once per cold start and kept for the life of the
/// process, as [`Metrics`] keeps its names.
pub fn metric_names<O: StepOutput>() -> &'static [&'static str] {
    Box::leak([O::METRICS, &[FAILURES]].concat().into_boxed_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::step::{AlbGone, ALB_DELETED, SNAPSHOTS_SAVED};
    use lightsout_runtime::metrics::function_counts;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "albName": "dev-alb", "startTime": 9, "endTime": 18,
            "subnets": ["subnet-1", "subnet-2"], "hostedZoneId": "ZONE1", "domainName": "dev.example.com",
            "targetGroups": [{"targetGroupArn": "arn:aws:elasticloadbalancing:r:1:targetgroup/a/1",
                              "listenerProtocol": "HTTP", "listenerPort": 80}],
            "caller": {"kept": true}
        })
    }

    fn metrics() -> Metrics {
        Metrics::in_namespace("lightsout", "delete-alb", metric_names::<AlbGone>())
    }

    async fn deleted(input: AlbEvent) -> Result<AlbGone, AlbError> {
        assert_eq!(input.alb_name, "dev-alb");
        Ok(AlbGone::new(
            true,
            Some(format!("snapshots/{}.json", input.alb_name)),
        ))
    }

    async fn denied(_: AlbEvent) -> Result<AlbGone, AlbError> {
        Err(AlbError::new(
            ErrorKind::AwsError,
            "DeleteLoadBalancer: AccessDenied",
        ))
    }

    #[tokio::test]
    async fn the_output_is_merged_into_the_whole_event_and_counted() {
        let metrics = metrics();
        metrics.begin(None);
        let answer = run(event(), Utc::now(), &deleted).await;
        lightsout_runtime::tally(&metrics, &answer);
        let answer = answer.unwrap();
        assert_eq!(serde_json::to_value(&answer).unwrap(), answer.event);
        let answer = answer.event;
        let mut expected = event();
        for (k, v) in [
            ("albExists", json!(false)),
            ("albDeleted", json!(true)),
            ("albAlreadyGone", json!(false)),
            ("snapshotKey", json!("snapshots/dev-alb.json")),
        ] {
            expected[k] = v;
        }
        assert_eq!(answer, expected);
        assert_eq!(
            function_counts(&metrics).unwrap(),
            [
                (ALB_DELETED.to_string(), 1),
                (FAILURES.to_string(), 0),
                (SNAPSHOTS_SAVED.to_string(), 1)
            ]
        );
    }

    #[tokio::test]
    async fn a_bad_event_is_invalid_input_and_the_step_never_runs() {
        let mut bad = event();
        bad["subnets"] = json!("subnet-1");
        let never = |_: AlbEvent| async { panic!("the step ran on a bad event") };
        let error = run::<AlbGone, _, _>(bad, Utc::now(), &never)
            .await
            .unwrap_err();
        assert_eq!(error.error_type, "InvalidInput");
        assert!(
            error.error_message.contains("subnets"),
            "{}",
            error.error_message
        );
        let error = run::<AlbGone, _, _>(json!("dev-alb"), Utc::now(), &never)
            .await
            .unwrap_err();
        assert_eq!(error.error_type, "InvalidInput");
    }

    #[tokio::test]
    async fn a_failed_step_answers_its_stable_error_type_and_counts_nothing() {
        let metrics = metrics();
        metrics.begin(None);
        let error = run(event(), Utc::now(), &denied).await;
        lightsout_runtime::tally(&metrics, &error);
        let error = error.unwrap_err();
        assert_eq!(
            (error.error_type.as_str(), error.error_message.as_str()),
            ("AwsError", "DeleteLoadBalancer: AccessDenied")
        );
        assert_eq!(metrics.get(ALB_DELETED), 0);
        assert_eq!(metrics.get(FAILURES), 1);
        assert_eq!(metrics.document(1)["ErrorType"], "AwsError");
    }
}
