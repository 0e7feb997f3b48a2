//! The Application Load Balancer operations of the working-hours workflow: find by name, create
//! (from the event, or from a snapshot) idempotently, take a snapshot, delete.

#![warn(missing_docs)]

mod convert;

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_elasticloadbalancingv2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_elasticloadbalancingv2::types::{
    Certificate, IpAddressType as AwsIpAddressType, Listener, LoadBalancer, LoadBalancerAttribute,
    LoadBalancerSchemeEnum, LoadBalancerTypeEnum, ProtocolEnum, Rule, Tag,
};
use aws_sdk_elasticloadbalancingv2::Client;
use lightsout_sdk::AwsError;
use tracing::{info, warn};

use lightsout_alb::discovery::LiveAlb;
use lightsout_alb::ports::Albs;
use lightsout_alb::snapshot::{
    listener_tags, ActionSnapshot, AlbSnapshot, KeyValue, ListenerSnapshot, RuleSnapshot,
    WeightedTargetGroup, SNAPSHOT_VERSION,
};
use lightsout_alb::{AlbError, AlbEvent, Protocol, TargetGroupSpec};

pub use convert::{
    action_from_snapshot, action_to_snapshot, condition_from_snapshot, condition_to_snapshot,
};

/// The TLS policy for HTTPS listeners made from `targetGroups`: TLS 1.3 with 1.2 fallback.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

pub use lightsout_alb::ports::{AlbInfo, Created};

/// The most ARNs DescribeTags takes in one call.
pub const TAGS_PER_CALL: usize = 20;

/// Elastic Load Balancing over the SDK: the [`Albs`] of the workflow.
pub struct Elbv2 {
    client: Client,
}

/// A failed call as the workflow reports it: transient ones are retried by the state machine.
fn alb(error: AwsError) -> AlbError {
    AlbError::aws(error.is_transient(), error)
}

impl Elbv2 {
    /// Elastic Load Balancing with `config`.
    pub fn new(config: &aws_types::SdkConfig) -> Elbv2 {
        Elbv2 {
            client: Client::new(config),
        }
    }

    /// The ALB called `name`, if there is one.
    pub async fn find(&self, name: &str) -> Result<Option<AlbInfo>, AlbError> {
        let answer = self
            .client
            .describe_load_balancers()
            .names(name)
            .send()
            .await;
        let page = match answer {
            Ok(page) => page,
            Err(SdkError::ServiceError(e)) if e.err().is_load_balancer_not_found_exception() => {
                return Ok(None)
            }
            Err(e) => return Err(AwsError::map("DescribeLoadBalancers", alb)(e)),
        };
        Ok(page.load_balancers().first().map(info))
    }

    /// Makes the ALB the event describes, or restores `snapshot`, reusing whatever already exists.
    /// If this call created the ALB and then fails, it deletes it again: no ALB is left without
    /// its listeners.
    pub async fn create(
        &self,
        event: &AlbEvent,
        snapshot: Option<&AlbSnapshot>,
    ) -> Result<Created, AlbError> {
        let (alb, created) = match self.find(&event.alb_name).await? {
            Some(alb) => (alb, false),
            None => (self.create_load_balancer(event, snapshot).await?, true),
        };
        match self.configure(&alb, event, snapshot).await {
            Ok((listeners_created, rules_created)) => Ok(Created {
                alb,
                created,
                listeners_created,
                rules_created,
            }),
            Err(error) if created => {
                warn!(alb = event.alb_name, error = %error, "configuring the new ALB failed; deleting it");
                if let Err(cleanup) = self.delete(&alb.arn).await {
                    warn!(alb = event.alb_name, error = %cleanup, "could not delete the half-made ALB");
                }
                Err(error)
            }
            Err(error) => Err(error),
        }
    }

    /// CreateLoadBalancer, with the snapshot's tags in the call itself: the restored ALB carries
    /// them (`AUTOSTOP_ENABLE` among them, for an ALB found by its tags) from its first moment, so
    /// a run that dies before the tags would be added leaves no untagged ALB behind, and a role
    /// that may create only tagged ALBs (`aws:RequestTag`) may create it.
    async fn create_load_balancer(
        &self,
        event: &AlbEvent,
        snapshot: Option<&AlbSnapshot>,
    ) -> Result<AlbInfo, AlbError> {
        let tags: Vec<Tag> = snapshot
            .map(|s| s.tags.as_slice())
            .unwrap_or_default()
            .iter()
            .filter(|t| !t.key.starts_with("aws:"))
            .map(|t| Tag::builder().key(&t.key).value(&t.value).build())
            .collect();
        let answer = self
            .client
            .create_load_balancer()
            .name(&event.alb_name)
            .r#type(LoadBalancerTypeEnum::Application)
            .scheme(LoadBalancerSchemeEnum::from(event.scheme.as_aws()))
            .ip_address_type(AwsIpAddressType::from(event.ip_address_type.as_aws()))
            .set_subnets(Some(event.subnets.clone()))
            .set_security_groups(
                (!event.security_groups.is_empty()).then(|| event.security_groups.clone()),
            )
            .set_tags((!tags.is_empty()).then_some(tags))
            .send()
            .await
            .map_err(AwsError::map("CreateLoadBalancer", alb))?;
        let alb = answer.load_balancers().first().map(info).ok_or_else(|| {
            alb(AwsError::new(
                "CreateLoadBalancer",
                "EmptyAnswer",
                "no load balancer in the answer",
            ))
        })?;
        info!(alb = event.alb_name, arn = alb.arn, "created load balancer");
        Ok(alb)
    }

