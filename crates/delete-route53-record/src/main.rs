//! DeleteRoute53Record: deletes the domain's A/AAAA records only where they are aliases to this
//! ALB. Missing is a success; a record pointing anywhere else is left alone and said in the event.
//!
//! Adds `recordExists` (false: no record of this ALB's is left), `recordDeleted` and `recordStatus` (`deleted`, `missing` or
//! `left alone: …`).

use aws_sdk_route53::types::RrType;
use chrono::Utc;
use lambda_runtime::Error;
use serde_json::Value;

use lightsout_alb::{set, AlbError, AlbEvent, ErrorKind};
use lightsout_lambda::metrics::{Metrics, FAILURES};
use lightsout_route53::{AlbTarget, Dns, RecordState};

/// Its metrics (README, "Metrics"): the ALB's alias record deleted, or a record at the domain
/// left alone because it points elsewhere.
const METRICS: &[&str] = &["RecordDeleted", "RecordLeftAlone", FAILURES];

/// Counts what an invocation's answer says was done.
fn count(answer: &Value, metrics: &Metrics) {
    if answer["recordDeleted"] == true {
        metrics.add("RecordDeleted", 1);
    }
    if answer["recordStatus"]
        .as_str()
        .is_some_and(|s| s.starts_with("left alone"))
    {
        metrics.add("RecordLeftAlone", 1);
    }
}

async fn handle(mut event: Value, dns: &Dns) -> Result<Value, AlbError> {
    let input = AlbEvent::parse(&event, Utc::now())?;
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
    let status = match (deleted, elsewhere.is_empty()) {
        (_, false) => format!("left alone: {}", elsewhere.join("; ")),
        (true, true) => "deleted".to_string(),
        (false, true) => "missing".to_string(),
    };
    tracing::info!(
        domain = input.domain_name,
        deleted,
        status,
        "record checked"
    );
    set(
        &mut event,
        "recordExists",
        !elsewhere.is_empty() && !deleted,
    );
    set(&mut event, "recordDeleted", deleted);
    set(&mut event, "recordStatus", status);
    Ok(event)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lightsout_lambda::init_logging();
    let config = lightsout_lambda::aws_config(lightsout_lambda::CallLimits::STANDARD).await;
    let dns = Dns::new(&config);
    let metrics = Metrics::new("delete-route53-record", METRICS);
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
        let metrics = Metrics::in_namespace("lightsout", "delete-route53-record", METRICS);
        count(&answer, &metrics);
        function_counts(&metrics).unwrap()
    }

    fn counts(deleted: u64, left_alone: u64) -> Vec<(String, u64)> {
        vec![
            ("Failures".into(), 0),
            ("RecordDeleted".into(), deleted),
            ("RecordLeftAlone".into(), left_alone),
        ]
    }

    #[test]
    fn metrics_count_records_deleted_and_left_alone() {
        let answer =
            |deleted: bool, status: &str| json!({"recordDeleted": deleted, "recordStatus": status});
        assert_eq!(counted(answer(true, "deleted")), counts(1, 0));
        assert_eq!(counted(answer(false, "missing")), counts(0, 0));
        assert_eq!(
            counted(answer(
                false,
                "left alone: A is an alias to an earlier ALB (old.elb.amazonaws.com)"
            )),
            counts(0, 1)
        );
    }
}
