//! The `lightsout:last-action` tag: what lightsout last did to an instance, when, and why; and the
//! decision that a start it made did not hold.
//!
//! The value is `<action> <time> <cause>`:
//! - action: `started`, `stopped` or `hibernated`;
//! - time: the decision time in the instance's zone, RFC 3339 to the minute
//!   (`2026-11-25T19:00+09:00`), so the console shows the instance's own wall clock;
//! - cause: `schedule` (ec2-autostop) or `request <requestId>` (an on-demand wake/sleep request).
//!
//! e.g. `stopped 2026-11-25T19:00+09:00 schedule`. At most [`MAX_VALUE_CHARS`] characters, EC2's
//! limit for a tag value: a request id too long for it is cut.
//!
//! **A start that did not hold**: the tag says lightsout started the instance, the instance is
//! stopped, and it has been wanted running at every minute since that start (so lightsout had no
//! reason to stop it and did not). Something stopped it after the start call succeeded: EC2 itself
//! (a KMS key the caller may not use for an encrypted volume, no capacity), a person, or the
//! instance's own operating system. ec2-autostop reports it and does not start it again while it
//! stays due: one start per running period, so a start that cannot work is not repeated every
//! hour. Once the instance has been wanted stopped (its window ended), the next window starts it as
//! usual; a period of wanted-running longer than [`LOOKBACK_HOURS`] (an all-day schedule, a long
//! hold) gets a new start after that long.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Duration, DurationRound, FixedOffset, NaiveDate, Timelike, Utc};
use chrono_tz::Tz;

use crate::decision::InstanceState;
use crate::policy::{parse_zone, Policy, TAG_TZ};
use crate::schedule::LocalMoment;

/// The tag's key. The function's role may create only this tag (and only on managed instances).
pub const TAG_LAST_ACTION: &str = "lightsout:last-action";

/// EC2's limit on a tag value, in Unicode characters.
pub const MAX_VALUE_CHARS: usize = 256;

/// How far back a `started` tag counts: a start older than this is history, whatever happened
/// since, so an instance due to run for days on end gets one new start a day.
pub const LOOKBACK_HOURS: i64 = 24;

/// The time format: RFC 3339 to the minute.
const MINUTES: &str = "%Y-%m-%dT%H:%M%:z";

/// What lightsout did to the instance: the tag value's first word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Done {
    /// `started`.
    Started,
    /// `stopped`.
    Stopped,
    /// `hibernated`: stopped with hibernation (`AUTOSTOP_HIBERNATE`).
    Hibernated,
}

impl Done {
    /// The word in the tag value: `started`, `stopped` or `hibernated`.
    pub fn as_str(self) -> &'static str {
        match self {
            Done::Started => "started",
            Done::Stopped => "stopped",
            Done::Hibernated => "hibernated",
        }
    }
}

impl fmt::Display for Done {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why lightsout acted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// ec2-autostop's schedule run.
    Schedule,
    /// An on-demand request, by its id.
    Request(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Schedule => f.write_str("schedule"),
            Cause::Request(id) => write!(f, "request {id}"),
        }
    }
}

/// One `lightsout:last-action` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastAction {
    /// What was done.
    pub done: Done,
    /// Local time in the instance's zone, whole minutes.
    pub at: DateTime<FixedOffset>,
    /// Why: the schedule, or a request.
    pub cause: Cause,
}

/// Why a tag value could not be read (it is then ignored: it only ever adds a report entry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LastActionError {
    /// Fewer than three space-separated parts.
    #[error("expected `<action> <time> <cause>`, e.g. `stopped 2026-11-25T19:00+09:00 schedule`")]
    Shape,
    /// The first part is not `started`, `stopped` or `hibernated`; holds it, shortened.
    #[error("`{0}` is not an action; expected started, stopped or hibernated")]
    Action(String),
    /// The second part is not a time; holds it, shortened.
    #[error("`{0}` is not a time; expected e.g. 2026-11-25T19:00+09:00")]
    Time(String),
    /// The rest is neither `schedule` nor `request <id>`; holds it, shortened.
    #[error("`{0}` is not a cause; expected `schedule` or `request <id>`")]
    Cause(String),
}

