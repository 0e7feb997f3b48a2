//! DeleteALB: saves a snapshot of the ALB to S3 (when `snapshotBucket` is set), then deletes the
//! ALB. Nothing is deleted that could not be saved. An ALB already gone is a success.
//!
//! Adds its [`AlbGone`] output (`albExists` false, `albDeleted`, `albAlreadyGone`, `snapshotKey`)
//! and counts `AlbDeleted` and `SnapshotsSaved`.

use chrono::{SecondsFormat, Utc};
use lambda_runtime::Error;

use lightsout_alb::ports::{Albs, Snapshots};
use lightsout_alb::step::AlbGone;
use lightsout_alb::{AlbError, AlbEvent, ErrorKind};
use lightsout_elbv2::Elbv2;
use lightsout_snapshots::SnapshotStore;

async fn handle(
    input: AlbEvent,
    albs: &impl Albs,
    snapshots: &impl Snapshots,
) -> Result<AlbGone, AlbError> {
    let Some(alb) = albs.find(&input.alb_name).await? else {
        tracing::info!(alb = input.alb_name, "already gone");
        return Ok(AlbGone::new(false, None));
    };
    let snapshot_key = match &input.snapshot_bucket {
        Some(bucket) => {
            let taken_at = Utc::now().to_rfc3339_opts(SecondsFormat::Secs, true);
            let snapshot = albs
                .snapshot(&alb, &input.alb_name, &taken_at)
                .await
                .map_err(|e| match e.kind {
                    ErrorKind::UnsupportedConfiguration => e,
                    _ => AlbError::new(
                        e.kind,
                        format!("taking the snapshot failed, nothing was deleted: {e}"),
                    ),
                })?;
            Some(snapshots.save(bucket, &snapshot).await?)
        }
        None => None,
    };
    let existed = albs.delete(&alb.arn).await?;
    tracing::info!(alb = input.alb_name, arn = alb.arn, snapshot = ?snapshot_key, "deleted");
    Ok(AlbGone::new(existed, snapshot_key))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let (elbv2, store) = (Elbv2::new(&config), SnapshotStore::new(&config));
    lightsout_alb_step::serve("delete-alb", |input| handle(input, &elbv2, &store)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::fake::{event, FakeAccount, NIGHT};
    use serde_json::json;

    #[tokio::test]
    async fn the_alb_is_saved_then_deleted() {
        let account = FakeAccount::new();
        let input = event(NIGHT, json!({}));
        let alb = account.add_alb(&input);
        let gone = handle(input, &account, &account).await.unwrap();
        assert_eq!(
            gone,
            AlbGone::new(true, Some("lightsout/alb-snapshots/dev-alb.json".into()))
        );
        assert!(account.with(|s| s.albs.is_empty()));
        let saved = account.with(|s| s.snapshots.values().cloned().collect::<Vec<_>>());
        assert_eq!(saved.len(), 1);
        assert_eq!(saved[0].alb_arn, alb.arn);
        assert_eq!(saved[0].listeners.len(), 2);
        assert!(!saved[0].taken_at.is_empty());
        let calls = account.with(|s| s.calls.clone());
        let position = |op| calls.iter().position(|c| *c == op).unwrap();
        assert!(
            position("PutObject") < position("DeleteLoadBalancer"),
            "{calls:?}"
        );
    }

    #[tokio::test]
    async fn without_a_bucket_it_is_deleted_without_a_snapshot() {
        let account = FakeAccount::new();
        let input = event(NIGHT, json!({"snapshotBucket": null}));
        account.add_alb(&input);
        let gone = handle(input, &account, &account).await.unwrap();
        assert_eq!(gone, AlbGone::new(true, None));
        assert!(account.with(|s| s.albs.is_empty() && s.snapshots.is_empty()));
    }

    #[tokio::test]
    async fn an_alb_already_gone_is_a_success() {
        let account = FakeAccount::new();
        let gone = handle(event(NIGHT, json!({})), &account, &account)
            .await
            .unwrap();
        assert!(gone.alb_already_gone && !gone.alb_deleted && !gone.alb_exists);
        assert_eq!(account.with(|s| s.calls.clone()), ["DescribeLoadBalancers"]);
    }

    #[tokio::test]
    async fn nothing_is_deleted_that_could_not_be_saved() {
        for (operation, kind) in [
            ("PutObject", ErrorKind::SnapshotFailed),
            ("DescribeListeners", ErrorKind::AwsTransient),
        ] {
            let account = FakeAccount::new();
            account.fail(
                operation,
                AlbError::new(kind, format!("{operation}: failed")),
            );
            let input = event(NIGHT, json!({}));
            account.add_alb(&input);
            let error = handle(input, &account, &account).await.unwrap_err();
            assert_eq!(error.kind, kind, "{operation}");
            assert_eq!(
                account.with(|s| s.albs.len()),
                1,
                "{operation}: the ALB is still there"
            );
            assert!(!account.with(|s| s.calls.contains(&"DeleteLoadBalancer")));
        }
        let account = FakeAccount::new();
        account.fail(
            "DescribeListeners",
            AlbError::new(ErrorKind::AwsError, "denied"),
        );
        let input = event(NIGHT, json!({}));
        account.add_alb(&input);
        let error = handle(input, &account, &account).await.unwrap_err();
        assert_eq!(
            error.message,
            "taking the snapshot failed, nothing was deleted: denied"
        );
    }
}
