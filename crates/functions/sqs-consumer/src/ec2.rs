//! The EC2 side of a request: find the target instances, refuse the unmanaged ones, start or stop
//! the rest and set or clear their hold tag, then write what was done in their
//! `lightsout:last-action` tag (`started … request <id>`). Every step is safe to repeat, so a
//! redelivered message that failed half-way simply finishes the job. The last-action tag is a
//! record, not part of the job: a failure to write it is put in the instance's outcome detail and
//! does not fail the request. It works over lightsout-ec2's port ([`Instances`]), so the
//! orchestration (hold first, undo on failure, the last-action record) is unit-tested below
//! against an in-memory EC2.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Tz;
use tracing::{info, warn};

use lightsout_ec2::{Instances, Selector};
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

/// The request's side of EC2, over the port: lightsout-ec2's adapter in the function, a fake in
/// the tests.
pub struct Ec2<E = lightsout_ec2::Ec2> {
    ec2: E,
}

impl Ec2 {
    pub fn new(config: &aws_types::SdkConfig) -> Ec2 {
        Ec2 {
            ec2: lightsout_ec2::Ec2::new(config),
        }
    }
}

impl<E: Instances> Ec2<E> {
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
    use std::cell::RefCell;

    use chrono::TimeZone;
    use lightsout_requests::TagSelector;