    /// Listeners, rules, certificates, attributes and tags: whatever is missing is added.
    async fn configure(
        &self,
        alb: &AlbInfo,
        event: &AlbEvent,
        snapshot: Option<&AlbSnapshot>,
    ) -> Result<(usize, usize), AlbError> {
        let wanted = wanted_listeners(event, snapshot);
        let tags: Vec<Tag> = listener_tags(event, snapshot)
            .iter()
            .map(|t| Tag::builder().key(&t.key).value(&t.value).build())
            .collect();
        let existing = self.listeners(&alb.arn).await?;
        let mut listeners_created = 0;
        let mut rules_created = 0;
        for listener in &wanted {
            let arn = match existing
                .iter()
                .find(|l| l.port() == Some(i32::from(listener.port)))
            {
                Some(found) => found.listener_arn().unwrap_or_default().to_string(),
                None => {
                    listeners_created += 1;
                    self.create_listener(&alb.arn, listener, &tags).await?
                }
            };
            self.ensure_certificates(&arn, listener).await?;
            rules_created += self.ensure_rules(&arn, listener).await?;
        }
        if let Some(snapshot) = snapshot {
            self.ensure_attributes(&alb.arn, &snapshot.attributes)
                .await?;
            self.ensure_tags(&alb.arn, &snapshot.tags).await?;
        }
        Ok((listeners_created, rules_created))
    }

    /// CreateListener, with `tags` (the ALB's opt-in tag, `listener_tags`) in the call itself.
    async fn create_listener(
        &self,
        alb_arn: &str,
        listener: &ListenerSnapshot,
        tags: &[Tag],
    ) -> Result<String, AlbError> {
        let answer = self
            .client
            .create_listener()
            .load_balancer_arn(alb_arn)
            .port(i32::from(listener.port))
            .protocol(ProtocolEnum::from(listener.protocol.as_str()))
            .set_ssl_policy(listener.ssl_policy.clone())
            .set_certificates(
                listener
                    .certificate_arn
                    .as_ref()
                    .map(|arn| vec![Certificate::builder().certificate_arn(arn).build()]),
            )
            .set_default_actions(Some(
                listener
                    .default_actions
                    .iter()
                    .map(action_from_snapshot)
                    .collect(),
            ))
            .set_tags((!tags.is_empty()).then(|| tags.to_vec()))
            .send()
            .await
            .map_err(AwsError::map("CreateListener", alb))?;
        let arn = answer
            .listeners()
            .first()
            .and_then(|l| l.listener_arn())
            .ok_or_else(|| {
                alb(AwsError::new(
                    "CreateListener",
                    "EmptyAnswer",
                    "no listener in the answer",
                ))
            })?;
        info!(
            port = listener.port,
            protocol = listener.protocol,
            "created listener"
        );
        Ok(arn.to_string())
    }

    async fn ensure_certificates(
        &self,
        listener_arn: &str,
        listener: &ListenerSnapshot,
    ) -> Result<(), AlbError> {
        if listener.extra_certificate_arns.is_empty() {
            return Ok(());
        }
        let present: BTreeSet<String> = self
            .listener_certificates(listener_arn)
            .await?
            .into_iter()
            .collect();
        let missing: Vec<Certificate> = listener
            .extra_certificate_arns
            .iter()
            .filter(|arn| !present.contains(*arn))
            .map(|arn| Certificate::builder().certificate_arn(arn).build())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.client
            .add_listener_certificates()
            .listener_arn(listener_arn)
            .set_certificates(Some(missing))
            .send()
            .await
            .map_err(AwsError::map("AddListenerCertificates", alb))?;
        Ok(())
    }

