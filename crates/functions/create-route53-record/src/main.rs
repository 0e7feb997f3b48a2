//! CreateRoute53Record: points the domain at the ALB with an alias A record (and AAAA for a
//! dualstack ALB). A record that belongs to something else is not overwritten (`RecordConflict`).
//!
//! Adds its [`RecordInPlace`] output (`recordExists` true, `recordChanged`) and counts
//! `RecordCreated`.

use lambda_runtime::Error;

use lightsout_alb::ports::{AlbTarget, RecordKind, Records};
use lightsout_alb::step::RecordInPlace;
use lightsout_alb::{AlbError, AlbEvent};
use lightsout_route53::Dns;

async fn handle(input: AlbEvent, records: &impl Records) -> Result<RecordInPlace, AlbError> {
    let Some(record) = &input.record else {
        tracing::info!(alb = input.alb_name, "no record configured");
        return Ok(RecordInPlace::no_record());
    };
    let (Some(dns_name), Some(zone)) = (&input.alb_dns_name, &input.alb_hosted_zone_id) else {
        return Err(AlbError::invalid(
            "invalid input: albDNSName and albHostedZoneId: expected the ALB's DNS name and hosted zone \
             (CheckExistingALB or CreateALB sets them), got nothing",
        ));
    };
    let target = AlbTarget {
        name: &input.alb_name,
        dns_name,
        hosted_zone_id: zone,
    };
    let kinds = RecordKind::for_alb(input.ip_address_type);
    let changed = records
        .upsert(&record.hosted_zone_id, &record.domain_name, kinds, &target)
        .await?;
    tracing::info!(
        domain = record.domain_name,
        alb = dns_name,
        changed,
        "record in place"
    );
    Ok(RecordInPlace::new(changed))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let dns = Dns::new(&config);
    lightsout_alb_step::serve("create-route53-record", |input| handle(input, &dns)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::fake::{
        event, record_key, tagged_event, FakeAccount, FakeRecord, WORKING_HOURS,
    };
    use lightsout_alb::ErrorKind;
    use serde_json::json;

    const ALB_DNS: &str = "dev-alb-7.ap-northeast-2.elb.amazonaws.com";

    /// The event as CreateALB leaves it: the ALB's DNS name and zone set.
    fn created(changes: serde_json::Value) -> AlbEvent {
        let mut input = event(WORKING_HOURS, changes);
        input.alb_dns_name = Some(ALB_DNS.into());
        input.alb_hosted_zone_id = Some("ZWKZPGTI48KDX".into());
        input
    }

    fn record(account: &FakeAccount, input: &AlbEvent, kind: RecordKind) -> Option<FakeRecord> {
        let key = record_key(input, kind);
        account.with(|s| s.records.get(&key).cloned())
    }

    #[tokio::test]
    async fn a_dualstack_alb_gets_a_and_aaaa_and_a_second_run_changes_nothing() {
        let account = FakeAccount::new();
        let input = created(json!({"ipAddressType": "dualstack"}));
        assert_eq!(
            handle(input.clone(), &account).await.unwrap(),
            RecordInPlace::new(true)
        );
        for kind in RecordKind::ALL {
            assert_eq!(
                record(&account, &input, kind),
                Some(FakeRecord::Alias(ALB_DNS.into()))
            );
        }
        assert_eq!(
            handle(input, &account).await.unwrap(),
            RecordInPlace::new(false)
        );
    }

    #[tokio::test]
    async fn an_ipv4_alb_gets_an_a_record_only() {
        let account = FakeAccount::new();
        let input = created(json!({}));
        handle(input.clone(), &account).await.unwrap();
        assert!(record(&account, &input, RecordKind::A).is_some());
        assert_eq!(record(&account, &input, RecordKind::Aaaa), None);
    }

    #[tokio::test]
    async fn a_record_of_an_earlier_alb_of_the_name_is_repointed() {
        let account = FakeAccount::new();
        let input = created(json!({}));
        let key = record_key(&input, RecordKind::A);
        let earlier = FakeRecord::Alias("dev-alb-1.ap-northeast-2.elb.amazonaws.com".into());
        account.with(|s| s.records.insert(key, earlier));
        assert!(
            handle(input.clone(), &account)
                .await
                .unwrap()
                .record_changed
        );
        assert_eq!(
            record(&account, &input, RecordKind::A),
            Some(FakeRecord::Alias(ALB_DNS.into()))
        );
    }

    #[tokio::test]
    async fn an_alb_without_a_record_gets_none_and_route53_is_not_called() {
        let account = FakeAccount::new();
        let mut input = tagged_event(WORKING_HOURS, json!({}));
        input.alb_dns_name = Some(ALB_DNS.into());
        input.alb_hosted_zone_id = Some("ZWKZPGTI48KDX".into());
        let placed = handle(input, &account).await.unwrap();
        assert_eq!(placed, RecordInPlace::no_record());
        assert!(account.with(|s| s.calls.is_empty() && s.records.is_empty()));
    }

    #[tokio::test]
    async fn someone_elses_record_is_a_conflict_and_left_as_it_is() {
        let account = FakeAccount::new();
        let input = created(json!({}));
        let key = record_key(&input, RecordKind::A);
        let theirs = FakeRecord::Other("a CNAME record with legacy.example.net".into());
        account.with(|s| s.records.insert(key, theirs.clone()));
        let error = handle(input.clone(), &account).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::RecordConflict);
        assert_eq!(record(&account, &input, RecordKind::A), Some(theirs));
    }

    #[tokio::test]
    async fn without_the_albs_dns_name_it_is_invalid_input_and_changes_nothing() {
        let account = FakeAccount::new();
        let error = handle(event(WORKING_HOURS, json!({})), &account)
            .await
            .unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert!(error.message.contains("albDNSName"), "{}", error.message);
        assert!(account.with(|s| s.calls.is_empty()));
    }
}
