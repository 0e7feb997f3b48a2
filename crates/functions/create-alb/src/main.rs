//! CreateALB: makes the ALB and its listeners, or restores the snapshot saved when it was
//! deleted. Reuses what already exists, so a second run changes nothing.
//!
//! Adds its [`AlbInPlace`] output (`albExists`, `albArn`, `albDNSName`, `albHostedZoneId`,
//! `albCreated`, `restoredFromSnapshot`, `snapshotKey`, `listenersCreated`, `rulesCreated`) and
//! counts `AlbCreated` or `AlbRestored`.

use lambda_runtime::Error;

use lightsout_alb::ports::{Albs, Snapshots};
use lightsout_alb::step::AlbInPlace;
use lightsout_alb::{AlbError, AlbEvent, AlbSnapshot};
use lightsout_elbv2::Elbv2;
use lightsout_snapshots::SnapshotStore;

async fn handle(
    input: AlbEvent,
    albs: &impl Albs,
    snapshots: &impl Snapshots,
) -> Result<AlbInPlace, AlbError> {
    let snapshot = match &input.snapshot_bucket {
        Some(bucket) => snapshots.load(bucket, &input.alb_name).await?,
        None => None,
    };
    let created = albs.create(&input, snapshot.as_ref()).await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::fake::{event, FakeAccount, WORKING_HOURS};
    use lightsout_alb::snapshot::RuleSnapshot;
    use lightsout_alb::ErrorKind;
    use serde_json::json;

    /// The snapshot DeleteALB would have saved of `input`'s ALB, with one rule more than the
    /// event describes (only the snapshot knows it).
    fn saved(account: &FakeAccount, input: &AlbEvent) -> AlbSnapshot {
        let alb = account.add_alb(input);
        let mut snapshot = account.with(|s| s.albs.remove(&input.alb_name)).unwrap().1;
        assert_eq!(snapshot.alb_arn, alb.arn);
        snapshot.listeners[0].rules.push(RuleSnapshot {
            priority: 10,
            conditions: vec![],
            actions: vec![],
        });
        let key = (
            "lightsout-snapshots".to_string(),
            AlbSnapshot::key(&input.alb_name),
        );
        account.with(|s| s.snapshots.insert(key, snapshot.clone()));
        snapshot
    }

    #[tokio::test]
    async fn without_a_snapshot_the_alb_is_made_from_the_event() {
        let account = FakeAccount::new();
        let input = event(WORKING_HOURS, json!({}));
        let placed = handle(input, &account, &account).await.unwrap();
        assert!(placed.alb_created && !placed.restored_from_snapshot);
        assert_eq!((placed.listeners_created, placed.rules_created), (2, 0));
        assert_eq!(placed.snapshot_key, None);
        let (alb, config) = account.with(|s| s.albs["dev-alb"].clone());
        assert_eq!(
            (placed.alb_arn, placed.alb_dns_name),
            (alb.arn, alb.dns_name)
        );
        let ports: Vec<u16> = config.listeners.iter().map(|l| l.port).collect();
        assert_eq!(ports, [80, 443]);
    }

    #[tokio::test]
    async fn a_saved_snapshot_is_restored_exactly() {
        let account = FakeAccount::new();
        let input = event(WORKING_HOURS, json!({}));
        let snapshot = saved(&account, &input);
        let placed = handle(input, &account, &account).await.unwrap();
        assert!(placed.alb_created && placed.restored_from_snapshot);
        assert_eq!(
            placed.snapshot_key.as_deref(),
            Some("lightsout/alb-snapshots/dev-alb.json")
        );
        assert_eq!((placed.listeners_created, placed.rules_created), (2, 1));
        let restored = account.with(|s| s.albs["dev-alb"].1.clone());
        assert_eq!(restored.listeners, snapshot.listeners);
        assert_eq!(restored.tags, snapshot.tags);
    }

    #[tokio::test]
    async fn an_alb_already_there_is_reused() {
        let account = FakeAccount::new();
        let input = event(WORKING_HOURS, json!({"snapshotBucket": null}));
        let alb = account.add_alb(&input);
        let placed = handle(input, &account, &account).await.unwrap();
        assert!(!placed.alb_created && placed.alb_exists);
        assert_eq!(placed.alb_arn, alb.arn);
        assert_eq!(account.with(|s| s.albs.len()), 1);
    }

    #[tokio::test]
    async fn a_snapshot_that_cannot_be_read_creates_nothing() {
        let account = FakeAccount::new();
        account.fail(
            "GetObject",
            AlbError::new(ErrorKind::SnapshotFailed, "s3://b/k: not JSON"),
        );
        let input = event(WORKING_HOURS, json!({}));
        let error = handle(input, &account, &account).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::SnapshotFailed);
        assert!(account.with(|s| s.albs.is_empty()));
        assert!(!account.with(|s| s.calls.contains(&"CreateLoadBalancer")));
    }
}
