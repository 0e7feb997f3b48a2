//! CreateALB: makes the ALB and its listeners, or restores the snapshot saved when it was
//! deleted. Reuses what already exists, so a second run changes nothing.
//!
//! Adds its [`AlbInPlace`] output (`albExists`, `albArn`, `albDNSName`, `albHostedZoneId`,
//! `albCreated`, `restoredFromSnapshot`, `snapshotKey`, `listenersCreated`, `rulesCreated`) and
//! counts `AlbCreated` or `AlbRestored`.

use lambda_runtime::Error;

use lightsout_alb::step::AlbInPlace;
use lightsout_alb::{AlbError, AlbEvent, AlbSnapshot};
use lightsout_elbv2::Elbv2;
use lightsout_snapshots::SnapshotStore;

async fn handle(
    input: AlbEvent,
    elbv2: &Elbv2,
    store: &SnapshotStore,
) -> Result<AlbInPlace, AlbError> {
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
    Ok(AlbInPlace {
        alb_exists: true,
        alb_arn: created.alb.arn,
        alb_dns_name: created.alb.dns_name,
        alb_hosted_zone_id: created.alb.canonical_hosted_zone_id,
        alb_created: created.created,
        restored_from_snapshot: snapshot.is_some(),
        snapshot_key: snapshot.map(|s| AlbSnapshot::key(&s.alb_name)),
        listeners_created: created.listeners_created,
        rules_created: created.rules_created,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let (elbv2, store) = (Elbv2::new(&config), SnapshotStore::new(&config));
    lightsout_alb_step::serve("create-alb", |input| handle(input, &elbv2, &store)).await
}
