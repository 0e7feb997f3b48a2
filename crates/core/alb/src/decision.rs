//! Whether the load balancer should exist now, and what the state machine should do about it.

use std::collections::BTreeSet;

use lightsout_schedule::{wanted_state, Mode, Policy, Wanted};

use crate::event::AlbEvent;

/// Should the ALB exist at the event's decision time? The same rules as an instance's tags:
/// hold-until, then skip dates, then the days × window schedule.
pub fn should_exist(event: &AlbEvent) -> (bool, String) {
    let policy = Policy {
        schedule: event.schedule.clone(),
        hold_until: event.hold_until,
        skip_dates: event.skip_dates.clone(),
        mode: Mode::Both,
        hibernate: false,
    };
    let (wanted, reason) = wanted_state(&policy, event.decision_time, &BTreeSet::new());
    (wanted == Wanted::Running, reason)
}

/// What the workflow does next: CheckExistingALB decides it (`nextStep` in the event) and the
/// state machine's "Determine Action" choice routes on it, so the routing is decided here only
/// (the CLI's test checks the ASL file against [`NextStep::ALL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum NextStep {
    /// ALB exists and should not: delete the record, then the ALB.
    Delete,
    /// No ALB and there should be one: create it, then the record.
    Create,
    /// ALB exists and should, but its record is missing: complete the ALB (a run that died
    /// between CreateLoadBalancer and its listeners leaves one without them), then the record.
    RepairRecord,
    /// The ALB and its records are as they should be, or there is no ALB and none is wanted.
    Nothing,
}

impl NextStep {
    /// Every step, in the order "Determine Action" lists them (`Nothing` is its default).
    pub const ALL: [NextStep; 4] = [
        NextStep::Delete,
        NextStep::Create,
        NextStep::RepairRecord,
        NextStep::Nothing,
    ];

    /// The value of `nextStep` in the event.
    pub fn name(self) -> &'static str {
        match self {
            NextStep::Delete => "Delete",
            NextStep::Create => "Create",
            NextStep::RepairRecord => "RepairRecord",
            NextStep::Nothing => "Nothing",
        }
    }
}

/// What to do, from whether the ALB exists, whether it should, and whether its records point
/// at it.
pub fn next_step(alb_exists: bool, should_exist: bool, record_exists: bool) -> NextStep {
    match (alb_exists, should_exist, record_exists) {
        (true, false, _) => NextStep::Delete,
        (false, true, _) => NextStep::Create,
        (true, true, false) => NextStep::RepairRecord,
        _ => NextStep::Nothing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};
    use serde_json::json;

    fn event(changes: serde_json::Value) -> AlbEvent {
        let mut v = json!({
            "albName": "dev-alb", "startTime": 9, "endTime": 18, "days": "mon-fri",
            "subnets": ["subnet-1", "subnet-2"], "hostedZoneId": "ZONE1", "domainName": "dev.example.com",
            "targetGroups": [{"targetGroupArn": "arn:aws:elasticloadbalancing:r:1:targetgroup/a/1", "listenerProtocol": "HTTP", "listenerPort": 80}]
        });
        for (k, val) in changes.as_object().unwrap() {
            v[k] = val.clone();
        }
        AlbEvent::parse(&v, DateTime::<Utc>::MIN_UTC).unwrap()
    }

    #[test]
    fn working_hours_in_seoul() {
        assert!(should_exist(&event(json!({"now": "2026-11-25T09:00:00+09:00"}))).0);
        assert!(should_exist(&event(json!({"now": "2026-11-25T18:59:00+09:00"}))).0);
        assert!(!should_exist(&event(json!({"now": "2026-11-25T19:00:00+09:00"}))).0);
        let (exists, reason) = should_exist(&event(json!({"now": "2026-11-28T12:00:00+09:00"})));
        assert!(!exists);
        assert!(
            reason.starts_with("outside schedule mon-fri 09:00–18:59 (Asia/Seoul)"),
            "{reason}"
        );
    }

    #[test]
    fn hold_and_skip_dates() {
        let held = event(
            json!({"now": "2026-11-25T21:00:00+09:00", "holdUntil": "2026-11-25T22:00:00+09:00"}),
        );
        assert!(should_exist(&held).0);
        let holiday = event(json!({"now": "2026-12-25T10:00:00+09:00", "skipDates": "2026-12-25"}));
        assert_eq!(
            should_exist(&holiday),
            (false, "skip date 2026-12-25 (Asia/Seoul)".to_string())
        );
    }

    #[test]
    fn timezone_field() {
        // 08:00 in Berlin is 16:00 in Seoul: the same instant, opposite answers.
        let at = json!("2026-11-25T08:00:00+01:00");
        assert!(!should_exist(&event(json!({"now": at, "timezone": "Europe/Berlin"}))).0);
        assert!(should_exist(&event(json!({"now": at}))).0);
    }

    #[test]
    fn next_steps() {
        assert_eq!(next_step(true, false, true), NextStep::Delete);
        assert_eq!(next_step(true, false, false), NextStep::Delete);
        assert_eq!(next_step(false, true, false), NextStep::Create);
        assert_eq!(next_step(true, true, false), NextStep::RepairRecord);
        assert_eq!(next_step(true, true, true), NextStep::Nothing);
        assert_eq!(next_step(false, false, false), NextStep::Nothing);
    }
}
