//! CreateRoute53Record: points the domain at the ALB with an alias A record (and AAAA for a
//! dualstack ALB). A record that belongs to something else is not overwritten (`RecordConflict`).
//!
//! Adds `recordExists` (true) and `recordChanged`.

use aws_sdk_route53::types::RrType;
use chrono::Utc;
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::{set, AlbError, AlbEvent, ErrorKind, IpAddressType};
use lightsout_route53::{AlbTarget, Dns};

async fn handle(mut event: Value, dns: &Dns) -> Result<Value, AlbError> {
    let input = AlbEvent::parse(&event, Utc::now())?;
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
    let mut kinds = vec![RrType::A];
    if input.ip_address_type == IpAddressType::Dualstack {
        kinds.push(RrType::Aaaa);
    }
    let changed = dns
        .upsert(&input.hosted_zone_id, &input.domain_name, &kinds, &target)
        .await?;
    tracing::info!(
        domain = input.domain_name,
        alb = dns_name,
        changed,
        "record in place"
    );
    set(&mut event, "recordExists", true);
    set(&mut event, "recordChanged", changed);
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::STANDARD).await;
    let dns = Dns::new(&config);
    lightsout_lambda::serve(ErrorKind::InvalidInput.name(), |event| async {
        handle(event, &dns)
            .await
            .map_err(|e| lightsout_lambda::diagnostic(e.error_type(), &e))
    })
    .await
}