    const SEOUL: Tz = Tz::Asia__Seoul;
    /// Wednesday 2026-12-02, 10:00 in Seoul: inside a `09:00~18:00` window.
    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 2, 1, 0, 0).unwrap()
    }
    const END_OF_WINDOW: &str = "2026-12-02T18:00:00+09:00";

    /// An in-memory EC2 that applies what it is asked (states, tags) and logs each call. A call
    /// whose operation (and, for tags, key) is in `failing` fails with `UnauthorizedOperation`;
    /// `ignores_filters` lists every instance whatever the selector (as an endpoint that ignores
    /// a filter would).
    #[derive(Default)]
    struct FakeEc2 {
        instances: RefCell<BTreeMap<String, Instance>>,
        failing: Vec<(&'static str, Option<&'static str>)>,
        ignores_filters: bool,
        calls: RefCell<Vec<String>>,
    }

    impl FakeEc2 {
        fn with(instances: Vec<Instance>) -> FakeEc2 {
            FakeEc2 {
                instances: RefCell::new(instances.into_iter().map(|i| (i.id.clone(), i)).collect()),
                ..FakeEc2::default()
            }
        }

        fn failing(mut self, operation: &'static str, key: Option<&'static str>) -> FakeEc2 {
            self.failing.push((operation, key));
            self
        }

        fn call(
            &self,
            operation: &'static str,
            key: Option<&str>,
            what: String,
        ) -> Result<(), AwsError> {
            self.calls.borrow_mut().push(format!("{operation} {what}"));
            if self
                .failing
                .iter()
                .any(|(op, k)| *op == operation && *k == key)
            {
                return Err(AwsError::new(operation, "UnauthorizedOperation", "denied"));
            }
            Ok(())
        }

        fn each(&self, ids: &[String], change: impl Fn(&mut Instance)) {
            for id in ids {
                if let Some(instance) = self.instances.borrow_mut().get_mut(id) {
                    change(instance);
                }
            }
        }

        fn state(&self, id: &str) -> InstanceState {
            self.instances.borrow()[id].state
        }

        fn tag(&self, id: &str, key: &str) -> Option<String> {
            self.instances.borrow()[id].tags.get(key).cloned()
        }
    }

    impl Instances for FakeEc2 {
        fn region(&self) -> &str {
            "ap-northeast-2"
        }
        async fn instances(&self, selector: &Selector) -> Result<Vec<Instance>, AwsError> {
            self.call("DescribeInstances", None, format!("{selector:?}"))?;
            let all = self.instances.borrow();
            Ok(all
                .values()
                .filter(|i| {
                    self.ignores_filters
                        || match selector {
                            Selector::Managed => {
                                unreachable!("requests never list by the enable tag")
                            }
                            Selector::Ids(ids) => ids.contains(&i.id),
                            Selector::Tag { key, value } => i.tags.get(key) == Some(value),
                        }
                })
                .cloned()
                .collect())
        }
        async fn start(&self, ids: Vec<String>, dry_run: bool) -> Result<(), AwsError> {
            assert!(!dry_run);
            self.call("StartInstances", None, ids.join(","))?;
            self.each(&ids, |i| i.state = InstanceState::Running);
            Ok(())
        }
        async fn stop(
            &self,
            ids: Vec<String>,
            hibernate: bool,
            dry_run: bool,
        ) -> Result<(), AwsError> {
            assert!(!hibernate && !dry_run);
            self.call("StopInstances", None, ids.join(","))?;
            self.each(&ids, |i| i.state = InstanceState::Stopped);
            Ok(())
        }
        async fn set_tag(&self, ids: Vec<String>, key: &str, value: &str) -> Result<(), AwsError> {
            self.call(
                "CreateTags",
                Some(key),
                format!("{key}={value} {}", ids.join(",")),
            )?;
            self.each(&ids, |i| {
                i.tags.insert(key.into(), value.into());
            });
            Ok(())
        }
        async fn delete_tag(&self, ids: Vec<String>, key: &str) -> Result<(), AwsError> {
            self.call("DeleteTags", Some(key), format!("{key} {}", ids.join(",")))?;
            self.each(&ids, |i| {
                i.tags.remove(key);
            });
            Ok(())
        }
    }

    fn instance(id: &str, state: InstanceState, tags: &[(&str, &str)]) -> Instance {
        Instance {
            id: id.into(),
            state,
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            state_reason: None,
        }
    }

    fn managed(id: &str, state: InstanceState, more: &[(&str, &str)]) -> Instance {
        let mut tags = vec![(TAG_ENABLE, "true"), ("TIME", "09:00~18:00")];
        tags.extend_from_slice(more);
        instance(id, state, &tags)
    }

    fn request(action: Action, target: Target, until: Option<&str>) -> Request {
        Request {
            request_id: "req-1".into(),
            action,
            target,
            until: until.map(String::from),
            requested_by: "mina".into(),
            received_at: "2026-12-02T01:00:00Z".into(),
        }
    }

    fn ids(ids: &[&str]) -> Target {
        Target::InstanceIds(ids.iter().map(|id| id.to_string()).collect())
    }

    fn results(outcomes: &[InstanceOutcome]) -> Vec<(String, String, Option<String>)> {
        outcomes
            .iter()
            .map(|o| (o.instance_id.clone(), o.result.clone(), o.detail.clone()))
            .collect()
    }

    fn row(id: &str, result: &str, detail: Option<&str>) -> (String, String, Option<String>) {
        (id.into(), result.into(), detail.map(String::from))
    }

    async fn carry_out(
        fake: FakeEc2,
        request: &Request,
    ) -> (
        FakeEc2,
        Result<(Vec<InstanceOutcome>, Option<String>), AwsFailure>,
    ) {
        let ec2 = Ec2 { ec2: fake };
        let result = ec2.carry_out(request, SEOUL, now()).await;
        (ec2.ec2, result)
    }

    #[tokio::test]
    async fn a_wake_holds_first_then_starts_then_records_and_refuses_the_unmanaged() {
        let fake = FakeEc2::with(vec![
            managed("i-1", InstanceState::Stopped, &[]),
            managed("i-2", InstanceState::Running, &[]),
            instance("i-3", InstanceState::Stopped, &[("TIME", "09:00~18:00")]),
        ]);
        let wake = request(Action::Wake, ids(&["i-1", "i-2", "i-3", "i-404"]), None);
        let (ec2, result) = carry_out(fake, &wake).await;
        let (outcomes, hold) = result.unwrap();
        let held = format!("held until {END_OF_WINDOW}");
        assert_eq!(
            results(&outcomes),
            [
                row(
                    "i-404",
                    "not found",
                    Some("no such instance, or it is terminated")
                ),
                row(
                    "i-3",
                    "refused",
                    Some("not managed: no AUTOSTOP_ENABLE=true tag")
                ),
                row("i-1", "started", Some(&held)),
                row("i-2", "already running", Some(&held)),
            ]
        );
        assert_eq!(
            hold, None,
            "a wake without `until` holds each to its own window"
        );
        let last = "started 2026-12-02T10:00+09:00 request req-1";
        assert_eq!(
            *ec2.calls.borrow(),
            [
                "DescribeInstances Ids([\"i-1\", \"i-2\", \"i-3\", \"i-404\"])".to_string(),
                format!("CreateTags {TAG_HOLD_UNTIL}={END_OF_WINDOW} i-1,i-2"),
                "StartInstances i-1".to_string(),
                format!("CreateTags {TAG_LAST_ACTION}={last} i-1"),
            ]
        );
        assert_eq!(ec2.state("i-1"), InstanceState::Running);
        assert_eq!(ec2.tag("i-1", TAG_LAST_ACTION).as_deref(), Some(last));
        assert_eq!(
            ec2.tag("i-2", TAG_LAST_ACTION),
            None,
            "nothing was done to i-2"
        );
        assert_eq!(ec2.state("i-3"), InstanceState::Stopped);
        assert_eq!(ec2.tag("i-3", TAG_HOLD_UNTIL), None);
    }

    #[tokio::test]
    async fn a_wake_with_until_holds_every_instance_until_then() {
        let fake = FakeEc2::with(vec![
            managed("i-1", InstanceState::Stopped, &[]),
            managed("i-2", InstanceState::Stopping, &[("TZ", "Europe/Berlin")]),
        ]);
        let until = "2026-12-02T23:00:00+09:00";
        let wake = request(Action::Wake, ids(&["i-1", "i-2"]), Some(until));
        let (ec2, result) = carry_out(fake, &wake).await;
        let (outcomes, hold) = result.unwrap();
        assert_eq!(hold.as_deref(), Some(until));
        let held = format!("held until {until}");
        assert_eq!(
            results(&outcomes),
            [
                row("i-1", "started", Some(&held)),
                row(
                    "i-2",
                    "stopping; the schedule starts it on its next run (it is held)",
                    Some(&held)
                ),
            ]
        );
        assert_eq!(ec2.tag("i-2", TAG_HOLD_UNTIL).as_deref(), Some(until));
        assert!(!ec2
            .calls
            .borrow()
            .iter()
            .any(|c| c.contains("StartInstances i-2")));
    }

    #[tokio::test]
    async fn a_failed_start_puts_every_hold_back_as_it_was() {
        let before = "2026-12-01T20:00:00+09:00";
        let fake = FakeEc2::with(vec![
            managed("i-1", InstanceState::Stopped, &[(TAG_HOLD_UNTIL, before)]),
            managed("i-2", InstanceState::Stopped, &[]),
        ])
        .failing("StartInstances", None);
        let wake = request(Action::Wake, ids(&["i-1", "i-2"]), None);
        let (ec2, result) = carry_out(fake, &wake).await;
        let failure = result.unwrap_err().to_string();
        assert!(
            failure.contains("StartInstances") && failure.contains("denied"),
            "{failure}"
        );
        assert!(!failure.contains("not put back"), "{failure}");
        assert_eq!(ec2.tag("i-1", TAG_HOLD_UNTIL).as_deref(), Some(before));
        assert_eq!(ec2.tag("i-2", TAG_HOLD_UNTIL), None);
        assert_eq!(ec2.state("i-1"), InstanceState::Stopped);
        assert_eq!(
            ec2.tag("i-1", TAG_LAST_ACTION),
            None,
            "nothing was done: nothing recorded"
        );
    }

    #[tokio::test]
    async fn a_failed_hold_is_undone_too_and_nothing_is_started() {
        let fake = FakeEc2::with(vec![managed("i-1", InstanceState::Stopped, &[])])
            .failing("CreateTags", Some(TAG_HOLD_UNTIL));
        let wake = request(Action::Wake, ids(&["i-1"]), None);
        let (ec2, result) = carry_out(fake, &wake).await;
        assert!(result.is_err());
        assert_eq!(ec2.state("i-1"), InstanceState::Stopped);
        assert!(!ec2
            .calls
            .borrow()
            .iter()
            .any(|c| c.starts_with("StartInstances")));
        assert!(
            ec2.calls
                .borrow()
                .iter()
                .any(|c| c.starts_with("DeleteTags")),
            "undone"
        );
    }

    #[tokio::test]
    async fn a_hold_that_cannot_be_put_back_is_named_in_the_failure() {
        let fake = FakeEc2::with(vec![managed("i-2", InstanceState::Stopped, &[])])
            .failing("StartInstances", None)
            .failing("DeleteTags", Some(TAG_HOLD_UNTIL));
        let wake = request(Action::Wake, ids(&["i-2"]), None);
        let (ec2, result) = carry_out(fake, &wake).await;
        let failure = result.unwrap_err().to_string();
        assert!(
            failure.contains(&format!("{TAG_HOLD_UNTIL} not put back as it was on i-2 (")),
            "{failure}"
        );
        assert_eq!(
            ec2.tag("i-2", TAG_HOLD_UNTIL).as_deref(),
            Some(END_OF_WINDOW)
        );
    }

    #[tokio::test]
    async fn a_sleep_clears_the_hold_stops_and_records() {
        let fake = FakeEc2::with(vec![
            managed(
                "i-1",
                InstanceState::Running,
                &[(TAG_HOLD_UNTIL, END_OF_WINDOW)],
            ),
            managed("i-2", InstanceState::Stopped, &[]),
        ]);
        let sleep = request(Action::Sleep, ids(&["i-1", "i-2"]), None);
        let (ec2, result) = carry_out(fake, &sleep).await;
        let (outcomes, hold) = result.unwrap();
        assert_eq!(hold, None);
        assert_eq!(
            results(&outcomes),
            [
                row("i-1", "stopped", Some("hold cleared")),
                row("i-2", "already stopped", Some("hold cleared")),
            ]
        );
        let calls = ec2.calls.borrow();
        assert_eq!(calls[1], format!("DeleteTags {TAG_HOLD_UNTIL} i-1,i-2"));
        assert_eq!(calls[2], "StopInstances i-1");
        assert_eq!(ec2.state("i-1"), InstanceState::Stopped);
        assert_eq!(ec2.tag("i-1", TAG_HOLD_UNTIL), None);
        assert_eq!(
            ec2.tag("i-1", TAG_LAST_ACTION).as_deref(),
            Some("stopped 2026-12-02T10:00+09:00 request req-1")
        );
    }

    #[tokio::test]
    async fn a_failed_stop_puts_the_hold_back() {
        let fake = FakeEc2::with(vec![managed(
            "i-1",
            InstanceState::Running,
            &[(TAG_HOLD_UNTIL, END_OF_WINDOW)],
        )])
        .failing("StopInstances", None);
        let sleep = request(Action::Sleep, ids(&["i-1"]), None);
        let (ec2, result) = carry_out(fake, &sleep).await;
        assert!(result.is_err());
        assert_eq!(ec2.state("i-1"), InstanceState::Running);
        assert_eq!(
            ec2.tag("i-1", TAG_HOLD_UNTIL).as_deref(),
            Some(END_OF_WINDOW)
        );
    }

    #[tokio::test]
    async fn a_last_action_tag_that_cannot_be_set_is_noted_and_the_request_stands() {
        let fake = FakeEc2::with(vec![managed("i-1", InstanceState::Stopped, &[])])
            .failing("CreateTags", Some(TAG_LAST_ACTION));
        let wake = request(Action::Wake, ids(&["i-1"]), None);
        let (ec2, result) = carry_out(fake, &wake).await;
        let (outcomes, _) = result.unwrap();
        assert_eq!(
            results(&outcomes),
            [row(
                "i-1",
                "started",
                Some(&format!(
                    "held until {END_OF_WINDOW}; {TAG_LAST_ACTION} tag not set (CreateTags: \
                     UnauthorizedOperation: denied)"
                ))
            )]
        );
        assert_eq!(ec2.state("i-1"), InstanceState::Running);
    }

    #[tokio::test]
    async fn a_tag_target_never_reaches_an_instance_it_does_not_name() {
        let mut fake = FakeEc2::with(vec![
            managed("i-dev", InstanceState::Running, &[("team", "dev")]),
            managed("i-qa", InstanceState::Running, &[("team", "qa")]),
        ]);
        fake.ignores_filters = true;
        let target = Target::Tag(TagSelector {
            key: "team".into(),
            value: "dev".into(),
        });
        let (ec2, result) = carry_out(fake, &request(Action::Sleep, target, None)).await;
        let (outcomes, _) = result.unwrap();
        assert_eq!(
            results(&outcomes),
            [row("i-dev", "stopped", Some("hold cleared"))]
        );
        assert_eq!(ec2.state("i-qa"), InstanceState::Running);
        assert!(!ec2
            .calls
            .borrow()
            .iter()
            .skip(1)
            .any(|c| c.contains("i-qa")));
    }

    #[tokio::test]
    async fn nothing_managed_means_no_call_after_the_listing() {
        let fake = FakeEc2::with(vec![instance("i-3", InstanceState::Running, &[])]);
        let (ec2, result) = carry_out(fake, &request(Action::Sleep, ids(&["i-3"]), None)).await;
        let (outcomes, _) = result.unwrap();
        assert_eq!(outcomes[0].result, "refused");
        assert_eq!(ec2.calls.borrow().len(), 1);
    }

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
