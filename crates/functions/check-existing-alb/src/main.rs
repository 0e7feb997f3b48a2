//! CheckExistingALB: does the ALB exist, should it, and does the domain point at it?
//!
//! Adds its [`Checked`] output (`albExists`, `albArn`, `albDNSName`, `albHostedZoneId`,
//! `shouldExist`, `shouldExistReason`, `recordExists`, `decisionTime`, `nextStep`) to the event and
//! returns all of it. It changes nothing, so it counts only its failures.

use chrono::SecondsFormat;
use lambda_runtime::Error;

use lightsout_alb::step::Checked;
use lightsout_alb::{next_step, should_exist, AlbError, AlbEvent, IpAddressType};
use lightsout_elbv2::Elbv2;
use lightsout_route53::{AlbTarget, Dns, RecordState};

async fn handle(input: AlbEvent, elbv2: &Elbv2, dns: &Dns) -> Result<Checked, AlbError> {
    let alb = elbv2.find(&input.alb_name).await?;
    let (should, reason) = should_exist(&input);
    let mut record_exists = false;
    if let Some(alb) = &alb {
        let target = AlbTarget {
            name: &input.alb_name,
            dns_name: &alb.dns_name,
            hosted_zone_id: &alb.canonical_hosted_zone_id,
        };
        let mut kinds = vec![aws_sdk_route53::types::RrType::A];
        if input.ip_address_type == IpAddressType::Dualstack {
            kinds.push(aws_sdk_route53::types::RrType::Aaaa);
        }
        record_exists = true;
        for kind in kinds {
            let state = dns
                .state(&input.hosted_zone_id, &input.domain_name, kind, &target)
                .await?;
            record_exists &= matches!(state, RecordState::Ours(_));
        }
    }
    let step = next_step(alb.is_some(), should, record_exists);
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
