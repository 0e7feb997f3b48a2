//! lightsout's pure logic: the tag grammar (`DAY`, `TIME`, `TZ`, …), time-zone handling, the
//! wanted-state decision, the `ec2-autostop` event contract and settings. No AWS dependency, so all
//! of it is tested here without a network.

#![warn(missing_docs)]

pub mod cadence;
pub mod charset;
pub mod days;
pub mod decision;
pub mod event;
pub mod instance;
pub mod last_action;
pub mod policy;
pub mod schedule;
pub mod settings;
pub mod window;

pub use days::{DayError, DaySet};
pub use decision::{plan, wanted_state, Action, InstanceState, Plan, Wanted};
pub use event::{AutostopEvent, EventError, TimeSource};
pub use instance::{assess, Assessment, Instance};
pub use last_action::{
    start_did_not_hold, Cause, Done, LastAction, StartDidNotHold, TAG_LAST_ACTION,
};
pub use policy::{classify, Classification, Mode, Policy, PolicyError};
pub use schedule::{ActiveWindow, LocalMoment, Schedule};
pub use settings::{Settings, SettingsError};
pub use window::{Window, WindowError, Windows};