    async fn ensure_rules(
        &self,
        listener_arn: &str,
        listener: &ListenerSnapshot,
    ) -> Result<usize, AlbError> {
        if listener.rules.is_empty() {
            return Ok(0);
        }
        let present: BTreeSet<u32> = self
            .rules(listener_arn)
            .await?
            .iter()
            .filter_map(|r| r.priority()?.parse().ok())
            .collect();
        let mut created = 0;
        for rule in listener
            .rules
            .iter()
            .filter(|r| !present.contains(&r.priority))
        {
            let answer = self
                .client
                .create_rule()
                .listener_arn(listener_arn)
                .priority(rule.priority as i32)
                .set_conditions(Some(
                    rule.conditions
                        .iter()
                        .map(condition_from_snapshot)
                        .collect(),
                ))
                .set_actions(Some(
                    rule.actions.iter().map(action_from_snapshot).collect(),
                ))
                .send()
                .await;
            match answer {
                Ok(_) => created += 1,
                // CreateRule is not idempotent: when the answer to an attempt that made the rule
                // is lost (dropped connection, timeout), the SDK's retry is refused with
                // PriorityInUse. The priority being taken now means the rule is in place, which is
                // what a second run would find and accept too.
                Err(SdkError::ServiceError(e)) if e.err().is_priority_in_use_exception() => {
                    let taken = self
                        .rules(listener_arn)
                        .await?
                        .iter()
                        .any(|r| r.priority() == Some(rule.priority.to_string().as_str()));
                    if !taken {
                        return Err(alb(AwsError::new(
                            "CreateRule",
                            "PriorityInUse",
                            e.err().message().unwrap_or_default(),
                        )));
                    }
                    warn!(
                        priority = rule.priority,
                        "CreateRule: the priority is taken, so an earlier attempt whose answer was lost made the rule"
                    );
                    created += 1;
                }
                Err(e) => return Err(AwsError::map("CreateRule", alb)(e)),
            }
        }
        Ok(created)
    }

    async fn ensure_attributes(&self, alb_arn: &str, wanted: &[KeyValue]) -> Result<(), AlbError> {
        let current: BTreeMap<String, String> = self
            .attributes(alb_arn)
            .await?
            .into_iter()
            .map(|a| (a.key, a.value))
            .collect();
        let changes: Vec<LoadBalancerAttribute> = wanted
            .iter()
            .filter(|a| current.get(&a.key) != Some(&a.value))
            .map(|a| {
                LoadBalancerAttribute::builder()
                    .key(&a.key)
                    .value(&a.value)
                    .build()
            })
            .collect();
        if changes.is_empty() {
            return Ok(());
        }
        self.client
            .modify_load_balancer_attributes()
            .load_balancer_arn(alb_arn)
            .set_attributes(Some(changes))
            .send()
            .await
            .map_err(AwsError::map("ModifyLoadBalancerAttributes", alb))?;
        Ok(())
    }

    async fn ensure_tags(&self, alb_arn: &str, wanted: &[KeyValue]) -> Result<(), AlbError> {
        let current: BTreeMap<String, String> = self
            .tags(alb_arn)
            .await?
            .into_iter()
            .map(|t| (t.key, t.value))
            .collect();
        let missing: Vec<Tag> = wanted
            .iter()
            .filter(|t| !t.key.starts_with("aws:") && current.get(&t.key) != Some(&t.value))
            .map(|t| Tag::builder().key(&t.key).value(&t.value).build())
            .collect();
        if missing.is_empty() {
            return Ok(());
        }
        self.client
            .add_tags()
            .resource_arns(alb_arn)
            .set_tags(Some(missing))
            .send()
            .await
            .map_err(AwsError::map("AddTags", alb))?;
        Ok(())
    }

    /// Everything needed to make the same ALB again.
    pub async fn snapshot(
        &self,
        alb: &AlbInfo,
        name: &str,
        taken_at: &str,
    ) -> Result<AlbSnapshot, AlbError> {
        let mut listeners = Vec::new();
        for listener in self.listeners(&alb.arn).await? {
            listeners.push(self.listener_snapshot(&listener).await?);
        }
        listeners.sort_by_key(|l| l.port);
        Ok(AlbSnapshot {
            version: SNAPSHOT_VERSION,
            alb_name: name.to_string(),
            taken_at: taken_at.to_string(),
            alb_arn: alb.arn.clone(),
            scheme: alb.scheme.clone(),
            ip_address_type: alb.ip_address_type.clone(),
            subnets: alb.subnets.clone(),
            security_groups: alb.security_groups.clone(),
            listeners,
            attributes: self.attributes(&alb.arn).await?,
            tags: self.tags(&alb.arn).await?,
        })
    }

