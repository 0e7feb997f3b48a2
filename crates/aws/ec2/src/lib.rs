//! The EC2 calls lightsout makes, as one port ([`Instances`]) that speaks in the pure library's
//! [`Instance`]: list the live instances a [`Selector`] picks (every page), start, stop, set and
//! delete tags; [`Ec2`] implements it over the SDK, whose types stay inside. Used by
//! `ec2-autostop` (the schedule), `sqs-consumer` (requests) and `lightsout plan`, so all three list
//! instances the same way, and the two functions test their orchestration against fakes of the port.

#![warn(missing_docs)]
// The port is implemented and awaited only inside this workspace, by concrete types whose futures
// are `Send`: the `Send` bound the lint asks for is not needed.
#![allow(async_fn_in_trait)]

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client;
use aws_types::region::Region;
use aws_types::SdkConfig;

use lightsout_schedule::policy::{enable_filter_values, TAG_ENABLE};
use lightsout_schedule::{Instance, InstanceState};
use lightsout_sdk::AwsError;

/// Which instances to list. Every listing is of live instances only (pending, running, stopping,
/// stopped): terminated ones can be neither started nor stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Tagged `AUTOSTOP_ENABLE=true` in any case (what the schedule manages).
    Managed,
    /// These ids; an unknown one is simply absent (a filter, not `InstanceIds`, which would fail
    /// the whole call).
    Ids(Vec<String>),
    /// Tagged `key=value`.
    Tag {
        /// The tag key.
        key: String,
        /// The tag value.
        value: String,
    },
}

/// EC2 in one region: one SDK client, built once per cold start.
pub struct Ec2 {
    region: String,
    client: Client,
    page_size: Option<i32>,
}

impl Ec2 {
    /// EC2 in `config`'s region (empty when it has none).
    pub fn new(config: &SdkConfig) -> Ec2 {
        Ec2 {
            region: config.region().map(ToString::to_string).unwrap_or_default(),
            client: Client::new(config),
            page_size: None,
        }
    }

    /// EC2 in each of `regions`, or in `config`'s own region when `regions` is empty; `None` when
    /// there is no region at all. `page_size`: DescribeInstances results per page.
    pub fn regional(config: &SdkConfig, regions: &[String], page_size: i32) -> Option<Vec<Ec2>> {
        let regions = if regions.is_empty() {
            vec![config.region()?.to_string()]
        } else {
            regions.to_vec()
        };
        Some(
            regions
                .into_iter()
                .map(|region| Ec2 {
                    client: Client::from_conf(
                        aws_sdk_ec2::config::Builder::from(config)
                            .region(Region::new(region.clone()))
                            .build(),
                    ),
                    region,
                    page_size: Some(page_size),
                })
                .collect(),
        )
    }
}

/// What lightsout asks of EC2 in one region (the port); [`Ec2`] is the real one.
pub trait Instances {
    /// The region, as reports name it.
    fn region(&self) -> &str;
    /// Every live instance `selector` picks, across every page, each once.
    async fn instances(&self, selector: &Selector) -> Result<Vec<Instance>, AwsError>;
    /// Starts `ids`. With `dry_run`, AWS checks permissions and answers `DryRunOperation`:
    /// counted as success.
    async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), AwsError>;
    /// Stops (or hibernates) `ids`; `dry_run` as for [`Instances::start`].
    async fn stop(&self, ids: Vec<String>, hibernate: bool, dry_run: bool) -> Result<(), AwsError>;
    /// Sets the tag `key` to `value` on every instance of `ids` (one CreateTags call).
    async fn set_tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), AwsError>;
    /// Removes the tag `key`, whatever its value, from every instance of `ids` (one DeleteTags
    /// call).
    async fn delete_tag(&self, ids: Vec<String>, key: &str) -> Result<(), AwsError>;
}

impl Instances for Ec2 {
    fn region(&self) -> &str {
        &self.region
    }

