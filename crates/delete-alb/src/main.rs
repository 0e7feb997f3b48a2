//! DeleteALB: saves a snapshot of the ALB to S3 (when `snapshotBucket` is set), then deletes the
//! ALB. Nothing is deleted that could not be saved. An ALB already gone is a success.
//!
//! Adds `albExists` (false), `albDeleted`, `albAlreadyGone` and `snapshotKey`.

use chrono::{SecondsFormat, Utc};
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::{set, AlbError, AlbEvent, ErrorKind};
use lightsout_elbv2::Elbv2;
use lightsout_lambda::metrics::{Metrics, FAILURES};
use lightsout_snapshots::SnapshotStore;

/// Its metrics (README, "Metrics"): an ALB deleted, and whether its snapshot was saved first.
const METRICS: &[&str] = &["AlbDeleted", "SnapshotsSaved", FAILURES];

/// Counts what an invocation's answer says was done.
fn count(answer: &Value, metrics: &Metrics) {
    if answer["albDeleted"] == true {
        metrics.add("AlbDeleted", 1);
    }
    if answer["snapshotKey"].is_string() {
        metrics.add("SnapshotsSaved", 1);
    }
}

async fn handle(mut event: Value, elbv2: &Elbv2, store: &SnapshotStore) -> Result<Value, AlbError> {
    let input = AlbEvent::parse(&event, Utc::now())?;
    let Some(alb) = elbv2.find(&input.alb_name).await? else {
        tracing::info!(alb = input.alb_name, "already gone");
        set(&mut event, "albExists", false);
        set(&mut event, "albDeleted", false);
        set(&mut event, "albAlreadyGone", true);
        set(&mut event, "snapshotKey", Value::Null);
        return Ok(event);
    };
    let snapshot_key = match &input.snapshot_bucket {
        Some(bucket) => {
            let taken_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            let snapshot = elbv2
                .snapshot(&alb, &input.alb_name, &taken_at)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::UnsupportedConfiguration => e,
                    _ => AlbError::new(
                        e.kind,
                        format!("taking the snapshot failed, nothing was deleted: {e}"),
                    ),
                })?;
            Some(store.save(bucket, &snapshot).await?)
        }
        None => None,
    };
    let existed = elbv2.delete(&alb.arn).await?;
    tracing::info!(alb = input.alb_name, arn = alb.arn, snapshot = ?snapshot_key, "deleted");
    set(&mut event, "albExists", false);
    set(&mut event, "albDeleted", existed);
    set(&mut event, "albAlreadyGone", !existed);
    set(
        &mut event,
        "snapshotKey",
        snapshot_key.map_or(Value::Null, Value::from),
    );
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::STANDARD).await;
    let (elbv2, store) = (Elbv2::new(&config), SnapshotStore::new(&config));
    let metrics = Metrics::new("delete-alb", METRICS);
    lightsout_lambda::serve(ErrorKind::InvalidInput.name(), &metrics, |event| async {
        let answer = handle(event, &elbv2, &store)
            .await
            .map_err(|e| lightsout_lambda::diagnostic(e.error_type(), &e))?;
        count(&answer, &metrics);
        Ok(answer)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_lambda::metrics::function_counts;
    use serde_json::json;

    fn counted(answer: Value) -> Vec<(String, u64)> {
        let metrics = Metrics::in_namespace("lightsout", "delete-alb", METRICS);
        count(&answer, &metrics);
        function_counts(&metrics).unwrap()
    }

    fn counts(deleted: u64, saved: u64) -> Vec<(String, u64)> {
        vec![
            ("AlbDeleted".into(), deleted),
            ("Failures".into(), 0),
            ("SnapshotsSaved".into(), saved),
        ]
    }

    #[test]
    fn metrics_count_what_was_deleted_and_saved() {
        let key = "lightsout/alb-snapshots/dev-alb.json";
        let answer = |deleted: bool, key: Value| json!({"albDeleted": deleted, "snapshotKey": key});
        assert_eq!(counted(answer(true, key.into())), counts(1, 1));
        assert_eq!(counted(answer(true, Value::Null)), counts(1, 0));
        // Already gone: nothing deleted, nothing saved.
        assert_eq!(counted(answer(false, Value::Null)), counts(0, 0));
    }
}
