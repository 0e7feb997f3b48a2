//! The wanted state of a managed instance at an instant, and the action that gets it there.
//!
//! Precedence, first match wins:
//! 1. `AUTOSTOP_HOLD_UNTIL` in the future → running ("I'm working late" beats everything);
//! 2. today (in the instance's zone) is a skip date or a stack-wide holiday → stopped all day;
//! 3. inside a window of a listed day → running;
//! 4. otherwise → stopped (outside the listed days too: a Friday start must not run all weekend).
//!
//! Then the action: only where the actual state differs; pending/stopping are left to settle;
//! `AUTOSTOP_MODE` can forbid the start or the stop.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};

use crate::policy::{Mode, Policy};
use crate::schedule::LocalMoment;

/// EC2 instance states the function sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceState {
    /// `pending`: on its way to running; left to settle.
    Pending,
    /// `running`.
    Running,
    /// `stopping`: on its way to stopped; left to settle.
    Stopping,
    /// `stopped`.
    Stopped,
    /// shutting-down, terminated, or anything newer.
    Other,
}

impl InstanceState {
    /// Reads EC2's state name (`running`, `stopped`, …); any other name is
    /// [`InstanceState::Other`].
    pub fn from_ec2(name: &str) -> InstanceState {
        match name {
            "pending" => InstanceState::Pending,
            "running" => InstanceState::Running,
            "stopping" => InstanceState::Stopping,
            "stopped" => InstanceState::Stopped,
            _ => InstanceState::Other,
        }
    }
}

/// The state the schedule wants an instance in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wanted {
    /// Held running, or inside a window.
    Running,
    /// Outside the schedule, or on a skip date or holiday.
    Stopped,
}

impl fmt::Display for Wanted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Wanted::Running => "running",
            Wanted::Stopped => "stopped",
        })
    }
}

/// What to do to an instance to get it to its wanted state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Start it: stopped, and wanted running.
    Start,
    /// Stop it: running, and wanted stopped.
    Stop,
    /// Nothing to do: already as wanted, in transition, or the mode forbids the move.
    Leave,
}

/// What should happen to one instance, and why, in words for the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The state the schedule wants at the decision time.
    pub wanted: Wanted,
    /// What to do about it.
    pub action: Action,
    /// Why, in words for the report: what decided the wanted state and, when the mode or a
    /// transition holds the action back, that too.
    pub reason: String,
}

/// The wanted state at `now`, with the reason. `holidays` are stack-wide skip dates.
pub fn wanted_state(
    policy: &Policy,
    now: DateTime<Utc>,
    holidays: &BTreeSet<NaiveDate>,
) -> (Wanted, String) {
    let schedule = &policy.schedule;
    let local = LocalMoment::at(now, schedule.zone);
    if let Some(hold) = policy.hold_until.filter(|h| *h > now) {
        return (
            Wanted::Running,
            format!("held running until {}", hold.to_rfc3339()),
        );
    }
    if policy.skip_dates.contains(&local.date) {
        return (
            Wanted::Stopped,
            format!("skip date {} ({})", local.date, schedule.zone),
        );
    }
    if holidays.contains(&local.date) {
        return (
            Wanted::Stopped,
            format!("holiday {} ({}, SKIP_DATES)", local.date, schedule.zone),
        );
    }
    let skipped: BTreeSet<NaiveDate> = policy.skip_dates.union(holidays).copied().collect();
    match schedule.active_at(now, &skipped) {
        Some(active) => (
            Wanted::Running,
            format!(
                "in window {} of {} ({}); now {}",
                active.window, active.started_on, schedule.zone, local
            ),
        ),
        None => (
            Wanted::Stopped,
            format!("outside schedule {}; now {}", schedule, local),
        ),
    }
}