impl LastAction {
    /// What was `done` at `at` (the decision time), as `zone`'s wall clock shows it to the minute.
    pub fn new(done: Done, at: DateTime<Utc>, zone: Tz, cause: Cause) -> LastAction {
        // Offsets are whole minutes in practice; one with seconds (local mean time before 1972)
        // is cut to minutes so that the value reads back as the same instant.
        let local = at.with_timezone(&zone).fixed_offset();
        let seconds = local.offset().local_minus_utc();
        let offset = FixedOffset::east_opt(seconds - seconds % 60).unwrap_or(*local.offset());
        let local = at.with_timezone(&offset);
        let at = local
            .with_second(0)
            .and_then(|t| t.with_nanosecond(0))
            .unwrap_or(local);
        LastAction { done, at, cause }
    }

    /// When, as the value shows it: `2026-11-25T19:00+09:00`.
    pub fn time(&self) -> String {
        self.at.format(MINUTES).to_string()
    }

    /// The tag value, at most [`MAX_VALUE_CHARS`] characters.
    pub fn value(&self) -> String {
        let head = format!("{} {} ", self.done, self.time());
        match &self.cause {
            Cause::Schedule => format!("{head}schedule"),
            Cause::Request(id) => {
                let room = MAX_VALUE_CHARS.saturating_sub(head.chars().count() + "request ".len());
                let id: String = id.chars().take(room).collect();
                format!("{head}request {id}")
            }
        }
    }

    /// Reads a tag value as [`LastAction::value`] writes it (a time with seconds is accepted too).
    pub fn parse(value: &str) -> Result<LastAction, LastActionError> {
        let (done, rest) = value.split_once(' ').ok_or(LastActionError::Shape)?;
        let (time, cause) = rest.split_once(' ').ok_or(LastActionError::Shape)?;
        let done = match done {
            "started" => Done::Started,
            "stopped" => Done::Stopped,
            "hibernated" => Done::Hibernated,
            other => return Err(LastActionError::Action(crate::event::shorten(other))),
        };
        let at = DateTime::parse_from_str(time, MINUTES)
            .or_else(|_| DateTime::parse_from_rfc3339(time))
            .map_err(|_| LastActionError::Time(crate::event::shorten(time)))?;
        let cause = match cause.strip_prefix("request ") {
            Some(id) if !id.is_empty() => Cause::Request(id.to_string()),
            _ if cause == "schedule" => Cause::Schedule,
            _ => return Err(LastActionError::Cause(crate::event::shorten(cause))),
        };
        Ok(LastAction { done, at, cause })
    }
}

impl fmt::Display for LastAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value())
    }
}

/// The zone an instance's times are shown in: its `TZ` tag, else `default_zone` (also when the
/// tag cannot be read: the tag is a label here, not a decision).
pub fn zone_of(tags: &std::collections::BTreeMap<String, String>, default_zone: Tz) -> Tz {
    tags.get(TAG_TZ)
        .and_then(|z| parse_zone(z))
        .unwrap_or(default_zone)
}

/// A start by lightsout that was found undone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartDidNotHold {
    /// The `started` tag that was read.
    pub started: LastAction,
    /// The instance's state reason as EC2 gives it, if any.
    pub state_reason: Option<String>,
    /// What to check, from the state reason.
    pub hint: &'static str,
}

/// Did a start by lightsout not hold? `last_action` is the instance's tag value, `state_reason`
/// EC2's reason for its state (`Client.InternalError: Client error on launch`, …). Only for an
/// instance that is stopped and that the decision at `now` would start: see the module docs.
pub fn start_did_not_hold(
    last_action: Option<&str>,
    policy: &Policy,
    state: InstanceState,
    now: DateTime<Utc>,
    holidays: &BTreeSet<NaiveDate>,
    state_reason: Option<&str>,
) -> Option<StartDidNotHold> {
    if state != InstanceState::Stopped {
        return None;
    }
    let started = LastAction::parse(last_action?).ok()?;
    if started.done != Done::Started {
        return None;
    }
    let since = started.at.with_timezone(&Utc);
    if since > now || now - since > Duration::hours(LOOKBACK_HOURS) {
        return None;
    }
    if !wanted_running_throughout(policy, since, now, holidays) {
        return None;
    }
    let state_reason = state_reason
        .map(str::trim)
        .filter(|r| !r.is_empty())
        // EC2's reasons are short; a bound keeps a report readable whatever comes back.
        .map(|r| r.chars().take(MAX_VALUE_CHARS).collect::<String>());
    Some(StartDidNotHold {
        hint: hint(state_reason.as_deref()),
        started,
        state_reason,
    })
}