    async fn listener_snapshot(&self, listener: &Listener) -> Result<ListenerSnapshot, AlbError> {
        let port = listener.port().unwrap_or_default();
        let place = format!("listener on port {port}");
        let arn = listener.listener_arn().unwrap_or_default();
        if listener
            .mutual_authentication()
            .and_then(|m| m.mode())
            .is_some_and(|m| m != "off")
        {
            return Err(AlbError::new(
                lightsout_alb::ErrorKind::UnsupportedConfiguration,
                format!("{place}: mutual TLS authentication: a snapshot cannot restore this, so the ALB is left in place"),
            ));
        }
        let default_certificate = listener
            .certificates()
            .iter()
            .find(|c| c.is_default() != Some(false))
            .and_then(|c| c.certificate_arn())
            .map(str::to_string);
        let extra_certificate_arns = if listener.protocol() == Some(&ProtocolEnum::Https) {
            self.listener_certificates(arn)
                .await?
                .into_iter()
                .filter(|c| Some(c) != default_certificate.as_ref())
                .collect()
        } else {
            vec![]
        };
        let default_actions = listener
            .default_actions()
            .iter()
            .map(|a| action_to_snapshot(a, &place))
            .collect::<Result<_, _>>()?;
        let mut rules = Vec::new();
        for rule in self.rules(arn).await? {
            if rule.is_default() == Some(true) || rule.priority() == Some("default") {
                continue;
            }
            let priority: u32 = rule
                .priority()
                .and_then(|p| p.parse().ok())
                .unwrap_or_default();
            let place = format!("{place}, rule {priority}");
            if !rule.transforms().is_empty() {
                return Err(AlbError::new(
                    lightsout_alb::ErrorKind::UnsupportedConfiguration,
                    format!("{place}: URL rewrite transforms: a snapshot cannot restore this, so the ALB is left in place"),
                ));
            }
            rules.push(RuleSnapshot {
                priority,
                conditions: rule
                    .conditions()
                    .iter()
                    .map(|c| condition_to_snapshot(c, &place))
                    .collect::<Result<_, _>>()?,
                actions: rule
                    .actions()
                    .iter()
                    .map(|a| action_to_snapshot(a, &place))
                    .collect::<Result<_, _>>()?,
            });
        }
        rules.sort_by_key(|r| r.priority);
        Ok(ListenerSnapshot {
            port: u16::try_from(port).unwrap_or_default(),
            protocol: listener
                .protocol()
                .map_or("HTTP", |p| p.as_str())
                .to_string(),
            // Only HTTPS listeners have a TLS policy (moto reports one on HTTP listeners too).
            ssl_policy: listener
                .ssl_policy()
                .filter(|_| listener.protocol() == Some(&ProtocolEnum::Https))
                .map(str::to_string),
            certificate_arn: default_certificate,
            extra_certificate_arns,
            default_actions,
            rules,
        })
    }

