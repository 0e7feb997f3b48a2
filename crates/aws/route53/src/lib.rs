//! The domain's alias record for the ALB: look it up, point it at the ALB, and delete it only
//! when it is ours. A record that points anywhere else belongs to someone else and is left alone.

#![warn(missing_docs)]

use aws_sdk_route53::types::{
    AliasTarget, Change, ChangeAction, ChangeBatch, ResourceRecordSet, RrType,
};
use aws_sdk_route53::Client;
use lightsout_sdk::AwsError;
use tracing::{info, warn};

use lightsout_alb::ports::Records;
use lightsout_alb::{AlbError, ErrorKind};

pub use lightsout_alb::ports::{AlbTarget, RecordKind};

/// A record set as Route 53 has it, handed back to [`Records::delete`] as found (Route 53
/// deletes only an exact match). Opaque: the SDK's type stays in this crate.
#[derive(Debug, Clone, PartialEq)]
pub struct Record(ResourceRecordSet);

/// What the domain's record of one kind is.
pub type RecordState = lightsout_alb::ports::RecordState<Record>;

/// Route 53 over the SDK: the [`Records`] of the workflow.
pub struct Dns {
    client: Client,
}

/// A failed call as the workflow reports it: transient ones are retried by the state machine.
fn alb(error: AwsError) -> AlbError {
    AlbError::aws(error.is_transient(), error)
}

/// `dualstack.My-ALB-1.elb.amazonaws.com.` → `my-alb-1.elb.amazonaws.com`.
pub fn normalize_dns(name: &str) -> String {
    let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
    name.strip_prefix("dualstack.")
        .map(str::to_string)
        .unwrap_or(name)
}

/// Route 53 answers with special characters escaped as `\ooo` (`*` is `\052`).
pub fn unescape_route53(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let digits: String = chars.clone().take(3).collect();
            if digits.len() == 3 && digits.chars().all(|d| d.is_digit(8)) {
                if let Some(decoded) = u8::from_str_radix(&digits, 8).ok().map(char::from) {
                    out.push(decoded);
                    chars.nth(2);
                    continue;
                }
            }
        }
        out.push(c);
    }
    out.to_ascii_lowercase()
}

