//! CheckExistingALB: does the ALB exist, should it, and does the domain point at it?
//!
//! Adds `albExists`, `albArn`, `albDNSName`, `albHostedZoneId`, `shouldExist`, `shouldExistReason`,
//! `recordExists`, `decisionTime` and `nextStep` to the event and returns all of it.

use chrono::{SecondsFormat, Utc};
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::{next_step, set, should_exist, AlbError, AlbEvent, ErrorKind, IpAddressType};
use lightsout_elbv2::Elbv2;
use lightsout_lambda::metrics::{Metrics, FAILURES};
use lightsout_route53::{AlbTarget, Dns, RecordState};

/// Its metrics (README, "Metrics"): it changes nothing, so only its failures.
const METRICS: &[&str] = &[FAILURES];

async fn handle(mut event: Value, elbv2: &Elbv2, dns: &Dns) -> Result<Value, AlbError> {
    let input = AlbEvent::parse(&event, Utc::now())?;
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
    set(&mut event, "albExists", alb.is_some());
    set(&mut event, "albArn", alb.as_ref().map_or("", |a| &a.arn));
    set(
        &mut event,
        "albDNSName",
        alb.as_ref().map_or("", |a| &a.dns_name),
    );
    set(
        &mut event,
        "albHostedZoneId",
        alb.as_ref().map_or("", |a| &a.canonical_hosted_zone_id),
    );
    set(&mut event, "shouldExist", should);
    set(&mut event, "shouldExistReason", reason);
    set(&mut event, "recordExists", record_exists);
    set(
        &mut event,
        "decisionTime",
        input
            .decision_time
            .to_rfc3339_opts(SecondsFormat::Secs, true),
    );
    set(&mut event, "nextStep", format!("{step:?}"));
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::STANDARD).await;
    let (elbv2, dns) = (Elbv2::new(&config), Dns::new(&config));
    let metrics = Metrics::new("check-existing-alb", METRICS);
    lightsout_lambda::serve(ErrorKind::InvalidInput.name(), &metrics, |event| async {
        handle(event, &elbv2, &dns)
            .await
            .map_err(|e| lightsout_lambda::diagnostic(e.error_type(), &e))
    })
    .await
}