    /// Deletes the ALB; one that is already gone counts as deleted. Returns whether it existed.
    pub async fn delete(&self, alb_arn: &str) -> Result<bool, AlbError> {
        match self
            .client
            .delete_load_balancer()
            .load_balancer_arn(alb_arn)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(SdkError::ServiceError(e)) if e.err().is_load_balancer_not_found_exception() => {
                Ok(false)
            }
            Err(e) => Err(AwsError::map("DeleteLoadBalancer", alb)(e)),
        }
    }

    /// Every load balancer of the region with all its tags: DescribeLoadBalancers page by page
    /// (400 a page, the most it takes), then DescribeTags for [`TAGS_PER_CALL`] ARNs at a time.
    pub async fn all(&self) -> Result<Vec<LiveAlb>, AlbError> {
        let mut albs: Vec<LiveAlb> = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .describe_load_balancers()
                .page_size(400)
                .set_marker(marker)
                .send()
                .await
                .map_err(AwsError::map("DescribeLoadBalancers", alb))?;
            albs.extend(page.load_balancers().iter().map(|lb| LiveAlb {
                name: lb.load_balancer_name().unwrap_or_default().to_string(),
                application: lb.r#type() == Some(&LoadBalancerTypeEnum::Application),
                info: info(lb),
                tags: BTreeMap::new(),
            }));
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                break;
            }
        }
        for batch in albs.chunks_mut(TAGS_PER_CALL) {
            let answer = self
                .client
                .describe_tags()
                .set_resource_arns(Some(batch.iter().map(|a| a.info.arn.clone()).collect()))
                .send()
                .await
                .map_err(AwsError::map("DescribeTags", alb))?;
            for description in answer.tag_descriptions() {
                let Some(alb) = batch
                    .iter_mut()
                    .find(|a| Some(a.info.arn.as_str()) == description.resource_arn())
                else {
                    continue;
                };
                alb.tags = description
                    .tags()
                    .iter()
                    .filter_map(|t| {
                        Some((
                            t.key()?.to_string(),
                            t.value().unwrap_or_default().to_string(),
                        ))
                    })
                    .collect();
            }
        }
        Ok(albs)
    }

    async fn listeners(&self, alb_arn: &str) -> Result<Vec<Listener>, AlbError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .describe_listeners()
                .load_balancer_arn(alb_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(AwsError::map("DescribeListeners", alb))?;
            out.extend(page.listeners().iter().cloned());
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn rules(&self, listener_arn: &str) -> Result<Vec<Rule>, AlbError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .describe_rules()
                .listener_arn(listener_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(AwsError::map("DescribeRules", alb))?;
            out.extend(page.rules().iter().cloned());
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn listener_certificates(&self, listener_arn: &str) -> Result<Vec<String>, AlbError> {
        let mut out = Vec::new();
        let mut marker = None;
        loop {
            let page = self
                .client
                .describe_listener_certificates()
                .listener_arn(listener_arn)
                .set_marker(marker)
                .send()
                .await
                .map_err(AwsError::map("DescribeListenerCertificates", alb))?;
            out.extend(
                page.certificates()
                    .iter()
                    .filter(|c| c.is_default() != Some(true))
                    .filter_map(|c| c.certificate_arn().map(str::to_string)),
            );
            marker = page.next_marker().map(str::to_string);
            if marker.is_none() {
                return Ok(out);
            }
        }
    }

    async fn attributes(&self, alb_arn: &str) -> Result<Vec<KeyValue>, AlbError> {
        let answer = self
            .client
            .describe_load_balancer_attributes()
            .load_balancer_arn(alb_arn)
            .send()
            .await
            .map_err(AwsError::map("DescribeLoadBalancerAttributes", alb))?;
        Ok(answer
            .attributes()
            .iter()
            .filter_map(|a| {
                Some(KeyValue {
                    key: a.key()?.to_string(),
                    value: a.value().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }

    async fn tags(&self, alb_arn: &str) -> Result<Vec<KeyValue>, AlbError> {
        let answer = self
            .client
            .describe_tags()
            .resource_arns(alb_arn)
            .send()
            .await
            .map_err(AwsError::map("DescribeTags", alb))?;
        Ok(answer
            .tag_descriptions()
            .iter()
            .flat_map(|d| d.tags())
            .filter_map(|t| {
                Some(KeyValue {
                    key: t.key()?.to_string(),
                    value: t.value().unwrap_or_default().to_string(),
                })
            })
            .collect())
    }
}

fn info(lb: &LoadBalancer) -> AlbInfo {
    AlbInfo {
        arn: lb.load_balancer_arn().unwrap_or_default().to_string(),
        dns_name: lb.dns_name().unwrap_or_default().to_string(),
        canonical_hosted_zone_id: lb
            .canonical_hosted_zone_id()
            .unwrap_or_default()
            .to_string(),
        scheme: lb
            .scheme()
            .map_or("internet-facing", |s| s.as_str())
            .to_string(),
        ip_address_type: lb
            .ip_address_type()
            .map_or("ipv4", |t| t.as_str())
            .to_string(),
        subnets: lb
            .availability_zones()
            .iter()
            .filter_map(|zone| zone.subnet_id())
            .map(str::to_string)
            .collect(),
        security_groups: lb.security_groups().to_vec(),
    }
}

/// The port, over the adapter's own methods (which its tests call directly).
impl Albs for Elbv2 {
    async fn find(&self, name: &str) -> Result<Option<AlbInfo>, AlbError> {
        Elbv2::find(self, name).await
    }

    async fn create(
        &self,
        event: &AlbEvent,
        snapshot: Option<&AlbSnapshot>,
    ) -> Result<Created, AlbError> {
        Elbv2::create(self, event, snapshot).await
    }

    async fn snapshot(
        &self,
        alb: &AlbInfo,
        name: &str,
        taken_at: &str,
    ) -> Result<AlbSnapshot, AlbError> {
        Elbv2::snapshot(self, alb, name, taken_at).await
    }

    async fn delete(&self, arn: &str) -> Result<bool, AlbError> {
        Elbv2::delete(self, arn).await
    }

    async fn all(&self) -> Result<Vec<LiveAlb>, AlbError> {
        Elbv2::all(self).await
    }
}

/// The listeners to have: the snapshot's, plus one per `targetGroups` entry on a port the snapshot
/// has no listener for (a target group added to the input since the snapshot was taken).
pub fn wanted_listeners(event: &AlbEvent, snapshot: Option<&AlbSnapshot>) -> Vec<ListenerSnapshot> {
    let mut listeners: Vec<ListenerSnapshot> =
        snapshot.map(|s| s.listeners.clone()).unwrap_or_default();
    for spec in &event.target_groups {
        if !listeners.iter().any(|l| l.port == spec.port) {
            listeners.push(listener_from_spec(spec));
        }
    }
    listeners
}

fn listener_from_spec(spec: &TargetGroupSpec) -> ListenerSnapshot {
    let https = spec.protocol == Protocol::Https;
    ListenerSnapshot {
        port: spec.port,
        protocol: spec.protocol.as_aws().to_string(),
        ssl_policy: https.then(|| DEFAULT_SSL_POLICY.to_string()),
        certificate_arn: if https {
            spec.certificate_arn.clone()
        } else {
            None
        },
        extra_certificate_arns: vec![],
        default_actions: vec![ActionSnapshot::Forward {
            order: None,
            target_groups: vec![WeightedTargetGroup {
                target_group_arn: spec.target_group_arn.clone(),
                weight: None,
            }],
            stickiness_seconds: None,
        }],
        rules: vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_elasticloadbalancingv2::config::{BehaviorVersion, Credentials, Region};
    use lightsout_sdk::fake_aws::FakeAws;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    const NS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

    fn elbv2(fake: &FakeAws) -> Elbv2 {
        let config = aws_sdk_elasticloadbalancingv2::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("ap-northeast-2"))
            .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
            .endpoint_url("http://elb.test")
            .http_client(fake.clone())
            .build();
        Elbv2 {
            client: Client::from_conf(config),
        }
    }

    /// The Query API action of every request the fake got, in order.
    fn actions_of(fake: &FakeAws) -> Vec<String> {
        fake.requests()
            .iter()
            .map(|r| {
                r.split("Action=")
                    .nth(1)
                    .and_then(|a| a.split('&').next())
                    .unwrap_or_default()
                    .to_string()
            })
            .collect()
    }

    /// An ELB with `n` load balancers (every 10th a Network Load Balancer), `page` to a page, and
    /// tags `team=<i>` on each (AUTOSTOP_ENABLE=true on the even ones).
    fn account_of(n: usize, page: usize) -> FakeAws {
        let arn =
            |i: usize| format!("arn:aws:elasticloadbalancing:r:1:loadbalancer/app/lb-{i}/{i}");
        FakeAws::new(move |_, body| {
            let form: BTreeMap<String, String> = body
                .split('&')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.replace("%3A", ":").replace("%2F", "/")))
                .collect();
            let answer = if form.get("Action").map(String::as_str) == Some("DescribeTags") {
                let descriptions: String = form
                    .iter()
                    .filter(|(k, _)| k.starts_with("ResourceArns.member."))
                    .map(|(_, a)| {
                        let i: usize = a.rsplit('/').next().unwrap().parse().unwrap();
                        let enable = if i.is_multiple_of(2) {
                            "<member><Key>AUTOSTOP_ENABLE</Key><Value>true</Value></member>"
                        } else {
                            ""
                        };
                        format!(
                            "<member><ResourceArn>{a}</ResourceArn><Tags><member><Key>team</Key>\
                             <Value>{i}</Value></member>{enable}</Tags></member>"
                        )
                    })
                    .collect();
                format!(
                    "<DescribeTagsResponse xmlns=\"{NS}\"><DescribeTagsResult><TagDescriptions>\
                     {descriptions}</TagDescriptions></DescribeTagsResult></DescribeTagsResponse>"
                )
            } else {
                let start: usize = form.get("Marker").map_or(0, |m| m.parse().unwrap());
                let end = (start + page).min(n);
                let members: String = (start..end)
                    .map(|i| {
                        let kind = if i % 10 == 9 { "network" } else { "application" };
                        format!(
                            "<member><LoadBalancerArn>{}</LoadBalancerArn><LoadBalancerName>lb-{i}\
                             </LoadBalancerName><Type>{kind}</Type><DNSName>lb-{i}.elb.test</DNSName>\
                             <AvailabilityZones><member><SubnetId>subnet-{i}a</SubnetId></member>\
                             <member><SubnetId>subnet-{i}b</SubnetId></member></AvailabilityZones>\
                             <SecurityGroups><member>sg-{i}</member></SecurityGroups></member>",
                            arn(i)
                        )
                    })
                    .collect();
                let next = if end < n {
                    format!("<NextMarker>{end}</NextMarker>")
                } else {
                    String::new()
                };
                format!(
                    "<DescribeLoadBalancersResponse xmlns=\"{NS}\"><DescribeLoadBalancersResult>\
                     <LoadBalancers>{members}</LoadBalancers>{next}</DescribeLoadBalancersResult>\
                     </DescribeLoadBalancersResponse>"
                )
            };
            (200, answer)
        })
    }

    #[tokio::test]
    async fn every_load_balancer_is_listed_with_its_tags_20_arns_a_call() {
        let fake = account_of(45, 30);
        let albs = elbv2(&fake).all().await.unwrap();
        assert_eq!(albs.len(), 45);
        let actions = actions_of(&fake);
        assert_eq!(
            actions,
            [
                "DescribeLoadBalancers",
                "DescribeLoadBalancers",
                "DescribeTags",
                "DescribeTags",
                "DescribeTags"
            ]
        );
        for (i, alb) in albs.iter().enumerate() {
            assert_eq!(alb.name, format!("lb-{i}"));
            assert_eq!(alb.tags["team"], i.to_string(), "{alb:?}");
            assert_eq!(
                alb.tags.contains_key("AUTOSTOP_ENABLE"),
                i.is_multiple_of(2)
            );
            assert_eq!(alb.application, i % 10 != 9);
            assert_eq!(
                alb.info.subnets,
                [format!("subnet-{i}a"), format!("subnet-{i}b")]
            );
            assert_eq!(alb.info.security_groups, [format!("sg-{i}")]);
        }
    }

    #[tokio::test]
    async fn an_account_without_load_balancers_makes_one_call() {
        let fake = account_of(0, 30);
        assert!(elbv2(&fake).all().await.unwrap().is_empty());
        assert_eq!(fake.requests().len(), 1);
    }

    fn rules_answer(priorities: &[&str]) -> String {
        let members: String = priorities
            .iter()
            .map(|p| {
                format!(
                    "<member><RuleArn>arn:rule/{p}</RuleArn><Priority>{p}</Priority><IsDefault>{}</IsDefault></member>",
                    *p == "default"
                )
            })
            .collect();
        format!(
            "<DescribeRulesResponse xmlns=\"{NS}\"><DescribeRulesResult><Rules>{members}</Rules></DescribeRulesResult>\
             <ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></DescribeRulesResponse>"
        )
    }

    fn priority_in_use() -> String {
        format!(
            "<ErrorResponse xmlns=\"{NS}\"><Error><Type>Sender</Type><Code>PriorityInUse</Code>\
             <Message>The specified priority is in use.</Message></Error><RequestId>r</RequestId></ErrorResponse>"
        )
    }

    fn listener_with_rule_10() -> ListenerSnapshot {
        serde_json::from_value(serde_json::json!({
            "port": 443, "protocol": "HTTPS",
            "defaultActions": [{"type": "forward", "targetGroups": [{"targetGroupArn": "arn:tg/web"}]}],
            "rules": [{
                "priority": 10,
                "conditions": [{"field": "path-pattern", "values": ["/ws*"]}],
                "actions": [{"type": "forward", "targetGroups": [{"targetGroupArn": "arn:tg/ws"}]}]
            }]
        }))
        .expect("a valid listener snapshot")
    }

    /// The per-ALB event discovery makes for `qa`, an ALB found by its tags.
    fn tagged_qa() -> AlbEvent {
        AlbEvent::parse(
            &serde_json::json!({
                "albName": "qa", "tags": {"AUTOSTOP_ENABLE": "true", "TIME": "9-18"},
                "subnets": ["subnet-a", "subnet-b"], "snapshotBucket": "b-1"
            }),
            "2026-11-25T00:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn a_restored_alb_is_created_with_its_snapshots_tags_in_the_call() {
        let fake = FakeAws::new(|_, _| {
            (
                200,
                format!(
                    "<CreateLoadBalancerResponse xmlns=\"{NS}\"><CreateLoadBalancerResult><LoadBalancers>\
                     <member><LoadBalancerArn>arn:aws:elasticloadbalancing:r:1:loadbalancer/app/qa/1\
                     </LoadBalancerArn><LoadBalancerName>qa</LoadBalancerName></member></LoadBalancers>\
                     </CreateLoadBalancerResult></CreateLoadBalancerResponse>"
                ),
            )
        });
        let event = tagged_qa();
        let snapshot: AlbSnapshot = serde_json::from_value(serde_json::json!({
            "version": 1, "albName": "qa", "takenAt": "", "albArn": "", "scheme": "internal",
            "ipAddressType": "ipv4", "listeners": [], "attributes": [],
            "tags": [{"key": "AUTOSTOP_ENABLE", "value": "true"}, {"key": "team", "value": "web"},
                     {"key": "aws:cloudformation:stack-name", "value": "theirs"}]
        }))
        .unwrap();
        let elbv2 = elbv2(&fake);
        elbv2
            .create_load_balancer(&event, Some(&snapshot))
            .await
            .unwrap();
        let [request] = fake.requests().try_into().unwrap();
        assert!(
            request.contains("Tags.member.1.Key=AUTOSTOP_ENABLE&Tags.member.1.Value=true"),
            "{request}"
        );
        assert!(
            request.contains("Tags.member.2.Key=team&Tags.member.2.Value=web"),
            "{request}"
        );
        // AWS's own tags cannot be set by anyone: left out.
        assert!(!request.contains("cloudformation"), "{request}");
        // Without a snapshot (the single-ALB input's first run) there are no tags to send.
        elbv2.create_load_balancer(&event, None).await.unwrap();
        assert!(
            !fake.requests()[1].contains("Tags."),
            "{}",
            fake.requests()[1]
        );
    }

    #[tokio::test]
    async fn listeners_made_for_an_opted_in_alb_carry_its_opt_in_tag() {
        let fake = FakeAws::new(|_, body| {
            if body.contains("Action=DescribeListeners") {
                (
                    200,
                    format!(
                        "<DescribeListenersResponse xmlns=\"{NS}\"><DescribeListenersResult>\
                         <Listeners/></DescribeListenersResult></DescribeListenersResponse>"
                    ),
                )
            } else if body.contains("Action=CreateListener") {
                (
                    200,
                    format!(
                        "<CreateListenerResponse xmlns=\"{NS}\"><CreateListenerResult><Listeners>\
                         <member><ListenerArn>arn:listener/1</ListenerArn><Port>80</Port></member>\
                         </Listeners></CreateListenerResult></CreateListenerResponse>"
                    ),
                )
            } else if body.contains("Action=DescribeLoadBalancerAttributes") {
                (
                    200,
                    format!(
                        "<DescribeLoadBalancerAttributesResponse xmlns=\"{NS}\">\
                         <DescribeLoadBalancerAttributesResult><Attributes/>\
                         </DescribeLoadBalancerAttributesResult>\
                         </DescribeLoadBalancerAttributesResponse>"
                    ),
                )
            } else if body.contains("Action=DescribeTags") {
                (
                    200,
                    format!(
                        "<DescribeTagsResponse xmlns=\"{NS}\"><DescribeTagsResult>\
                         <TagDescriptions/></DescribeTagsResult></DescribeTagsResponse>"
                    ),
                )
            } else {
                (400, format!("unexpected request: {body}"))
            }
        });
        let alb = AlbInfo {
            arn: "arn:aws:elasticloadbalancing:r:1:loadbalancer/app/qa/1".into(),
            dns_name: "qa-1.elb.amazonaws.com".into(),
            canonical_hosted_zone_id: "Z1".into(),
            scheme: "internal".into(),
            ip_address_type: "ipv4".into(),
            subnets: vec![],
            security_groups: vec![],
        };
        let snapshot: AlbSnapshot = serde_json::from_value(serde_json::json!({
            "version": 1, "albName": "qa", "takenAt": "", "albArn": "", "scheme": "internal",
            "ipAddressType": "ipv4", "attributes": [],
            "listeners": [{"port": 80, "protocol": "HTTP", "defaultActions": [
                {"type": "forward", "targetGroups": [{"targetGroupArn": "arn:tg/web"}]}]}],
            "tags": []
        }))
        .unwrap();
        // The opt-in tag comes from the event here (an ALB found by its tags).
        let event = tagged_qa();
        let elbv2 = elbv2(&fake);
        elbv2
            .configure(&alb, &event, Some(&snapshot))
            .await
            .unwrap();
        let create = fake.requests()[1].clone();
        assert!(create.contains("Action=CreateListener"), "{create}");
        assert!(
            create.contains("Tags.member.1.Key=AUTOSTOP_ENABLE&Tags.member.1.Value=true"),
            "{create}"
        );
        assert!(
            !create.contains("Tags.member.2"),
            "only the opt-in tag: {create}"
        );
    }

    /// ELB as it answers a retried CreateRule whose first attempt made the rule: the retry gets
    /// PriorityInUse, and the rules listed afterwards include it.
    fn lost_answer_elb(rule_made: bool) -> FakeAws {
        let describes = Arc::new(AtomicUsize::new(0));
        FakeAws::new(move |_, body| {
            if body.contains("Action=DescribeRules") {
                let n = describes.fetch_add(1, Ordering::SeqCst);
                if n == 0 || !rule_made {
                    (200, rules_answer(&["default"]))
                } else {
                    (200, rules_answer(&["default", "10"]))
                }
            } else if body.contains("Action=CreateRule") {
                (400, priority_in_use())
            } else {
                (400, format!("unexpected request: {body}"))
            }
        })
    }

    #[tokio::test]
    async fn a_rule_whose_create_answer_was_lost_counts_as_in_place() {
        let fake = lost_answer_elb(true);
        let created = elbv2(&fake)
            .ensure_rules("arn:listener/1", &listener_with_rule_10())
            .await
            .expect("the rule is in place");
        assert_eq!(created, 1);
        let calls = actions_of(&fake);
        assert_eq!(calls, ["DescribeRules", "CreateRule", "DescribeRules"]);
    }

    #[tokio::test]
    async fn priority_in_use_without_a_rule_there_is_an_error() {
        let fake = lost_answer_elb(false);
        let error = elbv2(&fake)
            .ensure_rules("arn:listener/1", &listener_with_rule_10())
            .await
            .expect_err("nothing is at that priority");
        assert_eq!(error.kind, lightsout_alb::ErrorKind::AwsError);
        assert!(
            error.message.starts_with("CreateRule: PriorityInUse"),
            "{error}"
        );
    }
}