/// The whole decision for one managed instance.
pub fn plan(
    policy: &Policy,
    state: InstanceState,
    now: DateTime<Utc>,
    holidays: &BTreeSet<NaiveDate>,
) -> Plan {
    let (wanted, why) = wanted_state(policy, now, holidays);
    let (action, reason) = match (state, wanted) {
        (InstanceState::Stopped, Wanted::Running) if policy.mode == Mode::StopOnly => (
            Action::Leave,
            format!("{why}; not started: AUTOSTOP_MODE=stop-only"),
        ),
        (InstanceState::Running, Wanted::Stopped) if policy.mode == Mode::StartOnly => (
            Action::Leave,
            format!("{why}; not stopped: AUTOSTOP_MODE=start-only"),
        ),
        (InstanceState::Stopped, Wanted::Running) => (Action::Start, why),
        (InstanceState::Running, Wanted::Stopped) => (Action::Stop, why),
        (InstanceState::Pending | InstanceState::Stopping, _) => (
            Action::Leave,
            format!("{why}; in transition, left to settle"),
        ),
        _ => (Action::Leave, why),
    };
    Plan {
        wanted,
        action,
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{classify, Classification, TAG_ENABLE};
    use chrono::TimeZone;
    use chrono_tz::Tz;
    use std::collections::BTreeMap;

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

    /// Seoul wall-clock time on 2026-11-23 (Mon) + `day` days.
    fn seoul(day: u32, h: u32, m: u32) -> DateTime<Utc> {
        Tz::Asia__Seoul
            .with_ymd_and_hms(2026, 11, 23 + day, h, m, 0)
            .unwrap()
            .with_timezone(&Utc)
    }

    fn none() -> BTreeSet<NaiveDate> {
        BTreeSet::new()
    }

    #[test]
    fn acts_only_on_a_difference() {
        let p = policy(&[("DAY", "mon-fri"), ("TIME", "9~18")]);
        let at9 = seoul(0, 9, 0);
        assert_eq!(
            plan(&p, InstanceState::Stopped, at9, &none()).action,
            Action::Start
        );
        assert_eq!(
            plan(&p, InstanceState::Running, at9, &none()).action,
            Action::Leave
        );
        let at19 = seoul(0, 19, 0);
        assert_eq!(
            plan(&p, InstanceState::Running, at19, &none()).action,
            Action::Stop
        );
        assert_eq!(
            plan(&p, InstanceState::Stopped, at19, &none()).action,
            Action::Leave
        );
        for s in [
            InstanceState::Pending,
            InstanceState::Stopping,
            InstanceState::Other,
        ] {
            assert_eq!(plan(&p, s, at9, &none()).action, Action::Leave);
            assert_eq!(plan(&p, s, at19, &none()).action, Action::Leave);
        }
    }

    #[test]
    fn outside_listed_days_wanted_stopped() {
        let p = policy(&[("DAY", "mon-fri"), ("TIME", "9~18")]);
        let saturday_noon = seoul(5, 12, 0);
        let plan = plan(&p, InstanceState::Running, saturday_noon, &none());
        assert_eq!(plan.action, Action::Stop);
        assert!(
            plan.reason.contains("outside schedule mon-fri 09:00–18:59"),
            "{}",
            plan.reason
        );
    }

    #[test]
    fn hold_until_beats_schedule_then_expires() {
        let p = policy(&[
            ("TIME", "9~18"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-23T23:00:00+09:00"),
        ]);
        let p2 = plan(&p, InstanceState::Running, seoul(0, 22, 0), &none());
        assert_eq!((p2.wanted, p2.action), (Wanted::Running, Action::Leave));
        assert!(p2.reason.starts_with("held running until"));
        assert_eq!(
            plan(&p, InstanceState::Stopped, seoul(0, 22, 0), &none()).action,
            Action::Start
        );
        assert_eq!(
            plan(&p, InstanceState::Running, seoul(0, 23, 0), &none()).action,
            Action::Stop
        );
    }

    #[test]
    fn hold_beats_skip_dates() {
        let p = policy(&[
            ("TIME", "9~18"),
            ("AUTOSTOP_SKIP_DATES", "2026-11-23"),
            ("AUTOSTOP_HOLD_UNTIL", "2026-11-23T12:00:00+09:00"),
        ]);
        assert_eq!(
            plan(&p, InstanceState::Running, seoul(0, 10, 0), &none()).wanted,
            Wanted::Running
        );
        assert_eq!(
            plan(&p, InstanceState::Running, seoul(0, 12, 0), &none()).wanted,
            Wanted::Stopped
        );
    }

    #[test]
    fn skip_dates_and_holidays_stop_all_day() {
        let p = policy(&[("TIME", "0~23"), ("AUTOSTOP_SKIP_DATES", "2026-11-24")]);
        assert_eq!(
            plan(&p, InstanceState::Running, seoul(0, 23, 59), &none()).wanted,
            Wanted::Running
        );
        let skipped = plan(&p, InstanceState::Running, seoul(1, 0, 0), &none());
        assert_eq!(skipped.action, Action::Stop);
        assert_eq!(skipped.reason, "skip date 2026-11-24 (Asia/Seoul)");
        let holidays: BTreeSet<_> = [NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()].into();
        let holiday = plan(&p, InstanceState::Running, seoul(2, 12, 0), &holidays);
        assert_eq!(
            holiday.reason,
            "holiday 2026-11-25 (Asia/Seoul, SKIP_DATES)"
        );
        // Skip dates are local dates: 2026-11-24 00:30 Seoul is still 11-23 in UTC.
        let utc = policy(&[
            ("TIME", "0~23"),
            ("TZ", "UTC"),
            ("AUTOSTOP_SKIP_DATES", "2026-11-24"),
        ]);
        assert_eq!(
            plan(&utc, InstanceState::Running, seoul(1, 0, 30), &none()).wanted,
            Wanted::Running
        );
    }

    #[test]
    fn modes() {
        let stop_only = policy(&[("TIME", "9~18"), ("AUTOSTOP_MODE", "stop-only")]);
        let p = plan(&stop_only, InstanceState::Stopped, seoul(0, 10, 0), &none());
        assert_eq!((p.wanted, p.action), (Wanted::Running, Action::Leave));
        assert!(p.reason.ends_with("not started: AUTOSTOP_MODE=stop-only"));
        assert_eq!(
            plan(&stop_only, InstanceState::Running, seoul(0, 20, 0), &none()).action,
            Action::Stop
        );
        let start_only = policy(&[("TIME", "9~18"), ("AUTOSTOP_MODE", "start-only")]);
        assert_eq!(
            plan(
                &start_only,
                InstanceState::Running,
                seoul(0, 20, 0),
                &none()
            )
            .action,
            Action::Leave
        );
        assert_eq!(
            plan(
                &start_only,
                InstanceState::Stopped,
                seoul(0, 10, 0),
                &none()
            )
            .action,
            Action::Start
        );
    }

    #[test]
    fn reasons_read_plainly() {
        let p = policy(&[("DAY", "월-금"), ("TIME", "9~18")]);
        let start = plan(&p, InstanceState::Stopped, seoul(2, 9, 0), &none());
        assert_eq!(
            start.reason,
            "in window 09:00–18:59 of 2026-11-25 (Asia/Seoul); now Wed 2026-11-25 09:00"
        );
    }
}
