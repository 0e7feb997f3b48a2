//! DeleteRoute53Record: deletes the domain's A/AAAA records only where they are aliases to this
//! ALB. Missing is a success; a record pointing anywhere else is left alone and said in the event.
//!
//! Adds its [`RecordGone`] output (`recordExists`: false unless someone else's record is still
//! there, `recordDeleted`, `recordStatus`: `deleted`, `missing` or `left alone: …`) and counts
//! `RecordDeleted` and `RecordLeftAlone`.

use lambda_runtime::Error;

use lightsout_alb::ports::{AlbTarget, RecordKind, RecordState, Records};
use lightsout_alb::step::RecordGone;
use lightsout_alb::{AlbError, AlbEvent};
use lightsout_route53::Dns;

async fn handle(input: AlbEvent, records: &impl Records) -> Result<RecordGone, AlbError> {
    let Some(record) = &input.record else {
        tracing::info!(alb = input.alb_name, "no record configured");
        return Ok(RecordGone::no_record());
    };
    let Some(dns_name) = &input.alb_dns_name else {
        return Err(AlbError::invalid(
            "invalid input: albDNSName: expected the ALB's DNS name (CheckExistingALB sets it) to tell \
             this ALB's record from others, got nothing",
        ));
    };
    let target = AlbTarget {
        name: &input.alb_name,
        dns_name,
        hosted_zone_id: "",
    };
    let mut ours = Vec::new();
    let mut elsewhere = Vec::new();
    // Both kinds, whatever the ALB's IP address type is now: an AAAA record of ours from when it
    // was dualstack is ours to delete too.
    for kind in RecordKind::ALL {
        match records
            .state(&record.hosted_zone_id, &record.domain_name, kind, &target)
            .await?
        {
            RecordState::Ours(record) => ours.push(record),
            RecordState::Missing => {}
            RecordState::Stale { alias, .. } => elsewhere.push(format!(
                "{} is an alias to an earlier ALB ({alias})",
                kind.name()
            )),
            RecordState::Elsewhere(what) => elsewhere.push(format!("{} is {what}", kind.name())),
        }
    }
    let deleted = !ours.is_empty();
    records.delete(&record.hosted_zone_id, ours).await?;
    let gone = RecordGone::new(deleted, elsewhere);
    tracing::info!(
        domain = record.domain_name,
        deleted,
        status = %gone.record_status,
        "record checked"
    );
    Ok(gone)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let dns = Dns::new(&config);
    lightsout_alb_step::serve("delete-route53-record", |input| handle(input, &dns)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_alb::fake::{event, record_key, tagged_event, FakeAccount, FakeRecord, NIGHT};
    use lightsout_alb::step::RecordStatus;
    use lightsout_alb::{ErrorKind, StepOutput};
    use serde_json::json;

    const ALB_DNS: &str = "dev-alb-7.ap-northeast-2.elb.amazonaws.com";

    /// The event as CheckExistingALB leaves it, and an account whose zone holds `records`.
    fn setup(records: &[(RecordKind, FakeRecord)]) -> (AlbEvent, FakeAccount) {
        let mut input = event(NIGHT, json!({}));
        input.alb_dns_name = Some(ALB_DNS.into());
        let account = FakeAccount::new();
        for (kind, record) in records {
            let key = record_key(&input, *kind);
            account.with(|s| s.records.insert(key, record.clone()));
        }
        (input, account)
    }

    fn ours() -> FakeRecord {
        FakeRecord::Alias(ALB_DNS.into())
    }

    #[tokio::test]
    async fn an_alb_without_a_record_has_none_to_delete_and_route53_is_not_called() {
        let account = FakeAccount::new();
        let mut input = tagged_event(NIGHT, json!({}));
        input.alb_dns_name = Some(ALB_DNS.into());
        let gone = handle(input, &account).await.unwrap();
        assert_eq!(gone.record_status.to_string(), "no record configured");
        assert!(!gone.record_deleted && !gone.record_exists);
        assert!(gone.counts().is_empty());
        assert!(account.with(|s| s.calls.is_empty()));
    }

    #[tokio::test]
    async fn our_records_are_deleted() {
        let (input, account) = setup(&[(RecordKind::A, ours()), (RecordKind::Aaaa, ours())]);
        let gone = handle(input, &account).await.unwrap();
        assert_eq!(gone.record_status, RecordStatus::Deleted);
        assert!(gone.record_deleted && !gone.record_exists);
        assert!(account.with(|s| s.records.is_empty()));
    }

    #[tokio::test]
    async fn no_record_is_a_success_that_changes_nothing() {
        let (input, account) = setup(&[]);
        let gone = handle(input, &account).await.unwrap();
        assert_eq!(gone.record_status, RecordStatus::Missing);
        assert!(!account.with(|s| s.calls.contains(&"ChangeResourceRecordSets")));
    }

    #[tokio::test]
    async fn records_pointing_elsewhere_are_left_alone_and_said() {
        let earlier = FakeRecord::Alias("dev-alb-1.ap-northeast-2.elb.amazonaws.com".into());
        let (input, account) = setup(&[(RecordKind::A, earlier.clone())]);
        let gone = handle(input, &account).await.unwrap();
        assert_eq!(
            gone.record_status.to_string(),
            "left alone: A is an alias to an earlier ALB (dev-alb-1.ap-northeast-2.elb.amazonaws.com)"
        );
        assert!(gone.record_exists && !gone.record_deleted);
        assert_eq!(account.with(|s| s.records.len()), 1);

        let theirs = FakeRecord::Other("a AAAA record with 2001:db8::1".into());
        let (input, account) = setup(&[(RecordKind::A, ours()), (RecordKind::Aaaa, theirs)]);
        let gone = handle(input.clone(), &account).await.unwrap();
        assert_eq!(
            gone.record_status.to_string(),
            "left alone: AAAA is a AAAA record with 2001:db8::1"
        );
        assert!(gone.record_deleted && !gone.record_exists);
        let left: Vec<RecordKind> = account.with(|s| s.records.keys().map(|k| k.2).collect());
        assert_eq!(left, [RecordKind::Aaaa]);
    }

    #[tokio::test]
    async fn without_the_albs_dns_name_it_is_invalid_input() {
        let (mut input, account) = setup(&[(RecordKind::A, ours())]);
        input.alb_dns_name = None;
        let error = handle(input, &account).await.unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert_eq!(account.with(|s| s.records.len()), 1);
    }
}
