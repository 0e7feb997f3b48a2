//! An instance's tags, read into what it wants: the tag contract.
//!
//! | tag | meaning |
//! |---|---|
//! | `AUTOSTOP_ENABLE` | `true` in any letter case: managed. Anything else or absent: never touched. |
//! | `DAY` | days the schedule applies ([`DaySet`]); absent: every day |
//! | `TIME` | daily windows ([`Windows`]); absent or invalid: the instance is skipped |
//! | `TZ` | IANA zone; absent: the function's `SCHEDULE_TIMEZONE` |
//! | `AUTOSTOP_HOLD_UNTIL` | RFC 3339 time; until then wanted running whatever the schedule says |
//! | `AUTOSTOP_SKIP_DATES` | `YYYY-MM-DD` list; wanted stopped all day on those local dates |
//! | `AUTOSTOP_MODE` | `both` (default), `stop-only`, `start-only` |
//! | `AUTOSTOP_HIBERNATE` | `true`: stop with hibernation |
//!
//! Any tag that is present but cannot be read makes the instance skipped with the reason: acting on
//! a schedule we could not read could stop a machine someone needs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, FixedOffset, NaiveDate};
use chrono_tz::Tz;

use crate::days::{DayError, DaySet};
use crate::event::shorten;
use crate::schedule::Schedule;
use crate::window::{WindowError, Windows};

/// `true` in any letter case makes an instance managed (see [`is_enabled`]).
pub const TAG_ENABLE: &str = "AUTOSTOP_ENABLE";
/// The days the schedule applies ([`DaySet`]); absent: every day.
pub const TAG_DAY: &str = "DAY";
/// The daily windows ([`Windows`]); a managed instance without it is skipped.
pub const TAG_TIME: &str = "TIME";
/// The schedule's IANA zone; absent: the function's `SCHEDULE_TIMEZONE`.
pub const TAG_TZ: &str = "TZ";
/// An RFC 3339 time; until then the instance is wanted running, whatever the schedule says.
pub const TAG_HOLD_UNTIL: &str = "AUTOSTOP_HOLD_UNTIL";
/// `YYYY-MM-DD` dates, separated by commas or spaces: local dates on which the instance is wanted stopped
/// all day.
pub const TAG_SKIP_DATES: &str = "AUTOSTOP_SKIP_DATES";
/// Which way the function may move the instance ([`Mode`]).
pub const TAG_MODE: &str = "AUTOSTOP_MODE";
/// `true`: stop with hibernation.
pub const TAG_HIBERNATE: &str = "AUTOSTOP_HIBERNATE";
/// Set by EC2 Auto Scaling on its members: stopping one makes the group replace it.
pub const TAG_ASG: &str = "aws:autoscaling:groupName";

/// Which way the function may move an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `both`: started and stopped by lightsout.
    #[default]
    Both,
    /// `stop-only`: stopped by lightsout, never started.
    StopOnly,
    /// `start-only`: started by lightsout, never stopped.
    StartOnly,
}

impl Mode {
    /// Reads an `AUTOSTOP_MODE` value: any letter case, `_` for `-`; empty is `both`.
    pub fn parse(value: &str) -> Result<Mode, PolicyError> {
        match value.trim().to_ascii_lowercase().replace('_', "-").as_str() {
            "both" | "" => Ok(Mode::Both),
            "stop-only" | "stoponly" => Ok(Mode::StopOnly),
            "start-only" | "startonly" => Ok(Mode::StartOnly),
            _ => Err(PolicyError::BadMode(shorten(value))),
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Both => "both",
            Mode::StopOnly => "stop-only",
            Mode::StartOnly => "start-only",
        })
    }
}

