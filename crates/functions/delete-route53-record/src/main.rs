//! DeleteRoute53Record: deletes the domain's A/AAAA records only where they are aliases to this
//! ALB. Missing is a success; a record pointing anywhere else is left alone and said in the event.
//!
//! Adds its [`RecordGone`] output (`recordExists`: false unless someone else's record is still
//! there, `recordDeleted`, `recordStatus`: `deleted`, `missing` or `left alone: …`) and counts
//! `RecordDeleted` and `RecordLeftAlone`.

use aws_sdk_route53::types::RrType;
use lambda_runtime::Error;

use lightsout_alb::step::RecordGone;
use lightsout_alb::{AlbError, AlbEvent};
use lightsout_route53::{AlbTarget, Dns, RecordState};

async fn handle(input: AlbEvent, dns: &Dns) -> Result<RecordGone, AlbError> {
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
    for kind in [RrType::A, RrType::Aaaa] {
        match dns
            .state(
                &input.hosted_zone_id,
                &input.domain_name,
                kind.clone(),
                &target,
            )
            .await?
        {
            RecordState::Ours(record) => ours.push(record),
            RecordState::Missing => {}
            RecordState::Stale(record) => elsewhere.push(format!(
                "{} is an alias to an earlier ALB ({})",
                kind.as_str(),
                record.alias_target().map_or("", |a| a.dns_name())
            )),
            RecordState::Elsewhere(what) => elsewhere.push(format!("{} is {what}", kind.as_str())),
        }
    }
    let deleted = !ours.is_empty();
    dns.delete(&input.hosted_zone_id, ours).await?;
    let gone = RecordGone::new(deleted, elsewhere);
    tracing::info!(
        domain = input.domain_name,
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
