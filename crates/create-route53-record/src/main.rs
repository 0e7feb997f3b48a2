//! CreateRoute53Record: points the domain at the ALB with an alias A record (and AAAA for a
//! dualstack ALB). A record that belongs to something else is not overwritten (`RecordConflict`).
//!
//! Adds `recordExists` (true) and `recordChanged`.

use aws_sdk_route53::types::RrType;
use chrono::Utc;
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::{set, AlbError, AlbEvent, ErrorKind, IpAddressType};
use lightsout_lambda::metrics::{Metrics, FAILURES};
use lightsout_route53::{AlbTarget, Dns};

/// Its metrics (README, "Metrics"): the alias record created (or changed to point at the ALB).
const METRICS: &[&str] = &["RecordCreated", FAILURES];

/// Counts what an invocation's answer says was done.
fn count(answer: &Value, metrics: &Metrics) {
    if answer["recordChanged"] == true {
        metrics.add("RecordCreated", 1);
    }
}

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
    let metrics = Metrics::new("create-route53-record", METRICS);
    lightsout_lambda::serve(ErrorKind::InvalidInput.name(), &metrics, |event| async {
        let answer = handle(event, &dns)
            .await
            .map_err(|e| lightsout_lambda::diagnostic(e.error_type(), &e))?;
        count(&answer, &metrics);
        Ok(answer)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_lambda::metrics::function_counts;
    use serde_json::json;

    fn counted(answer: Value) -> Vec<(String, u64)> {
        let metrics = Metrics::in_namespace("lightsout", "create-route53-record", METRICS);
        count(&answer, &metrics);
        function_counts(&metrics).unwrap()
    }

    #[test]
    fn metrics_count_a_record_written() {
        let answer = |changed: bool| json!({"recordExists": true, "recordChanged": changed});
        let counts = |created: u64| {
            vec![
                ("Failures".to_string(), 0),
                ("RecordCreated".into(), created),
            ]
        };
        assert_eq!(counted(answer(true)), counts(1));
        // Already pointing at the ALB: nothing written.
        assert_eq!(counted(answer(false)), counts(0));
    }
}