/// Does `dns` (an alias target) name an ALB called `alb_name`? ALB DNS names are
/// `NAME-ID.REGION.elb.amazonaws.com` (`internal-NAME-ID…` for internal ones).
fn is_alb_named(dns: &str, alb_name: &str) -> bool {
    let dns = normalize_dns(dns);
    let name = alb_name.to_ascii_lowercase();
    let first_label = dns.split('.').next().unwrap_or_default();
    let first_label = first_label.strip_prefix("internal-").unwrap_or(first_label);
    dns.contains(".elb.")
        && first_label.strip_prefix(&name).is_some_and(|rest| {
            rest.starts_with('-') && rest[1..].bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// Classifies a record set against the ALB.
fn classify(record: Option<&ResourceRecordSet>, target: &AlbTarget<'_>) -> RecordState {
    let Some(record) = record else {
        return RecordState::Missing;
    };
    match record.alias_target() {
        Some(alias) if normalize_dns(alias.dns_name()) == normalize_dns(target.dns_name) => {
            RecordState::Ours(Record(record.clone()))
        }
        Some(alias) if is_alb_named(alias.dns_name(), target.name) => RecordState::Stale {
            record: Record(record.clone()),
            alias: normalize_dns(alias.dns_name()),
        },
        Some(alias) => {
            RecordState::Elsewhere(format!("an alias to {}", normalize_dns(alias.dns_name())))
        }
        None => {
            let values: Vec<&str> = record
                .resource_records()
                .iter()
                .map(|r| r.value())
                .collect();
            RecordState::Elsewhere(format!(
                "a {} record with {}",
                record.r#type().as_str(),
                values.join(", ")
            ))
        }
    }
}

impl Dns {
    /// Route 53 with `config`.
    pub fn new(config: &aws_types::SdkConfig) -> Dns {
        Dns {
            client: Client::new(config),
        }
    }

    /// The record set of `domain` (trailing dot included) and `kind` in the zone, if any.
    async fn find(
        &self,
        zone: &str,
        domain: &str,
        kind: RrType,
    ) -> Result<Option<ResourceRecordSet>, AlbError> {
        let answer = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(zone)
            .start_record_name(domain)
            .start_record_type(kind.clone())
            .max_items(10)
            .send()
            .await
            .map_err(AwsError::map("ListResourceRecordSets", alb))?;
        let wanted = domain.to_ascii_lowercase();
        Ok(answer
            .resource_record_sets()
            .iter()
            .find(|r| r.r#type() == &kind && unescape_route53(r.name()) == wanted)
            .cloned())
    }

    async fn state_of(
        &self,
        zone: &str,
        domain: &str,
        kind: RrType,
        target: &AlbTarget<'_>,
    ) -> Result<RecordState, AlbError> {
        Ok(classify(
            self.find(zone, domain, kind).await?.as_ref(),
            target,
        ))
    }

    /// Points `domain` at the ALB (A, and AAAA for dualstack) in one change batch. Fails with
    /// `RecordConflict`, changing nothing, if a record of someone else's is there. Returns whether
    /// anything changed.
    async fn upsert_kinds(
        &self,
        zone: &str,
        domain: &str,
        kinds: &[RrType],
        target: &AlbTarget<'_>,
    ) -> Result<bool, AlbError> {
        let mut changes = Vec::new();
        for kind in kinds {
            match self.state_of(zone, domain, kind.clone(), target).await? {
                RecordState::Ours(_) => {}
                RecordState::Missing | RecordState::Stale { .. } => changes.push(alias_change(
                    ChangeAction::Upsert,
                    domain,
                    kind.clone(),
                    target,
                )),
                RecordState::Elsewhere(what) => {
                    return Err(AlbError::new(
                        ErrorKind::RecordConflict,
                        format!(
                            "{} {domain} is {what}, not this ALB's: left alone",
                            kind.as_str()
                        ),
                    ))
                }
            }
        }
        if changes.is_empty() {
            return Ok(false);
        }
        self.change(
            zone,
            changes,
            "lightsout: point the domain at the working-hours ALB",
        )
        .await?;
        info!(domain, alb = target.dns_name, "alias record upserted");
        Ok(true)
    }

    /// Deletes the given record sets exactly as they are (Route 53 matches every field).
    ///
    /// A DELETE is not idempotent: when the answer to an attempt that deleted the records is lost
    /// (dropped connection, timeout), the SDK's retry is refused (InvalidChangeBatch: not found).
    /// So when the change fails, the records are looked up again, and if none of them is still
    /// there the deletion is done.
    async fn delete_sets(
        &self,
        zone: &str,
        records: Vec<ResourceRecordSet>,
    ) -> Result<(), AlbError> {
        if records.is_empty() {
            return Ok(());
        }
        let changes = records
            .iter()
            .cloned()
            .map(|r| {
                Change::builder()
                    .action(ChangeAction::Delete)
                    .resource_record_set(r)
                    .build()
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                alb(AwsError::new(
                    "ChangeResourceRecordSets",
                    "BuildError",
                    e.to_string(),
                ))
            })?;
        let error = match self
            .change(
                zone,
                changes,
                "lightsout: the working-hours ALB is going away",
            )
            .await
        {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        for record in &records {
            let now = self
                .find(
                    zone,
                    &unescape_route53(record.name()),
                    record.r#type().clone(),
                )
                .await?;
            if now.as_ref() == Some(record) {
                return Err(error);
            }
        }
        warn!(error = %error, "the DELETE failed, but the records are gone: an earlier attempt whose answer was lost deleted them");
        Ok(())
    }

    async fn change(
        &self,
        zone: &str,
        changes: Vec<Change>,
        comment: &str,
    ) -> Result<(), AlbError> {
        let batch = ChangeBatch::builder()
            .comment(comment)
            .set_changes(Some(changes))
            .build()
            .map_err(|e| {
                alb(AwsError::new(
                    "ChangeResourceRecordSets",
                    "BuildError",
                    e.to_string(),
                ))
            })?;
        self.client
            .change_resource_record_sets()
            .hosted_zone_id(zone)
            .change_batch(batch)
            .send()
            .await
            .map_err(AwsError::map("ChangeResourceRecordSets", alb))?;
        Ok(())
    }
}

/// The SDK's record type of a kind.
fn rr_type(kind: RecordKind) -> RrType {
    match kind {
        RecordKind::A => RrType::A,
        RecordKind::Aaaa => RrType::Aaaa,
    }
}

impl Records for Dns {
    type Record = Record;

    async fn state(
        &self,
        zone: &str,
        domain: &str,
        kind: RecordKind,
        target: &AlbTarget<'_>,
    ) -> Result<RecordState, AlbError> {
        self.state_of(zone, domain, rr_type(kind), target).await
    }

    async fn upsert(
        &self,
        zone: &str,
        domain: &str,
        kinds: &[RecordKind],
        target: &AlbTarget<'_>,
    ) -> Result<bool, AlbError> {
        let kinds: Vec<RrType> = kinds.iter().copied().map(rr_type).collect();
        self.upsert_kinds(zone, domain, &kinds, target).await
    }

    async fn delete(&self, zone: &str, records: Vec<Record>) -> Result<(), AlbError> {
        self.delete_sets(zone, records.into_iter().map(|r| r.0).collect())
            .await
    }
}

fn alias_change(
    action: ChangeAction,
    domain: &str,
    kind: RrType,
    target: &AlbTarget<'_>,
) -> Change {
    let alias = AliasTarget::builder()
        .hosted_zone_id(target.hosted_zone_id)
        .dns_name(target.dns_name)
        .evaluate_target_health(false)
        .build()
        .expect("hosted zone id, DNS name and evaluate-target-health are all set");
    let record = ResourceRecordSet::builder()
        .name(domain)
        .r#type(kind)
        .alias_target(alias)
        .build()
        .expect("name and type are set");
    Change::builder()
        .action(action)
        .resource_record_set(record)
        .build()
        .expect("action and record are set")
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_route53::types::ResourceRecord;

    const TARGET: AlbTarget<'static> = AlbTarget {
        name: "dev-alb",
        dns_name: "dev-alb-123456.ap-northeast-2.elb.amazonaws.com",
        hosted_zone_id: "ZWKZPGTI48KDX",
    };

    fn alias_record(dns: &str) -> ResourceRecordSet {
        ResourceRecordSet::builder()
            .name("dev.example.com.")
            .r#type(RrType::A)
            .alias_target(
                AliasTarget::builder()
                    .hosted_zone_id("Z")
                    .dns_name(dns)
                    .evaluate_target_health(false)
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap()
    }

    #[test]
    fn classifies_records() {
        assert_eq!(classify(None, &TARGET), RecordState::Missing);
        assert!(matches!(
            classify(
                Some(&alias_record(
                    "dualstack.DEV-ALB-123456.ap-northeast-2.elb.amazonaws.com."
                )),
                &TARGET
            ),
            RecordState::Ours(_)
        ));
        assert!(matches!(
            classify(
                Some(&alias_record(
                    "dev-alb-999.ap-northeast-2.elb.amazonaws.com"
                )),
                &TARGET
            ),
            RecordState::Stale { .. }
        ));
        assert!(matches!(
            classify(
                Some(&alias_record(
                    "internal-dev-alb-999.ap-northeast-2.elb.amazonaws.com"
                )),
                &TARGET
            ),
            RecordState::Stale { .. }
        ));
        assert_eq!(
            classify(
                Some(&alias_record(
                    "dev-alb-two-1.ap-northeast-2.elb.amazonaws.com"
                )),
                &TARGET
            ),
            RecordState::Elsewhere(
                "an alias to dev-alb-two-1.ap-northeast-2.elb.amazonaws.com".into()
            )
        );
        assert!(matches!(
            classify(Some(&alias_record("d111.cloudfront.net")), &TARGET),
            RecordState::Elsewhere(_)
        ));
        let plain = ResourceRecordSet::builder()
            .name("dev.example.com.")
            .r#type(RrType::A)
            .ttl(300)
            .resource_records(
                ResourceRecord::builder()
                    .value("192.0.2.1")
                    .build()
                    .unwrap(),
            )
            .build()
            .unwrap();
        assert_eq!(
            classify(Some(&plain), &TARGET),
            RecordState::Elsewhere("a A record with 192.0.2.1".into())
        );
    }

    mod deleting {
        use super::*;
        use aws_sdk_route53::config::{BehaviorVersion, Credentials, Region};
        use lightsout_sdk::fake_aws::FakeAws;

        const NS: &str = "https://route53.amazonaws.com/doc/2013-04-01/";

        fn dns(fake: &FakeAws) -> Dns {
            let config = aws_sdk_route53::Config::builder()
                .behavior_version(BehaviorVersion::latest())
                .region(Region::new("us-east-1"))
                .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
                .endpoint_url("http://route53.test")
                .http_client(fake.clone())
                .build();
            Dns {
                client: aws_sdk_route53::Client::from_conf(config),
            }
        }

        fn listing(records: &str) -> String {
            format!(
                "<ListResourceRecordSetsResponse xmlns=\"{NS}\"><ResourceRecordSets>{records}</ResourceRecordSets>\
                 <IsTruncated>false</IsTruncated><MaxItems>10</MaxItems></ListResourceRecordSetsResponse>"
            )
        }

        const OUR_ALIAS: &str = "<ResourceRecordSet><Name>dev.example.com.</Name><Type>A</Type><AliasTarget>\
            <HostedZoneId>Z</HostedZoneId><DNSName>dev-alb-123456.ap-northeast-2.elb.amazonaws.com</DNSName>\
            <EvaluateTargetHealth>false</EvaluateTargetHealth></AliasTarget></ResourceRecordSet>";

        /// Route 53's answer to deleting a record that is not there (its own error document).
        fn not_found() -> String {
            format!(
                "<InvalidChangeBatch xmlns=\"{NS}\"><Messages><Message>Tried to delete resource record set \
                 [name='dev.example.com.', type='A'] but it was not found</Message></Messages>\
                 <RequestId>r</RequestId></InvalidChangeBatch>"
            )
        }

        fn access_denied() -> String {
            format!(
                "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>AccessDenied</Code>\
                 <Message>not allowed</Message></Error><RequestId>r</RequestId></ErrorResponse>"
            )
        }

        /// The record as the first lookup found it.
        async fn our_record(fake: &FakeAws) -> Record {
            match dns(fake)
                .state("Z1", "dev.example.com.", RecordKind::A, &TARGET)
                .await
            {
                Ok(RecordState::Ours(record)) => record,
                other => panic!("expected our alias, got {other:?}"),
            }
        }

        #[tokio::test]
        async fn a_delete_whose_answer_was_lost_is_done() {
            let lookups = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
            let seen = lookups.clone();
            let fake = FakeAws::new(move |line, _| {
                if line.starts_with("GET ") {
                    // The record is there at first; after the (lost) DELETE it is gone.
                    let n = seen.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    (200, listing(if n == 0 { OUR_ALIAS } else { "" }))
                } else {
                    (400, not_found())
                }
            });
            let record = our_record(&fake).await;
            dns(&fake)
                .delete("Z1", vec![record])
                .await
                .expect("the record is gone: done");
            let methods: Vec<&str> = fake
                .requests()
                .iter()
                .map(|r| {
                    if r.starts_with("GET") {
                        "list"
                    } else {
                        "change"
                    }
                })
                .collect();
            assert_eq!(methods, ["list", "change", "list"]);
        }

        #[tokio::test]
        async fn a_refused_delete_of_a_record_still_there_is_an_error() {
            let fake = FakeAws::new(|line, _| {
                if line.starts_with("GET ") {
                    (200, listing(OUR_ALIAS))
                } else {
                    (403, access_denied())
                }
            });
            let record = our_record(&fake).await;
            let error = dns(&fake)
                .delete("Z1", vec![record])
                .await
                .expect_err("the record is still there");
            assert_eq!(error.kind, ErrorKind::AwsError);
            assert!(
                error
                    .message
                    .starts_with("ChangeResourceRecordSets: AccessDenied"),
                "{error}"
            );
        }
    }

    #[test]
    fn names() {
        assert_eq!(unescape_route53("\\052.Example.com."), "*.example.com.");
        assert_eq!(unescape_route53("a\\b.com."), "a\\b.com.");
        assert_eq!(
            normalize_dns("DualStack.x.elb.amazonaws.com."),
            "x.elb.amazonaws.com"
        );
    }
}
