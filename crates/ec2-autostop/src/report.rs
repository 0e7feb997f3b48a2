//! The JSON report an invocation returns (and logs).

use serde::Serialize;

use lightsout_schedule::TimeSource;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// The instant decided for, RFC 3339 in UTC.
    pub decision_time: String,
    pub decision_time_source: TimeSource,
    /// The zone for instances without a `TZ` tag.
    pub default_timezone: String,
    /// When true nothing was changed: `started`/`stopped` list what would have been done.
    pub dry_run: bool,
    pub regions: Vec<String>,
    pub started: Vec<Acted>,
    pub stopped: Vec<Acted>,
    /// Managed instances already in their wanted state (or left by their mode / in transition).
    pub unchanged: usize,
    pub skipped: Vec<Skipped>,
    pub failed: Vec<Failed>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Acted {
    pub instance_id: String,
    pub region: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub reason: String,
    /// Only for stops: whether the instance was hibernated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hibernated: Option<bool>,
    /// Anything the reader should know, e.g. a refused hibernation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Skipped {
    pub instance_id: String,
    pub region: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Failed {
    /// `None` when a whole region could not be listed.
    pub instance_id: Option<String>,
    pub region: String,
    /// `start`, `stop` or `describe`.
    pub action: &'static str,
    /// The AWS error code, e.g. `IncorrectInstanceState`.
    pub error_code: String,
    pub error: String,
}
