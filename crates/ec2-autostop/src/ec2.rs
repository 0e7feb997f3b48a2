//! The EC2 calls: list managed instances, start and stop them, tag what was done. Everything AWS-specific lives here.

use std::collections::BTreeMap;

use aws_sdk_ec2::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::types::{Filter, Tag};
use aws_sdk_ec2::Client;

use lightsout_schedule::policy::{enable_filter_values, TAG_ENABLE};
use lightsout_schedule::InstanceState;

use crate::batch::CallError;

/// What the function needs to know about one instance.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub state: InstanceState,
    pub tags: BTreeMap<String, String>,
    /// EC2's reason for the current state, e.g. `Client.UserInitiatedShutdown: User initiated
    /// shutdown` or, for a start that failed after the call, `Client.InternalError: …`.
    pub state_reason: Option<String>,
}

impl Instance {
    pub fn name(&self) -> Option<String> {
        self.tags.get("Name").cloned()
    }
}

/// The EC2 operations the function uses, so the orchestration can be tested with a fake.
pub trait Ec2 {
    fn region(&self) -> &str;
    /// Every instance tagged `AUTOSTOP_ENABLE=true` (any case) that is pending, running, stopping
    /// or stopped, across every page.
    async fn managed_instances(&self) -> Result<Vec<Instance>, CallError>;
    /// With `dry_run`, AWS checks permissions and answers `DryRunOperation`: counted as success.
    async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), CallError>;
    async fn stop(&self, ids: Vec<String>, hibernate: bool, dry_run: bool)
        -> Result<(), CallError>;
    /// Sets the tag `key` to `value` on every instance of `ids` (one CreateTags call).
    async fn tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), CallError>;
}

/// The real thing: one SDK client per region, built once per cold start.
pub struct Ec2Client {
    pub region: String,
    pub client: Client,
    /// DescribeInstances page size: by default the API's maximum, so N instances cost ⌈N/1000⌉ calls.
    pub page_size: i32,
}

impl Ec2 for Ec2Client {
    fn region(&self) -> &str {
        &self.region
    }

    async fn managed_instances(&self) -> Result<Vec<Instance>, CallError> {
        let enabled = Filter::builder()
            .name(format!("tag:{TAG_ENABLE}"))
            .set_values(Some(enable_filter_values()))
            .build();
        let states = Filter::builder()
            .name("instance-state-name")
            .set_values(Some(
                ["pending", "running", "stopping", "stopped"]
                    .map(String::from)
                    .to_vec(),
            ))
            .build();
        let mut pages = self
            .client
            .describe_instances()
            .filters(enabled)
            .filters(states)
            .max_results(self.page_size)
            .into_paginator()
            .send();
        let mut instances = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(call_error)?;
            for reservation in page.reservations() {
                for instance in reservation.instances() {
                    let Some(id) = instance.instance_id() else {
                        continue;
                    };
                    let state = instance
                        .state()
                        .and_then(|s| s.name())
                        .map_or(InstanceState::Other, |n| {
                            InstanceState::from_ec2(n.as_str())
                        });
                    let tags = instance
                        .tags()
                        .iter()
                        .filter_map(|t| {
                            Some((t.key()?.to_string(), t.value().unwrap_or("").to_string()))
                        })
                        .collect();
                    let state_reason = instance
                        .state_reason()
                        .and_then(|r| r.message().or(r.code()))
                        .map(str::trim)
                        .filter(|r| !r.is_empty())
                        .map(String::from);
                    instances.push(Instance {
                        id: id.to_string(),
                        state,
                        tags,
                        state_reason,
                    });
                }
            }
        }
        Ok(instances)
    }

    async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), CallError> {
        let result = self
            .client
            .start_instances()
            .set_instance_ids(Some(ids))
            .dry_run(dry_run)
            .send()
            .await;
        dry_run_ok(result.map(drop).map_err(call_error))
    }

    async fn stop(
        &self,
        ids: Vec<String>,
        hibernate: bool,
        dry_run: bool,
    ) -> Result<(), CallError> {
        let mut request = self
            .client
            .stop_instances()
            .set_instance_ids(Some(ids))
            .dry_run(dry_run);
        if hibernate {
            request = request.hibernate(true);
        }
        dry_run_ok(request.send().await.map(drop).map_err(call_error))
    }

    async fn tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), CallError> {
        self.client
            .create_tags()
            .set_resources(Some(ids))
            .tags(Tag::builder().key(key).value(value).build())
            .send()
            .await
            .map(drop)
            .map_err(call_error)
    }
}

/// A dry run that would have succeeded answers with the `DryRunOperation` error.
fn dry_run_ok(result: Result<(), CallError>) -> Result<(), CallError> {
    match result {
        Err(e) if e.code == "DryRunOperation" => Ok(()),
        other => other,
    }
}

/// Turns an SDK error into the code and message the report shows.
fn call_error<E, R>(error: SdkError<E, R>) -> CallError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let (code, message) = lightsout_lambda::aws_error(&error);
    let whole_call = !matches!(error, SdkError::ServiceError(_)) || is_call_level(&code);
    CallError {
        code,
        message,
        whole_call,
    }
}

/// Errors about the request itself, not about particular instance ids.
fn is_call_level(code: &str) -> bool {
    matches!(
        code,
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