    async fn instances(&self, selector: &Selector) -> Result<Vec<Instance>, AwsError> {
        let selected = match selector {
            Selector::Managed => Filter::builder()
                .name(format!("tag:{TAG_ENABLE}"))
                .set_values(Some(enable_filter_values())),
            Selector::Ids(ids) => Filter::builder()
                .name("instance-id")
                .set_values(Some(ids.clone())),
            Selector::Tag { key, value } => {
                Filter::builder().name(format!("tag:{key}")).values(value)
            }
        };
        let live = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(
                ["pending", "running", "stopping", "stopped"]
                    .map(String::from)
                    .to_vec(),
            ));
        let mut pages = self
            .client
            .describe_instances()
            .filters(selected.build())
            .filters(live.build())
            .set_max_results(self.page_size)
            .into_paginator()
            .send();
        let mut instances = Vec::new();
        let mut seen = BTreeSet::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(AwsError::of("DescribeInstances"))?;
            for instance in page.reservations().iter().flat_map(|r| r.instances()) {
                match read(instance) {
                    Some(i) if seen.insert(i.id.clone()) => instances.push(i),
                    _ => {}
                }
            }
        }
        Ok(instances)
    }

    async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), AwsError> {
        let result = self
            .client
            .start_instances()
            .set_instance_ids(Some(ids))
            .dry_run(dry_run)
            .send()
            .await;
        dry_run_ok(result.map(drop).map_err(AwsError::of("StartInstances")))
    }

    async fn stop(&self, ids: Vec<String>, hibernate: bool, dry_run: bool) -> Result<(), AwsError> {
        let mut request = self
            .client
            .stop_instances()
            .set_instance_ids(Some(ids))
            .dry_run(dry_run);
        if hibernate {
            request = request.hibernate(true);
        }
        let result = request.send().await;
        dry_run_ok(result.map(drop).map_err(AwsError::of("StopInstances")))
    }

    async fn set_tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), AwsError> {
        self.client
            .create_tags()
            .set_resources(Some(ids))
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map(drop)
            .map_err(AwsError::of("CreateTags"))
    }

    async fn delete_tag(&self, ids: Vec<String>, key: &str) -> Result<(), AwsError> {
        self.client
            .delete_tags()
            .set_resources(Some(ids))
            .tags(Tag::builder().key(key).build())
            .send()
            .await
            .map(drop)
            .map_err(AwsError::of("DeleteTags"))
    }
}

/// One listed instance, or `None` for an answer without an id.
fn read(instance: &aws_sdk_ec2::types::Instance) -> Option<Instance> {
    let id = instance.instance_id()?.to_string();
    let state = instance
        .state()
        .and_then(|s| s.name())
        .map_or(InstanceState::Other, |n| {
            InstanceState::from_ec2(n.as_str())
        });
    let tags: BTreeMap<String, String> = instance
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect();
    let state_reason = instance
        .state_reason()
        .and_then(|r| r.message().or(r.code()))
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(String::from);
    Some(Instance {
        id,
        state,
        tags,
        state_reason,
    })
}

/// A dry run that would have succeeded answers with the `DryRunOperation` error.
fn dry_run_ok(result: Result<(), AwsError>) -> Result<(), AwsError> {
    match result {
        Err(e) if e.code == "DryRunOperation" => Ok(()),
        other => other,
    }
}

/// The failure concerns the call itself, not the instance ids in it (so splitting the ids into
/// smaller calls would not help): no answer, throttling, a server-side failure, or the caller's
/// credentials or account.
pub fn concerns_the_call(error: &AwsError) -> bool {
    !error.answered
        || matches!(
            error.code.as_str(),
            "RequestLimitExceeded"
                | "Throttling"
                | "ThrottlingException"
                | "InternalError"
                | "InternalFailure"
                | "ServiceUnavailable"
                | "Unavailable"
                | "AuthFailure"
                | "Blocked"
                | "OptInRequired"
                | "SignatureDoesNotMatch"
                | "InvalidClientTokenId"
                | "ExpiredToken"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(code: &str, answered: bool) -> AwsError {
        AwsError {
            operation: "StopInstances",
            code: code.into(),
            message: String::new(),
            answered,
        }
    }

    #[test]
    fn errors_about_ids_are_not_about_the_call() {
        assert!(!concerns_the_call(&error("IncorrectInstanceState", true)));
        assert!(!concerns_the_call(&error("UnsupportedOperation", true)));
        assert!(concerns_the_call(&error("RequestLimitExceeded", true)));
        assert!(concerns_the_call(&error("AuthFailure", true)));
        assert!(concerns_the_call(&error("Timeout", false)));
        assert!(concerns_the_call(&error("IncorrectInstanceState", false)));
    }

    #[test]
    fn a_successful_dry_run_is_success_and_nothing_else_is() {
        assert_eq!(dry_run_ok(Err(error("DryRunOperation", true))), Ok(()));
        assert_eq!(
            dry_run_ok(Err(error("UnauthorizedOperation", true))),
            Err(error("UnauthorizedOperation", true))
        );
    }
}
