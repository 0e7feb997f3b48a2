//! CreateRoute53Record: points the domain at the ALB with an alias A record (and AAAA for a
//! dualstack ALB). A record that belongs to something else is not overwritten (`RecordConflict`).
//!
//! Adds its [`RecordInPlace`] output (`recordExists` true, `recordChanged`) and counts
//! `RecordCreated`.

use aws_sdk_route53::types::RrType;
use lambda_runtime::Error;

use lightsout_alb::step::RecordInPlace;
use lightsout_alb::{AlbError, AlbEvent, IpAddressType};
use lightsout_route53::{AlbTarget, Dns};

async fn handle(input: AlbEvent, dns: &Dns) -> Result<RecordInPlace, AlbError> {
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
    Ok(RecordInPlace::new(changed))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_runtime::init_logging();
    let config = lightsout_sdk::aws_config(lightsout_sdk::CallLimits::STANDARD).await;
    let dns = Dns::new(&config);
    lightsout_alb_step::serve("create-route53-record", |input| handle(input, &dns)).await
}
