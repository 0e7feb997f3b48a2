//! The `ec2-autostop` event contract: which instant to decide for, and whether to change anything.
//!
//! Fields read (all optional, others ignored so EventBridge envelopes pass through):
//! - `time`: RFC 3339; the scheduled time. EventBridge rules put it there; an EventBridge Scheduler
//!   target passes `<aws.scheduler.scheduled-time>`. A delayed or retried run decides for it.
//! - `now`: RFC 3339; for tests and manual runs, used when `time` is absent.
//! - `dryRun`: boolean (or the strings "true"/"false"): decide and report, change nothing.

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Bad input: names the field and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EventError {
    #[error("event: expected a JSON object, got {0}")]
    NotAnObject(&'static str),
    #[error("event field `{field}`: expected an RFC 3339 time such as 2026-11-25T09:00:00+09:00, got {got}")]
    BadTime { field: &'static str, got: String },
    #[error("event field `dryRun`: expected true or false, got {0}")]
    BadDryRun(String),
}

/// Where the decision time came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TimeSource {
    /// The event's `time` (the scheduled time).
    EventTime,
    /// The event's `now`.
    EventNow,
    /// No time in the event: the function's clock.
    Clock,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutostopEvent {
    /// `None`: use the clock.
    pub time: Option<(DateTime<Utc>, TimeSource)>,
    /// `None`: the function's `DRY_RUN` setting decides.
    pub dry_run: Option<bool>,
}

impl AutostopEvent {
    pub fn parse(event: &Value) -> Result<AutostopEvent, EventError> {
        let fields = match event {
            Value::Null => {
                return Ok(AutostopEvent {
                    time: None,
                    dry_run: None,
                })
            }
            Value::Object(map) => map,
            other => return Err(EventError::NotAnObject(kind(other))),
        };
        let time = match (fields.get("time"), fields.get("now")) {
            (Some(t), _) if !t.is_null() => Some((instant("time", t)?, TimeSource::EventTime)),
            (_, Some(n)) if !n.is_null() => Some((instant("now", n)?, TimeSource::EventNow)),
            _ => None,
        };
        let dry_run = match fields.get("dryRun") {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Some(true),
            Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Some(false),
            Some(other) => return Err(EventError::BadDryRun(describe(other))),
        };
        Ok(AutostopEvent { time, dry_run })
    }

    /// The instant to decide for: the event's, else `clock`.
    pub fn decision_time(&self, clock: DateTime<Utc>) -> (DateTime<Utc>, TimeSource) {
        self.time.unwrap_or((clock, TimeSource::Clock))
    }
}

fn instant(field: &'static str, value: &Value) -> Result<DateTime<Utc>, EventError> {
    value
        .as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| EventError::BadTime {
            field,
            got: describe(value),
        })
}

/// What kind of JSON value this is, for error messages ("an array", "a number", …).
pub fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short description of a bad value for an error message (never the whole of a huge input).
pub fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => {
            let shown: String = s.chars().take(64).collect();
            let more = if s.chars().count() > 64 { "…" } else { "" };
            format!("\"{shown}{more}\"")
        }
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        Value::Array(items) => format!("an array of {}", items.len()),
        other => kind(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scheduled_event_time_wins() {
        let e = AutostopEvent::parse(&json!({
            "version": "0", "detail-type": "Scheduled Event", "source": "aws.events",
            "time": "2026-11-25T00:00:00Z", "now": "2030-01-01T00:00:00Z", "detail": {}
        }))
        .unwrap();
        let (t, src) = e.decision_time(Utc::now());
        assert_eq!(t.to_rfc3339(), "2026-11-25T00:00:00+00:00");
        assert_eq!(src, TimeSource::EventTime);
    }

    #[test]
    fn now_then_clock() {
        let e = AutostopEvent::parse(&json!({"now": "2026-11-25T09:00:00+09:00", "dryRun": true}))
            .unwrap();
        assert_eq!(e.decision_time(Utc::now()).1, TimeSource::EventNow);
        assert_eq!(e.dry_run, Some(true));
        let clock = Utc::now();
        assert_eq!(
            AutostopEvent::parse(&json!({}))
                .unwrap()
                .decision_time(clock),
            (clock, TimeSource::Clock)
        );
        assert_eq!(
            AutostopEvent::parse(&Value::Null)
                .unwrap()
                .decision_time(clock)
                .1,
            TimeSource::Clock
        );
        assert_eq!(
            AutostopEvent::parse(&json!({"dryRun": "TRUE"}))
                .unwrap()
                .dry_run,
            Some(true)
        );
    }

    #[test]
    fn bad_fields_named() {
        let err = |v: Value| AutostopEvent::parse(&v).unwrap_err().to_string();
        assert_eq!(
            err(json!([1])),
            "event: expected a JSON object, got an array"
        );
        assert!(err(json!({"time": "yesterday"}))
            .starts_with("event field `time`: expected an RFC 3339 time"));
        assert!(err(json!({"now": 5})).ends_with("got 5"));
        assert!(err(json!({"now": "x".repeat(1000)})).len() < 200);
        assert_eq!(
            err(json!({"dryRun": "maybe"})),
            "event field `dryRun`: expected true or false, got \"maybe\""
        );
        assert_eq!(
            err(json!({"dryRun": {}})),
            "event field `dryRun`: expected true or false, got an object"
        );
    }
}
