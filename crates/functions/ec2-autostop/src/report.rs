//! The JSON report an invocation returns (and logs).

use serde::Serialize;

use lightsout_runtime::{Counted, Metrics};
use lightsout_schedule::TimeSource;

/// The function's metrics (docs/metrics.md), counted from the report: instances started and
/// stopped (0 in a dry run, whose report lists what would have been), skipped (bad tags, Auto
/// Scaling groups), failed, and found stopped again after a start (`StartsNotHeld`); regions
/// that could not be listed; last-action tags that could not be set.
pub const METRICS: &[&str] = &[
    "InstancesStarted",
    "InstancesStopped",
    "InstancesSkipped",
    "InstancesFailed",
    "RegionsFailed",
    "StartsNotHeld",
    "TagsFailed",
    lightsout_runtime::metrics::FAILURES,
];

impl Counted for Report {
    fn count(&self, metrics: &Metrics) {
        let n = |items: usize| items as u64;
        metrics.property("dryRun", self.dry_run);
        if !self.dry_run {
            metrics.add("InstancesStarted", n(self.started.len()));
            metrics.add("InstancesStopped", n(self.stopped.len()));
        }
        metrics.add("InstancesSkipped", n(self.skipped.len()));
        let regions = self
            .failed
            .iter()
            .filter(|f| f.instance_id.is_none())
            .count();
        metrics.add("InstancesFailed", n(self.failed.len() - regions));
        metrics.add("RegionsFailed", n(regions));
        metrics.add("StartsNotHeld", n(self.start_did_not_hold.len()));
        metrics.add("TagsFailed", n(self.tag_failed.len()));
    }
}

/// The report: what one invocation decided and did. Returned, and logged.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The instant decided for, RFC 3339 in UTC.
    pub decision_time: String,
    /// Where the decision time came from.
    pub decision_time_source: TimeSource,
    /// The zone for instances without a `TZ` tag.
    pub default_timezone: String,
    /// When true nothing was changed: `started`/`stopped` list what would have been done.
    pub dry_run: bool,
    /// The regions decided for.
    pub regions: Vec<String>,
    /// Instances started (in a dry run, those that would have been).
    pub started: Vec<Acted>,
    /// Instances stopped (in a dry run, those that would have been).
    pub stopped: Vec<Acted>,
    /// Managed instances already in their wanted state (or left by their mode / in transition).
    pub unchanged: usize,
    /// Managed instances left alone: Auto Scaling members, and tags that cannot be read.
    pub skipped: Vec<Skipped>,
    /// Instances whose start or stop failed, and regions that could not be listed: any fails the
    /// invocation.
    pub failed: Vec<Failed>,
    /// Instances lightsout started that were found stopped again while still due to run: not
    /// started again while they stay due (one start per running period).
    pub start_did_not_hold: Vec<NotHeld>,
    /// Instances acted on whose `lightsout:last-action` tag could not be set. The action stands;
    /// these do not fail the invocation.
    pub tag_failed: Vec<TagFailed>,
}

impl Report {
    /// Adds what `part` (one region's run, from a copy of this report's header) found.
    pub fn absorb(&mut self, part: Report) {
        self.started.extend(part.started);
        self.stopped.extend(part.stopped);
        self.unchanged += part.unchanged;
        self.skipped.extend(part.skipped);
        self.failed.extend(part.failed);
        self.start_did_not_hold.extend(part.start_did_not_hold);
        self.tag_failed.extend(part.tag_failed);
    }
}

/// An instance started or stopped.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Acted {
    /// The instance's id.
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// Its `Name` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Why, as the plan says it.
    pub reason: String,
    /// Only for stops: whether the instance was hibernated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hibernated: Option<bool>,
    /// Anything the reader should know, e.g. a refused hibernation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// A managed instance left alone.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    /// The instance's id.
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// Why: its Auto Scaling group, or the tag that cannot be read.
    pub reason: String,
}

/// An instance whose start or stop failed, or a region whose instances could not be listed.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    /// `None` when a whole region could not be listed.
    pub instance_id: Option<String>,
    /// The region.
    pub region: String,
    /// `start`, `stop` or `describe`.
    pub action: &'static str,
    /// The AWS error code, e.g. `IncorrectInstanceState`.
    pub error_code: String,
    /// AWS's error message.
    pub error: String,
}

/// A start by lightsout that did not hold: the instance is stopped again while still due to
/// run.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct NotHeld {
    /// The instance's id.
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// Its `Name` tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// When lightsout started it, in its zone, as the tag says (`2026-11-25T09:00+09:00`).
    pub started_at: String,
    /// `schedule` or `request <requestId>`.
    pub started_by: String,
    /// EC2's reason for the stopped state, when it gives one.
    pub state_reason: Option<String>,
    /// What to check.
    pub hint: String,
}

/// An instance acted on whose `lightsout:last-action` tag could not be set.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TagFailed {
    /// The instance's id.
    pub instance_id: String,
    /// Its region.
    pub region: String,
    /// The value that could not be set.
    pub value: String,
    /// The AWS error code.
    pub error_code: String,
    /// AWS's error message.
    pub error: String,
}