/// Why a managed instance's tags could not be read. Each message names the tag.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No `TIME` tag.
    #[error("TIME tag is missing; expected windows such as `9~18`")]
    MissingTime,
    /// The `DAY` tag cannot be read.
    #[error(transparent)]
    Day(#[from] DayError),
    /// The `TIME` tag cannot be read.
    #[error(transparent)]
    Time(#[from] WindowError),
    /// The `TZ` tag is not a zone; holds it, shortened.
    #[error("TZ: `{0}` is not an IANA time zone; expected a name such as Asia/Seoul, Europe/Berlin or UTC")]
    BadZone(String),
    /// `AUTOSTOP_HOLD_UNTIL` is not an RFC 3339 time; holds it, shortened.
    #[error("AUTOSTOP_HOLD_UNTIL: `{0}` is not an RFC 3339 time; expected e.g. 2026-11-25T23:00:00+09:00")]
    BadHoldUntil(String),
    /// A part of `AUTOSTOP_SKIP_DATES` is not a date; holds that part, shortened.
    #[error("AUTOSTOP_SKIP_DATES: `{0}` is not a date; expected YYYY-MM-DD dates separated by commas or spaces")]
    BadSkipDate(String),
    /// `AUTOSTOP_MODE` is not a mode; holds it, shortened.
    #[error("AUTOSTOP_MODE: `{0}` is not a mode; expected both, stop-only or start-only")]
    BadMode(String),
    /// `AUTOSTOP_HIBERNATE` is neither `true` nor `false`; holds it, shortened.
    #[error("AUTOSTOP_HIBERNATE: `{0}` is not a boolean; expected true or false")]
    BadHibernate(String),
}

/// What a managed instance's tags ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// `DAY`, `TIME` and `TZ`.
    pub schedule: Schedule,
    /// `AUTOSTOP_HOLD_UNTIL`: wanted running until then. `None` when absent or empty.
    pub hold_until: Option<DateTime<FixedOffset>>,
    /// `AUTOSTOP_SKIP_DATES`: local dates on which it is wanted stopped all day.
    pub skip_dates: BTreeSet<NaiveDate>,
    /// `AUTOSTOP_MODE`; [`Mode::Both`] when absent.
    pub mode: Mode,
    /// `AUTOSTOP_HIBERNATE`: stop with hibernation. `false` when absent or empty.
    pub hibernate: bool,
}

/// How the function treats an instance, from its tags alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Classification {
    /// `AUTOSTOP_ENABLE` is absent or not `true`: never touched.
    Unmanaged,
    /// A member of this Auto Scaling group: left to the group.
    AutoScaling(String),
    /// Managed, but a tag could not be read.
    Invalid(PolicyError),
    /// Managed, with what its tags ask for.
    Managed(Box<Policy>),
}