/// Was the instance wanted running at every minute from `from` to `to` (both included)? Wanted
/// states change only on whole local minutes (windows, dates) or at the hold's end, so checking
/// each minute, the hold's end and `to` is exact.
pub fn wanted_running_throughout(
    policy: &Policy,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    holidays: &BTreeSet<NaiveDate>,
) -> bool {
    let skipped: BTreeSet<NaiveDate> = policy.skip_dates.union(holidays).copied().collect();
    let running = |t| running_at(policy, t, &skipped);
    if let Some(hold) = policy.hold_until.map(|h| h.with_timezone(&Utc)) {
        if from < hold && hold < to && !running(hold) {
            return false;
        }
    }
    let mut t = from;
    while t < to {
        if !running(t) {
            return false;
        }
        t = t.duration_trunc(Duration::minutes(1)).unwrap_or(t) + Duration::minutes(1);
    }
    running(to)
}

/// [`crate::decision::wanted_state`] is `Running`, without writing the reason; `skipped` is the
/// policy's skip dates and the holidays together. (Equal to it: a property test checks.)
pub fn running_at(policy: &Policy, t: DateTime<Utc>, skipped: &BTreeSet<NaiveDate>) -> bool {
    if policy.hold_until.is_some_and(|h| h > t) {
        return true;
    }
    let local = LocalMoment::at(t, policy.schedule.zone);
    if skipped.contains(&local.date) {
        return false;
    }
    policy.schedule.active_at(t, skipped).is_some()
}

