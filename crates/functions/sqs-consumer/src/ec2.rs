//! The EC2 side of a request: find the target instances, refuse the unmanaged ones, start or stop
//! the rest and set or clear their hold tag, then write what was done in their
//! `lightsout:last-action` tag (`started … request <id>`). Every step is safe to repeat, so a
//! redelivered message that failed half-way simply finishes the job. The last-action tag is a
//! record, not part of the job: a failure to write it is put in the instance's outcome detail and
//! does not fail the request.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use tracing::{info, warn};

use lightsout_ec2::Selector;
use lightsout_requests::hold::default_hold;
use lightsout_requests::{Action, InstanceOutcome, Request, Target};
use lightsout_schedule::last_action::zone_of;
use lightsout_schedule::policy::{is_enabled, TAG_ENABLE, TAG_HOLD_UNTIL};
use lightsout_schedule::{
    classify, Cause, Classification, Done, Instance, InstanceState, LastAction, TAG_LAST_ACTION,
};
use lightsout_sdk::AwsError;

/// An AWS call that failed: the message is retried.
#[derive(Debug)]
pub struct AwsFailure(String);

impl std::fmt::Display for AwsFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<AwsError> for AwsFailure {
    fn from(error: AwsError) -> AwsFailure {
        AwsFailure(error.to_string())
    }
}

/// The request's side of EC2, over lightsout-ec2's adapter.
pub struct Ec2 {
    ec2: lightsout_ec2::Ec2,
}

impl Ec2 {
    pub fn new(config: &aws_types::SdkConfig) -> Ec2 {
        Ec2 {
            ec2: lightsout_ec2::Ec2::new(config),
        }
    }

