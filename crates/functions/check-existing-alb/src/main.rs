//! CheckExistingALB: does the ALB exist, should it, and does the domain point at it?
//!
//! Adds its [`Checked`] output (`albExists`, `albArn`, `albDNSName`, `albHostedZoneId`,
//! `shouldExist`, `shouldExistReason`, `recordExists`, `decisionTime`, `nextStep`) to the event and
//! returns all of it. It changes nothing, so it counts only its failures.

use chrono::SecondsFormat;
use lambda_runtime::Error;

use lightsout_alb::ports::{AlbTarget, Albs, RecordKind, RecordState, Records};
use lightsout_alb::step::Checked;
use lightsout_alb::{next_step, should_exist, AlbError, AlbEvent};
use lightsout_elbv2::Elbv2;
use lightsout_route53::Dns;

async fn handle(
    input: AlbEvent,
    albs: &impl Albs,
    records: &impl Records,
) -> Result<Checked, AlbError> {
    let alb = albs.find(&input.alb_name).await?;
    let (should, reason) = should_exist(&input);
    let mut record_exists = false;
    if let (Some(alb), Some(record)) = (&alb, &input.record) {
        let target = AlbTarget {
            name: &input.alb_name,
            dns_name: &alb.dns_name,
            hosted_zone_id: &alb.canonical_hosted_zone_id,
        };
        record_exists = true;
        for &kind in RecordKind::for_alb(input.ip_address_type) {
            let state = records
                .state(&record.hosted_zone_id, &record.domain_name, kind, &target)
                .await?;
            record_exists &= matches!(state, RecordState::Ours(_));
        }
    }
    // An ALB scheduled without a record (no record tags) has none to repair.
    let step = next_step(
        alb.is_some(),
        should,
        record_exists || input.record.is_none(),
    );
    tracing::info!(alb = input.alb_name, exists = alb.is_some(), should_exist = should, record_exists, next = ?step, reason, "checked");
    let alb_exists = alb.is_some();
    // Empty strings for an ALB that does not exist, as the seed's event had them.
    let (arn, dns_name, zone) = alb.map_or_else(Default::default, |a| {
        (a.arn, a.dns_name, a.canonical_hosted_zone_id)
    });
    Ok(Checked {
        alb_exists,
        alb_arn: arn,
        alb_dns_name: dns_name,
        alb_hosted_zone_id: zone,
        should_exist: should,
        should_exist_reason: reason,
        record_exists,
        decision_time: input
            .decision_time
            .to_rfc3339_opts(SecondsFormat::Secs, true),
        next_step: step,
    })
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let (elbv2, dns) = (Elbv2::new(&config), Dns::new(&config));
    lightsout_alb_step::serve("check-existing-alb", |input| handle(input, &elbv2, &dns)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::fake::{
        event, record_key, tagged_event, FakeAccount, FakeRecord, NIGHT, WORKING_HOURS,
    };
    use lightsout_alb::{ErrorKind, NextStep};
    use serde_json::json;

    async fn check(account: &FakeAccount, input: AlbEvent) -> Result<Checked, AlbError> {
        handle(input, account, account).await
    }

    /// `account` with the ALB of `input` and our alias record of each `kinds`.
    fn with_alb(account: &FakeAccount, input: &AlbEvent, kinds: &[RecordKind]) -> String {
        let alb = account.add_alb(input);
        for &kind in kinds {
            let key = record_key(input, kind);
            account.with(|s| {
                s.records
                    .insert(key, FakeRecord::Alias(alb.dns_name.clone()))
            });
        }
        alb.dns_name
    }

    #[tokio::test]
    async fn a_missing_alb_in_working_hours_is_to_be_created_and_nothing_changes() {
        let account = FakeAccount::new();
        let checked = check(&account, event(WORKING_HOURS, json!({})))
            .await
            .unwrap();
        assert!(!checked.alb_exists && checked.should_exist && !checked.record_exists);
        assert_eq!(checked.next_step, NextStep::Create);
        assert_eq!(
            (checked.alb_arn.as_str(), checked.alb_dns_name.as_str()),
            ("", "")
        );
        assert_eq!(checked.decision_time, "2026-11-25T01:00:00Z");
        assert_eq!(account.with(|s| s.calls.clone()), ["DescribeLoadBalancers"]);
    }

    #[tokio::test]
    async fn an_alb_at_night_is_to_be_deleted_and_says_where_it_is() {
        let account = FakeAccount::new();
        let input = event(NIGHT, json!({}));
        let dns_name = with_alb(&account, &input, &[RecordKind::A]);
        let checked = check(&account, input).await.unwrap();
        assert!(checked.alb_exists && !checked.should_exist && checked.record_exists);
        assert_eq!(checked.next_step, NextStep::Delete);
        assert_eq!(checked.alb_dns_name, dns_name);
        assert!(checked.alb_arn.contains(":loadbalancer/app/dev-alb/"));
        assert_eq!(checked.alb_hosted_zone_id, "ZWKZPGTI48KDX");
    }

    #[tokio::test]
    async fn a_dualstack_alb_without_its_aaaa_record_needs_its_record_repaired() {
        let account = FakeAccount::new();
        let input = event(WORKING_HOURS, json!({"ipAddressType": "dualstack"}));
        with_alb(&account, &input, &[RecordKind::A]);
        let checked = check(&account, input.clone()).await.unwrap();
        assert!(!checked.record_exists);
        assert_eq!(checked.next_step, NextStep::RepairRecord);

        let both = FakeAccount::new();
        with_alb(&both, &input, &RecordKind::ALL);
        let checked = check(&both, input).await.unwrap();
        assert_eq!(checked.next_step, NextStep::Nothing);
    }

    #[tokio::test]
    async fn a_record_pointing_elsewhere_is_not_ours() {
        let account = FakeAccount::new();
        let input = event(WORKING_HOURS, json!({}));
        account.add_alb(&input);
        let key = record_key(&input, RecordKind::A);
        account.with(|s| {
            s.records
                .insert(key, FakeRecord::Alias("other.example.net".into()))
        });
        let checked = check(&account, input).await.unwrap();
        assert!(!checked.record_exists);
        assert_eq!(checked.next_step, NextStep::RepairRecord);
    }

    #[tokio::test]
    async fn an_alb_scheduled_without_a_record_needs_none_and_no_record_is_read() {
        let account = FakeAccount::new();
        let input = tagged_event(WORKING_HOURS, json!({}));
        account.add_alb(&input);
        let checked = check(&account, input.clone()).await.unwrap();
        assert!(checked.alb_exists && checked.should_exist && !checked.record_exists);
        assert_eq!(checked.next_step, NextStep::Nothing);
        assert_eq!(account.with(|s| s.calls.clone()), ["DescribeLoadBalancers"]);
        let night = tagged_event(NIGHT, json!({}));
        assert_eq!(
            check(&account, night).await.unwrap().next_step,
            NextStep::Delete
        );
    }

    #[tokio::test]
    async fn a_failed_lookup_is_the_steps_error() {
        let account = FakeAccount::new();
        account.fail(
            "DescribeLoadBalancers",
            AlbError::aws(true, "DescribeLoadBalancers: Throttling: slow down"),
        );
        let error = check(&account, event(NIGHT, json!({}))).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::AwsTransient);
    }
}