/// Is this `AUTOSTOP_ENABLE` value "true" in any letter case?
///
/// Exactly the test the stack's IAM policies make (`StringEqualsIgnoreCase` on
/// `aws:ResourceTag/AUTOSTOP_ENABLE` = `true`): no trimming, so a value with a stray space is
/// unmanaged here too. Were the two to differ, the code would act on instances its role may not
/// touch, and one such instance fails a whole batched call (template.yaml, RELIABILITY.md).
pub fn is_enabled(value: Option<&str>) -> bool {
    value.is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// Every letter-case spelling of `true`, for an EC2 server-side tag filter (tag values are
/// case-sensitive there; the 16 variants are the whole space).
pub fn enable_filter_values() -> Vec<String> {
    (0..16u8)
        .map(|mask| {
            "true"
                .chars()
                .enumerate()
                .map(|(i, c)| {
                    if mask & (1 << i) != 0 {
                        c.to_ascii_uppercase()
                    } else {
                        c
                    }
                })
                .collect()
        })
        .collect()
}

/// Parses a time-zone name, ignoring letter case (`asia/seoul` is Asia/Seoul).
pub fn parse_zone(value: &str) -> Option<Tz> {
    let value = value.trim();
    value
        .parse::<Tz>()
        .ok()
        .or_else(|| Tz::from_str_insensitive(value).ok())
}

/// Parses a list of `YYYY-MM-DD` dates separated by commas or spaces. The error is the first
/// part that is not a date (shortened for a message).
pub fn parse_dates(value: &str) -> Result<BTreeSet<NaiveDate>, String> {
    value
        .split([',', ' '])
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").map_err(|_| shorten(d)))
        .collect()
}

/// Reads an instance's tags. `default_zone` applies when there is no `TZ` tag.
pub fn classify(tags: &BTreeMap<String, String>, default_zone: Tz) -> Classification {
    let tag = |key: &str| tags.get(key).map(String::as_str);
    if !is_enabled(tag(TAG_ENABLE)) {
        return Classification::Unmanaged;
    }
    if let Some(group) = tag(TAG_ASG) {
        return Classification::AutoScaling(group.to_string());
    }
    match read_policy(tag, default_zone) {
        Ok(policy) => Classification::Managed(Box::new(policy)),
        Err(error) => Classification::Invalid(error),
    }
}

fn read_policy<'a>(
    tag: impl Fn(&str) -> Option<&'a str>,
    default_zone: Tz,
) -> Result<Policy, PolicyError> {
    let windows = Windows::parse(tag(TAG_TIME).ok_or(PolicyError::MissingTime)?)?;
    let days = tag(TAG_DAY).map_or(Ok(DaySet::EVERY_DAY), DaySet::parse)?;
    let zone = match tag(TAG_TZ).map(str::trim).filter(|z| !z.is_empty()) {
        None => default_zone,
        Some(name) => parse_zone(name).ok_or_else(|| PolicyError::BadZone(shorten(name)))?,
    };
    let hold_until = tag(TAG_HOLD_UNTIL)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| DateTime::parse_from_rfc3339(v).map_err(|_| PolicyError::BadHoldUntil(shorten(v))))
        .transpose()?;
    let skip_dates = tag(TAG_SKIP_DATES)
        .map(parse_dates)
        .transpose()
        .map_err(PolicyError::BadSkipDate)?
        .unwrap_or_default();
    let mode = tag(TAG_MODE).map_or(Ok(Mode::Both), Mode::parse)?;
    let hibernate = match tag(TAG_HIBERNATE).map(|v| v.trim().to_ascii_lowercase()) {
        None => false,
        Some(v) if v == "true" => true,
        Some(v) if v == "false" || v.is_empty() => false,
        Some(_) => {
            return Err(PolicyError::BadHibernate(shorten(
                tag(TAG_HIBERNATE).unwrap_or(""),
            )))
        }
    };
    Ok(Policy {
        schedule: Schedule {
            days,
            windows,
            zone,
        },
        hold_until,
        skip_dates,
        mode,
        hibernate,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn policy(pairs: &[(&str, &str)]) -> Policy {
        match classify(&tags(pairs), Tz::Asia__Seoul) {
            Classification::Managed(p) => *p,
            other => panic!("expected managed, got {other:?}"),
        }
    }

    fn invalid(pairs: &[(&str, &str)]) -> PolicyError {
        match classify(&tags(pairs), Tz::Asia__Seoul) {
            Classification::Invalid(e) => e,
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn enable_in_any_case_else_unmanaged() {
        for v in ["true", "TRUE", "True", "tRuE"] {
            assert!(matches!(
                classify(&tags(&[(TAG_ENABLE, v), (TAG_TIME, "9~18")]), Tz::UTC),
                Classification::Managed(_)
            ));
        }
        // Spaces are not trimmed: IAM's StringEqualsIgnoreCase would not match them either.
        for v in [
            "false", "yes", "1", "", "truee", " true", "true ", " true ", "true\n",
        ] {
            assert_eq!(
                classify(&tags(&[(TAG_ENABLE, v), (TAG_TIME, "9~18")]), Tz::UTC),
                Classification::Unmanaged
            );
        }
        assert_eq!(
            classify(&tags(&[(TAG_TIME, "9~18")]), Tz::UTC),
            Classification::Unmanaged
        );
    }

    #[test]
    fn filter_values_cover_every_case_once() {
        let values = enable_filter_values();
        assert_eq!(values.len(), 16);
        assert_eq!(values.iter().collect::<BTreeSet<_>>().len(), 16);
        assert!(values.iter().all(|v| is_enabled(Some(v))));
        assert!(values.contains(&"TRUE".to_string()) && values.contains(&"true".to_string()));
    }

    #[test]
    fn auto_scaling_members_are_left_alone() {
        let c = classify(
            &tags(&[
                (TAG_ENABLE, "true"),
                (TAG_TIME, "9~18"),
                (TAG_ASG, "web-asg"),
            ]),
            Tz::UTC,
        );
        assert_eq!(c, Classification::AutoScaling("web-asg".into()));
    }

    #[test]
    fn defaults() {
        let p = policy(&[(TAG_ENABLE, "true"), (TAG_TIME, "9~18")]);
        assert_eq!(p.schedule.days, DaySet::EVERY_DAY);
        assert_eq!(p.schedule.zone, Tz::Asia__Seoul);
        assert_eq!(p.mode, Mode::Both);
        assert!(!p.hibernate);
        assert!(p.hold_until.is_none() && p.skip_dates.is_empty());
    }

    #[test]
    fn every_tag_read() {
        let p = policy(&[
            (TAG_ENABLE, "True"),
            (TAG_DAY, "mon-fri"),
            (TAG_TIME, "9~18"),
            (TAG_TZ, "europe/berlin"),
            (TAG_HOLD_UNTIL, "2026-11-25T23:00:00+09:00"),
            (TAG_SKIP_DATES, "2026-12-25, 2027-01-01"),
            (TAG_MODE, "STOP-ONLY"),
            (TAG_HIBERNATE, "TRUE"),
        ]);
        assert_eq!(p.schedule.zone, Tz::Europe__Berlin);
        assert_eq!(p.schedule.days, DaySet::WEEKDAYS);
        assert_eq!(
            p.hold_until.unwrap().to_rfc3339(),
            "2026-11-25T23:00:00+09:00"
        );
        assert_eq!(p.skip_dates.len(), 2);
        assert_eq!(p.mode, Mode::StopOnly);
        assert!(p.hibernate);
        assert_eq!(Mode::parse("start_only").unwrap(), Mode::StartOnly);
    }

    #[test]
    fn unreadable_tags_are_reported_by_name() {
        assert_eq!(invalid(&[(TAG_ENABLE, "true")]), PolicyError::MissingTime);
        let cases: &[(&str, &str, &str)] = &[
            (TAG_TIME, "nine to five", "TIME:"),
            (TAG_DAY, "someday", "DAY:"),
            (TAG_TZ, "Mars/Olympus", "TZ: `Mars/Olympus`"),
            (
                TAG_HOLD_UNTIL,
                "tomorrow",
                "AUTOSTOP_HOLD_UNTIL: `tomorrow`",
            ),
            (
                TAG_SKIP_DATES,
                "2026-12-25,12/31",
                "AUTOSTOP_SKIP_DATES: `12/31`",
            ),
            (
                TAG_SKIP_DATES,
                "2026-02-30",
                "AUTOSTOP_SKIP_DATES: `2026-02-30`",
            ),
            (TAG_MODE, "sometimes", "AUTOSTOP_MODE: `sometimes`"),
            (TAG_HIBERNATE, "yes", "AUTOSTOP_HIBERNATE: `yes`"),
        ];
        for (key, value, expected) in cases {
            let mut t = vec![(TAG_ENABLE, "true"), (TAG_TIME, "9~18")];
            t.retain(|(k, _)| k != key);
            t.push((key, value));
            let msg = invalid(&t).to_string();
            assert!(msg.starts_with(expected), "{key}={value}: {msg}");
        }
    }
}