    /// Carries out `request`. Returns what happened to each instance, and the hold set by a wake
    /// with `until` (a wake without one holds each instance to the end of its own window).
    pub async fn carry_out(
        &self,
        request: &Request,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<(Vec<InstanceOutcome>, Option<String>), AwsFailure> {
        let found = self.find(&request.target).await?;
        let mut outcomes = Vec::new();
        if let Target::InstanceIds(ids) = &request.target {
            for id in ids.iter().filter(|id| !found.iter().any(|f| &f.id == *id)) {
                outcomes.push(outcome(
                    id,
                    "not found",
                    Some("no such instance, or it is terminated".into()),
                ));
            }
        }
        let (managed, unmanaged): (Vec<Instance>, Vec<Instance>) = found
            .into_iter()
            .partition(|f| is_enabled(f.tags.get(TAG_ENABLE).map(String::as_str)));
        for f in &unmanaged {
            info!(
                request_id = request.request_id,
                instance_id = f.id,
                "refused: not managed"
            );
            outcomes.push(outcome(
                &f.id,
                "refused",
                Some(format!("not managed: no {TAG_ENABLE}=true tag")),
            ));
        }
        if managed.is_empty() {
            return Ok((outcomes, None));
        }
        match request.action {
            Action::Wake => {
                // The hold goes on first: set after the start, a lost CreateTags would leave a
                // started instance that the schedule stops again. If the hold or the start then
                // fails, the holds are put back as they were (`undo_holds`), so a wake that is
                // given up (dead-lettered) leaves no hold that makes the schedule start it later.
                let holds = match self.hold(&managed, request, zone, now).await {
                    Ok(holds) => holds,
                    Err(failure) => return Err(self.undo_holds(&managed, request, failure).await),
                };
                let stopped: Vec<String> = managed
                    .iter()
                    .filter(|f| f.state == InstanceState::Stopped)
                    .map(|f| f.id.clone())
                    .collect();
                if !stopped.is_empty() {
                    let started = self.ec2.start(stopped.clone(), false).await;
                    if let Err(failure) = started {
                        return Err(self.undo_holds(&managed, request, failure.into()).await);
                    }
                }
                let untagged = self
                    .record(&managed, &stopped, Done::Started, request, zone, now)
                    .await;
                for f in &managed {
                    let result = match f.state {
                        InstanceState::Stopped => "started",
                        InstanceState::Stopping => {
                            "stopping; the schedule starts it on its next run (it is held)"
                        }
                        _ => "already running",
                    };
                    let held = holds.get(&f.id).map(|h| format!("held until {h}"));
                    outcomes.push(outcome(
                        &f.id,
                        result,
                        with_tag_failure(held, &untagged, &f.id),
                    ));
                }
                Ok((outcomes, request.until.clone()))
            }
            Action::Sleep => {
                // The hold goes first (cleared after the stop, a lost DeleteTags would leave a
                // stopped instance that the schedule starts again for its hold), and is put back
                // if the stop fails.
                let ids: Vec<String> = managed.iter().map(|f| f.id.clone()).collect();
                self.set_hold(ids, None).await?;
                let running: Vec<String> = managed
                    .iter()
                    .filter(|f| matches!(f.state, InstanceState::Running | InstanceState::Pending))
                    .map(|f| f.id.clone())
                    .collect();
                if !running.is_empty() {
                    let stopped = self.ec2.stop(running.clone(), false, false).await;
                    if let Err(failure) = stopped {
                        return Err(self.undo_holds(&managed, request, failure.into()).await);
                    }
                }
                let untagged = self
                    .record(&managed, &running, Done::Stopped, request, zone, now)
                    .await;
                for f in &managed {
                    let result =
                        if matches!(f.state, InstanceState::Running | InstanceState::Pending) {
                            "stopped"
                        } else {
                            "already stopped"
                        };
                    let detail = with_tag_failure(Some("hold cleared".into()), &untagged, &f.id);
                    outcomes.push(outcome(&f.id, result, detail));
                }
                Ok((outcomes, None))
            }
        }
    }

    /// Writes `lightsout:last-action` = `<done> <now in the instance's zone> request <id>` on the
    /// instances of `acted` (ids of `managed`): one CreateTags call per distinct value (the zone's
    /// offset makes the difference) and per 1,000 ids. Returns the ids whose tag could not be set,
    /// with why; nothing is retried (the action itself stands either way).
    async fn record(
        &self,
        managed: &[Instance],
        acted: &[String],
        done: Done,
        request: &Request,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> BTreeMap<String, String> {
        let cause = Cause::Request(request.request_id.clone());
        let mut by_value: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in managed.iter().filter(|f| acted.contains(&f.id)) {
            let value = LastAction::new(done, now, zone_of(&f.tags, zone), cause.clone()).value();
            by_value.entry(value).or_default().push(f.id.clone());
        }
        let mut failed = BTreeMap::new();
        for (value, ids) in by_value {
            for chunk in ids.chunks(1000) {
                let result = self
                    .ec2
                    .set_tag(chunk.to_vec(), TAG_LAST_ACTION, &value)
                    .await;
                if let Err(error) = result {
                    warn!(
                        request_id = request.request_id,
                        instance_ids = ?chunk,
                        value,
                        error = %error,
                        "last-action tag not set"
                    );
                    failed.extend(chunk.iter().map(|id| (id.clone(), error.to_string())));
                }
            }
        }
        failed
    }

    /// Sets `AUTOSTOP_HOLD_UNTIL` on every managed instance: `until`, or the end of its own window.
    async fn hold(
        &self,
        managed: &[Instance],
        request: &Request,
        zone: Tz,
        now: DateTime<Utc>,
    ) -> Result<BTreeMap<String, String>, AwsFailure> {
        let mut by_value: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for f in managed {
            let until = match &request.until {
                Some(until) => until.clone(),
                None => {
                    let schedule = match classify(&f.tags, zone) {
                        Classification::Managed(policy) => Some(policy.schedule),
                        _ => None,
                    };
                    default_hold(schedule.as_ref(), zone, now)
                        .to_rfc3339_opts(SecondsFormat::Secs, true)
                }
            };
            by_value.entry(until).or_default().push(f.id.clone());
        }
        let mut holds = BTreeMap::new();
        for (until, ids) in by_value {
            self.set_hold(ids.clone(), Some(&until)).await?;
            holds.extend(ids.into_iter().map(|id| (id, until.clone())));
        }
        Ok(holds)
    }

    /// Sets `AUTOSTOP_HOLD_UNTIL` to `until` on `ids`, or with `None` removes it.
    async fn set_hold(&self, ids: Vec<String>, until: Option<&str>) -> Result<(), AwsFailure> {
        match until {
            Some(until) => self.ec2.set_tag(ids, TAG_HOLD_UNTIL, until).await?,
            None => self.ec2.delete_tag(ids, TAG_HOLD_UNTIL).await?,
        }
        Ok(())
    }

    /// After `failure`, puts every instance's `AUTOSTOP_HOLD_UNTIL` back as `managed` found it:
    /// the value it had, or none. Returns `failure`, with a note naming the instances where that
    /// could not be done: their hold then stays, since a redelivery cannot tell it from one they
    /// had before the request (RELIABILITY.md, known limits).
    async fn undo_holds(
        &self,
        managed: &[Instance],
        request: &Request,
        failure: AwsFailure,
    ) -> AwsFailure {
        let mut had: BTreeMap<Option<&str>, Vec<String>> = BTreeMap::new();
        for f in managed {
            let before = f.tags.get(TAG_HOLD_UNTIL).map(String::as_str);
            had.entry(before).or_default().push(f.id.clone());
        }
        let mut not_undone = Vec::new();
        for (before, ids) in had {
            if let Err(error) = self.set_hold(ids.clone(), before).await {
                warn!(
                    request_id = request.request_id,
                    instance_ids = ?ids,
                    error = %error,
                    "{TAG_HOLD_UNTIL} not put back after a failed request"
                );
                not_undone.push(format!("{} ({error})", some_of(&ids)));
            }
        }
        if not_undone.is_empty() {
            failure
        } else {
            AwsFailure(format!(
                "{failure}; {TAG_HOLD_UNTIL} not put back as it was on {}",
                not_undone.join("; ")
            ))
        }
    }

    async fn find(&self, target: &Target) -> Result<Vec<Instance>, AwsFailure> {
        let selector = match target {
            Target::InstanceIds(ids) => Selector::Ids(ids.clone()),
            Target::Tag(tag) => Selector::Tag {
                key: tag.key.clone(),
                value: tag.value.clone(),
            },
        };
        let mut found = self.ec2.instances(&selector).await?;
        // The filters already say this; checked again so that an endpoint that ignores one can
        // never widen the request (docs/testing.md, "Testing notes").
        found.retain(|f| target.selects(&f.id, &f.tags));
        Ok(found)
    }
}

/// The first few of `ids`, and how many more: a failure reason stays short for a tag target of
/// thousands of instances.
fn some_of(ids: &[String]) -> String {
    const SHOWN: usize = 5;
    match ids.len().checked_sub(SHOWN) {
        Some(more) if more > 0 => format!("{} and {more} more", ids[..SHOWN].join(", ")),
        _ => ids.join(", "),
    }
}

/// `detail`, with a note when the instance's last-action tag could not be set.
fn with_tag_failure(
    detail: Option<String>,
    untagged: &BTreeMap<String, String>,
    id: &str,
) -> Option<String> {
    match (detail, untagged.get(id)) {
        (detail, None) => detail,
        (None, Some(why)) => Some(format!("{TAG_LAST_ACTION} tag not set ({why})")),
        (Some(detail), Some(why)) => {
            Some(format!("{detail}; {TAG_LAST_ACTION} tag not set ({why})"))
        }
    }
}

fn outcome(id: &str, result: &str, detail: Option<String>) -> InstanceOutcome {
    InstanceOutcome {
        instance_id: id.to_string(),
        result: result.to_string(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_names_a_few_instances() {
        let ids = |n: usize| (1..=n).map(|i| format!("i-{i}")).collect::<Vec<_>>();
        assert_eq!(some_of(&ids(1)), "i-1");
        assert_eq!(some_of(&ids(5)), "i-1, i-2, i-3, i-4, i-5");
        assert_eq!(some_of(&ids(1000)), "i-1, i-2, i-3, i-4, i-5 and 995 more");
        assert_eq!(some_of(&[]), "");
    }

    #[test]
    fn a_tag_failure_is_noted_in_the_detail() {
        let untagged = BTreeMap::from([(
            "i-2".to_string(),
            "CreateTags: RequestLimitExceeded: slow down".to_string(),
        )]);
        assert_eq!(
            with_tag_failure(Some("hold cleared".into()), &untagged, "i-1").as_deref(),
            Some("hold cleared")
        );
        assert_eq!(
            with_tag_failure(Some("hold cleared".into()), &untagged, "i-2").as_deref(),
            Some(
                "hold cleared; lightsout:last-action tag not set (CreateTags: \
                 RequestLimitExceeded: slow down)"
            )
        );
        assert_eq!(
            with_tag_failure(None, &untagged, "i-2").as_deref(),
            Some("lightsout:last-action tag not set (CreateTags: RequestLimitExceeded: slow down)")
        );
        assert_eq!(with_tag_failure(None, &untagged, "i-1"), None);
    }
}
