//! CreateALB: makes the ALB and its listeners, or restores the snapshot saved when it was
//! deleted. Reuses what already exists, so a second run changes nothing.
//!
//! Adds `albExists`, `albArn`, `albDNSName`, `albHostedZoneId`, `albCreated`,
//! `restoredFromSnapshot`, `snapshotKey`, `listenersCreated` and `rulesCreated`.

use chrono::Utc;
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::{set, AlbError, AlbEvent, AlbSnapshot, ErrorKind};
use lightsout_elbv2::Elbv2;
use lightsout_lambda::metrics::{Metrics, FAILURES};
use lightsout_snapshots::SnapshotStore;

/// Its metrics (README, "Metrics"): an ALB made afresh, or made from its snapshot.
const METRICS: &[&str] = &["AlbCreated", "AlbRestored", FAILURES];

/// Counts what an invocation's answer says was done.
fn count(answer: &Value, metrics: &Metrics) {
    if answer["albCreated"] == true {
        match answer["restoredFromSnapshot"] == true {
            true => metrics.add("AlbRestored", 1),
            false => metrics.add("AlbCreated", 1),
        }
    }
}

async fn handle(mut event: Value, elbv2: &Elbv2, store: &SnapshotStore) -> Result<Value, AlbError> {
    let input = AlbEvent::parse(&event, Utc::now())?;
    let snapshot = match &input.snapshot_bucket {
        Some(bucket) => store.load(bucket, &input.alb_name).await?,
        None => None,
    };
    let created = elbv2.create(&input, snapshot.as_ref()).await?;
    tracing::info!(
        alb = input.alb_name,
        created = created.created,
        restored = snapshot.is_some(),
        listeners_created = created.listeners_created,
        rules_created = created.rules_created,
        "ALB in place"
    );
    set(&mut event, "albExists", true);
    set(&mut event, "albArn", created.alb.arn);
    set(&mut event, "albDNSName", created.alb.dns_name);
    set(
        &mut event,
        "albHostedZoneId",
        created.alb.canonical_hosted_zone_id,
    );
    set(&mut event, "albCreated", created.created);
    set(&mut event, "restoredFromSnapshot", snapshot.is_some());
    set(
        &mut event,
        "snapshotKey",
        snapshot.map_or(Value::Null, |s| AlbSnapshot::key(&s.alb_name).into()),
    );
    set(&mut event, "listenersCreated", created.listeners_created);
    set(&mut event, "rulesCreated", created.rules_created);
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::STANDARD).await;
    let (elbv2, store) = (Elbv2::new(&config), SnapshotStore::new(&config));
    let metrics = Metrics::new("create-alb", METRICS);
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
        let metrics = Metrics::in_namespace("lightsout", "create-alb", METRICS);
        count(&answer, &metrics);
        function_counts(&metrics).unwrap()
    }

    fn counts(created: u64, restored: u64) -> Vec<(String, u64)> {
        vec![
            ("AlbCreated".into(), created),
            ("AlbRestored".into(), restored),
            ("Failures".into(), 0),
        ]
    }

    #[test]
    fn metrics_count_what_was_made() {
        let answer = |created: bool, restored: bool| json!({"albName": "dev-alb", "albCreated": created, "restoredFromSnapshot": restored});
        assert_eq!(counted(answer(true, false)), counts(1, 0));
        assert_eq!(counted(answer(true, true)), counts(0, 1));
        // The ALB was already there: nothing made, whatever the snapshot.
        assert_eq!(counted(answer(false, true)), counts(0, 0));
        assert_eq!(counted(answer(false, false)), counts(0, 0));
    }
}