/// What to check for a start that did not hold, by EC2's state reason code.
pub fn hint(state_reason: Option<&str>) -> &'static str {
    let reason = state_reason.unwrap_or("");
    let code = reason.split(':').next().unwrap_or("").trim();
    match code {
        "Client.InternalError" => {
            "EC2 could not launch it: check that the KMS keys of its encrypted EBS volumes are \
             enabled and that their key policies let lightsout's role create grants \
             (kms:CreateGrant)"
        }
        "Client.VolumeLimitExceeded" => "the account's EBS volume limit was reached",
        "Client.InvalidSnapshot.NotFound" => "a snapshot one of its volumes needs is gone",
        "Server.InsufficientInstanceCapacity" => {
            "no capacity for its instance type in its Availability Zone: try later, or change the \
             type or zone"
        }
        "Server.InternalError" => "an EC2 internal error: start it again by hand",
        "Server.ScheduledStop" => "AWS stopped it for scheduled maintenance",
        "Client.UserInitiatedShutdown" | "Client.UserInitiatedHibernate" => {
            "stopped by a StopInstances call or the console after it was started (not by lightsout)"
        }
        "Client.InstanceInitiatedShutdown" => "its operating system shut it down",
        _ => {
            "check KMS key permissions for its encrypted volumes and capacity for its instance type; \
             the instance's state reason says why it stopped"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{classify, Classification, TAG_ENABLE};
    use chrono::TimeZone;
    use std::collections::BTreeMap;

    fn seoul(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        Tz::Asia__Seoul
            .with_ymd_and_hms(2026, 11, 23 + day, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn policy(pairs: &[(&str, &str)]) -> Policy {
        let mut tags: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        tags.insert(TAG_ENABLE.into(), "true".into());
        match classify(&tags, Tz::Asia__Seoul) {
            Classification::Managed(p) => *p,
            other => panic!("{other:?}"),
        }
    }

    fn none() -> BTreeSet<NaiveDate> {
        BTreeSet::new()
    }

    /// Whether an instance found stopped at `now`, with `last_action`, is reported (no holidays,
    /// no state reason).
    fn flagged(last_action: Option<&str>, policy: &Policy, now: DateTime<Utc>) -> bool {
        start_did_not_hold(
            last_action,
            policy,
            InstanceState::Stopped,
            now,
            &none(),
            None,
        )
        .is_some()
    }

    #[test]
    fn value_reads_as_the_instance_wall_clock_to_the_minute() {
        let at = Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 42).unwrap();
        let seoul = LastAction::new(Done::Stopped, at, Tz::Asia__Seoul, Cause::Schedule);
        assert_eq!(seoul.value(), "stopped 2026-11-25T19:00+09:00 schedule");
        let berlin = LastAction::new(
            Done::Started,
            at,
            Tz::Europe__Berlin,
            Cause::Request("mina-late-2026-11-25".into()),
        );
        assert_eq!(
            berlin.value(),
            "started 2026-11-25T11:00+01:00 request mina-late-2026-11-25"
        );
        let utc = LastAction::new(Done::Hibernated, at, Tz::UTC, Cause::Schedule);
        assert_eq!(utc.value(), "hibernated 2026-11-25T10:00+00:00 schedule");
        assert_eq!(LastAction::parse(&berlin.value()), Ok(berlin));
    }

    #[test]
    fn long_request_ids_are_cut_to_the_tag_limit() {
        let at = seoul(0, 9, 0);
        let long = LastAction::new(
            Done::Hibernated,
            at,
            Tz::America__St_Johns,
            Cause::Request("x".repeat(1000)),
        );
        let value = long.value();
        assert_eq!(value.chars().count(), MAX_VALUE_CHARS);
        let back = LastAction::parse(&value).unwrap();
        assert_eq!((back.done, back.at), (long.done, long.at));
        // Multi-byte ids are cut on characters.
        let korean = LastAction::new(Done::Started, at, Tz::UTC, Cause::Request("가".repeat(300)));
        assert_eq!(korean.value().chars().count(), MAX_VALUE_CHARS);
    }

    #[test]
    fn unreadable_values_are_refused_with_the_reason() {
        for (value, starts) in [
            ("", "expected `<action> <time> <cause>`"),
            ("started", "expected `<action> <time> <cause>`"),
            (
                "rebooted 2026-11-25T19:00+09:00 schedule",
                "`rebooted` is not an action",
            ),
            ("started yesterday schedule", "`yesterday` is not a time"),
            (
                "started 2026-11-25T19:00+09:00 cron",
                "`cron` is not a cause",
            ),
            (
                "started 2026-11-25T19:00+09:00 request ",
                "`request ` is not a cause",
            ),
            (
                "Started 2026-11-25T19:00+09:00 schedule",
                "`Started` is not an action",
            ),
        ] {
            let error = LastAction::parse(value).unwrap_err().to_string();
            assert!(error.starts_with(starts), "{value:?}: {error}");
        }
        // Written with seconds (by hand): still read.
        let by_hand = LastAction::parse("started 2026-11-25T19:00:00+09:00 schedule").unwrap();
        assert_eq!(by_hand.at.with_timezone(&Utc), seoul(2, 19, 0));
    }

    fn started_at(t: DateTime<Utc>) -> String {
        LastAction::new(Done::Started, t, Tz::Asia__Seoul, Cause::Schedule).value()
    }

    #[test]
    fn a_start_in_this_window_found_stopped_did_not_hold() {
        let p = policy(&[("DAY", "mon-fri"), ("TIME", "9~18")]);
        let tag = started_at(seoul(2, 9, 0));
        let found = start_did_not_hold(
            Some(&tag),
            &p,
            InstanceState::Stopped,
            seoul(2, 10, 0),
            &none(),
            Some("Client.InternalError: Client.InternalError: Client error on launch"),
        )
        .unwrap();
        assert_eq!(found.started.at.with_timezone(&Utc), seoul(2, 9, 0));
        assert!(found.hint.contains("KMS"), "{}", found.hint);
        assert_eq!(
            found.state_reason.as_deref(),
            Some("Client.InternalError: Client.InternalError: Client error on launch")
        );
        // Still so for the rest of the window: not started again every hour.
        assert!(flagged(Some(&tag), &p, seoul(2, 18, 59)));
    }

    #[test]
    fn a_start_before_this_running_period_is_history() {
        let p = policy(&[("DAY", "mon-fri"), ("TIME", "9~18")]);
        // Started yesterday morning; stopped by hand before the evening, so no `stopped` tag.
        let yesterday = started_at(seoul(1, 9, 0));
        let check = |tag: &str, now, state| {
            start_did_not_hold(Some(tag), &p, state, now, &none(), None).is_some()
        };
        assert!(!check(&yesterday, seoul(2, 9, 0), InstanceState::Stopped));
        // Two windows with a gap between them: a start in the morning window is not this one.
        let split = policy(&[("TIME", "9~11,14~18")]);
        let morning = started_at(seoul(2, 9, 0));
        assert!(flagged(Some(&morning), &split, seoul(2, 10, 0)));
        assert!(!flagged(Some(&morning), &split, seoul(2, 14, 0)));
        // Adjacent windows are one running period.
        let adjacent = policy(&[("TIME", "9~11,12~18")]);
        assert!(flagged(Some(&morning), &adjacent, seoul(2, 15, 0)));
        // Running, stopping, pending: nothing to say.
        let today = started_at(seoul(2, 9, 0));
        for state in [
            InstanceState::Running,
            InstanceState::Pending,
            InstanceState::Stopping,
        ] {
            assert!(!check(&today, seoul(2, 10, 0), state));
        }
        // A tag from the future of this decision (a rerun for an earlier slot) says nothing.
        assert!(!check(&today, seoul(2, 8, 0), InstanceState::Stopped));
    }

    #[test]
    fn only_a_start_counts() {
        let p = policy(&[("TIME", "9~18")]);
        for value in [
            "stopped 2026-11-25T09:00+09:00 schedule",
            "hibernated 2026-11-25T09:00+09:00 schedule",
            "started at nine",
        ] {
            assert!(!flagged(Some(value), &p, seoul(2, 10, 0)));
        }
        assert!(!flagged(None, &p, seoul(2, 10, 0)));
        let by_request = "started 2026-11-25T09:30+09:00 request r-1";
        assert!(flagged(Some(by_request), &p, seoul(2, 10, 0)));
    }

    #[test]
    fn a_hold_keeps_the_period_going_up_to_the_lookback() {
        // Woken by a request at 20:07, held until 23:00, outside its 9~18 window.
        let p = policy(&[
            ("TIME", "9~18"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T23:00:00+09:00"),
        ]);
        let woken = "started 2026-11-25T20:07+09:00 request mina";
        let found = start_did_not_hold(
            Some(woken),
            &p,
            InstanceState::Stopped,
            seoul(2, 21, 0),
            &none(),
            Some("Client.UserInitiatedShutdown: User initiated shutdown"),
        )
        .unwrap();
        assert_eq!(found.started.cause, Cause::Request("mina".into()));
        assert!(found.hint.starts_with("stopped by a StopInstances call"));
        // Always due (all day, every day): after the lookback a start is history.
        let always = policy(&[("TIME", "0~23")]);
        let tag = started_at(seoul(0, 12, 0));
        let at = |now| flagged(Some(&tag), &always, now);
        assert!(at(seoul(1, 12, 0)));
        assert!(!at(seoul(1, 12, 1)));
    }

    #[test]
    fn a_hold_that_ended_before_the_window_breaks_the_period() {
        // Held until 08:00, window from 09:00: started by a request at 07:00, stopped at 08:00
        // (found stopped, no `stopped` tag because lightsout did not stop it).
        let p = policy(&[
            ("TIME", "9~18"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T08:00:00+09:00"),
        ]);
        let tag = "started 2026-11-25T07:00+09:00 request early";
        assert!(!flagged(Some(tag), &p, seoul(2, 9, 0)));
        // Held until 08:59:30: thirty seconds wanted stopped before the window opens.
        let p = policy(&[
            ("TIME", "9~18"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T08:59:30+09:00"),
        ]);
        assert!(!flagged(Some(tag), &p, seoul(2, 10, 0)));
        // Held until 09:00 exactly: no gap before the window, one period.
        let p = policy(&[
            ("TIME", "9~18"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T09:00:00+09:00"),
        ]);
        assert!(flagged(Some(tag), &p, seoul(2, 10, 0)));
    }

    #[test]
    fn hints_follow_the_state_reason() {
        assert!(hint(Some(
            "Server.InsufficientInstanceCapacity: Insufficient capacity."
        ))
        .starts_with("no capacity"));
        assert!(hint(Some(
            "Client.InstanceInitiatedShutdown: Instance initiated shutdown"
        ))
        .contains("operating system"));
        for unknown in [None, Some(""), Some("Something.New: hm")] {
            let h = hint(unknown);
            assert!(h.contains("KMS") && h.contains("capacity"), "{h}");
        }
    }

    #[test]
    fn zone_of_reads_the_tz_tag_or_falls_back() {
        let tags = |tz: &str| BTreeMap::from([(TAG_TZ.to_string(), tz.to_string())]);
        assert_eq!(zone_of(&tags("europe/berlin"), Tz::UTC), Tz::Europe__Berlin);
        assert_eq!(zone_of(&tags("Mars/Olympus"), Tz::UTC), Tz::UTC);
        assert_eq!(zone_of(&BTreeMap::new(), Tz::Asia__Seoul), Tz::Asia__Seoul);
    }
}
