//! DeleteALB: saves a snapshot of the ALB to S3 (when `snapshotBucket` is set), then deletes the
//! ALB. Nothing is deleted that could not be saved. An ALB already gone is a success.
//!
//! Adds its [`AlbGone`] output (`albExists` false, `albDeleted`, `albAlreadyGone`, `snapshotKey`)
//! and counts `AlbDeleted` and `SnapshotsSaved`.

use chrono::{SecondsFormat, Utc};
use lambda_runtime::Error;

use lightsout_alb::step::AlbGone;
use lightsout_alb::{AlbError, AlbEvent, ErrorKind};
use lightsout_elbv2::Elbv2;
use lightsout_snapshots::SnapshotStore;

async fn handle(
    input: AlbEvent,
    elbv2: &Elbv2,
    store: &SnapshotStore,
) -> Result<AlbGone, AlbError> {
    let Some(alb) = elbv2.find(&input.alb_name).await? else {
        tracing::info!(alb = input.alb_name, "already gone");
        return Ok(AlbGone::new(false, None));
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
    Ok(AlbGone::new(existed, snapshot_key))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let (elbv2, store) = (Elbv2::new(&config), SnapshotStore::new(&config));
    lightsout_alb_step::serve("delete-alb", |input| handle(input, &elbv2, &store)).await
}
