//! One EC2 instance as the scheduler sees it, and what it decides for it: the per-instance
//! decision that `ec2-autostop` acts on and `lightsout plan` shows, from tags and state alone.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::{
    classify, plan, start_did_not_hold, Action, Classification, InstanceState, Plan, Settings,
    StartDidNotHold, TAG_LAST_ACTION,
};

/// What the scheduler knows about one instance, as the EC2 adapter lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instance {
    /// The instance id, `i-…`.
    pub id: String,
    /// Its state now.
    pub state: InstanceState,
    /// Its tags.
    pub tags: BTreeMap<String, String>,
    /// EC2's reason for the current state, e.g. `Client.UserInitiatedShutdown: User initiated
    /// shutdown` or, for a start that failed after the call, `Client.InternalError: …`.
    pub state_reason: Option<String>,
}

impl Instance {
    /// The `Name` tag.
    pub fn name(&self) -> Option<String> {
        self.tags.get("Name").cloned()
    }
}

/// What the function does with one listed instance, from its tags and state alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Assessment {
    /// `AUTOSTOP_ENABLE` is not `true`: never touched, not reported. (The server-side filter
    /// should leave none of these.)
    Unmanaged,
    /// Managed but left alone, with the reason the report gives: a member of an Auto Scaling
    /// group, or a tag that cannot be read (`bad_tags`).
    Skipped {
        /// Why, as the report says it.
        reason: String,
        /// The tags cannot be read (as opposed to a deliberate skip).
        bad_tags: bool,
    },
    /// The decision: wanted state, action and reason. `hibernate`: a stop hibernates; `zone`: the
    /// instance's zone. `did_not_hold`: lightsout started it in the current running period and it
    /// is stopped again, so it is not started again (the plan says `Leave` and why).
    Decided {
        /// Wanted state, action and reason.
        plan: Plan,
        /// A stop hibernates.
        hibernate: bool,
        /// The instance's zone.
        zone: Tz,
        /// Set when a start by lightsout did not hold (the action is then `Leave`).
        did_not_hold: Option<StartDidNotHold>,
    },
}

/// Decides for one instance at `now`: what `ec2-autostop` acts on, and what `lightsout plan` shows.
pub fn assess(instance: &Instance, settings: &Settings, now: DateTime<Utc>) -> Assessment {
    let holidays: &BTreeSet<NaiveDate> = &settings.holidays;
    match classify(&instance.tags, settings.default_zone) {
        Classification::Unmanaged => Assessment::Unmanaged,
        Classification::AutoScaling(group) => Assessment::Skipped {
            reason: format!(
                "member of Auto Scaling group {group}: stopping it would make the group replace it"
            ),
            bad_tags: false,
        },
        Classification::Invalid(error) => Assessment::Skipped {
            reason: error.to_string(),
            bad_tags: true,
        },
        Classification::Managed(policy) => {
            let mut plan = plan(&policy, instance.state, now, holidays);
            let did_not_hold = if plan.action == Action::Start {
                start_did_not_hold(
                    instance.tags.get(TAG_LAST_ACTION).map(String::as_str),
                    &policy,
                    instance.state,
                    now,
                    holidays,
                    instance.state_reason.as_deref(),
                )
            } else {
                None
            };
            if let Some(found) = &did_not_hold {
                plan.action = Action::Leave;
                plan.reason = format!(
                    "{}; but lightsout started it at {} ({}) and it is stopped again: not started \
                     again while it stays due",
                    plan.reason,
                    found.started.time(),
                    found.started.cause
                );
            }
            Assessment::Decided {
                plan,
                hibernate: policy.hibernate,
                zone: policy.schedule.zone,
                did_not_hold,
            }
        }
    }
}
