//! The function's settings (Lambda environment variables), read once per cold start.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `SCHEDULE_TIMEZONE` | `Asia/Seoul` | zone for instances without a `TZ` tag |
//! | `SKIP_DATES` | none | stack-wide holidays, `YYYY-MM-DD,…`, in each instance's zone |
//! | `REGIONS` | the function's region | comma-separated regions to manage |
//! | `DRY_RUN` | `false` | decide and report, change nothing |
//! | `BATCH_SIZE` | `100` | instance ids per StartInstances/StopInstances call (1–1000) |
//! | `PAGE_SIZE` | `1000` | DescribeInstances page size (5–1000); smaller only to exercise paging |

use std::collections::BTreeSet;

use chrono::NaiveDate;
use chrono_tz::Tz;

use crate::policy::{parse_dates, parse_zone};

/// `SCHEDULE_TIMEZONE` when unset.
pub const DEFAULT_ZONE: Tz = Tz::Asia__Seoul;
/// `BATCH_SIZE` when unset.
pub const DEFAULT_BATCH_SIZE: usize = 100;
/// `PAGE_SIZE` when unset: DescribeInstances' largest page.
pub const DEFAULT_PAGE_SIZE: i32 = 1000;

/// A setting that cannot be read: names the variable and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingsError {
    /// A variable is set to a value that cannot be read.
    #[error("setting {name}: `{value}` is invalid; expected {expected}")]
    Invalid {
        /// The variable, e.g. `BATCH_SIZE`.
        name: &'static str,
        /// Its value, or the part of it that is wrong.
        value: String,
        /// What was expected, in words.
        expected: &'static str,
    },
}

/// The function's settings, as [`Settings::from_lookup`] reads them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `SCHEDULE_TIMEZONE`: the zone for instances without a `TZ` tag.
    pub default_zone: Tz,
    /// `SKIP_DATES`: stack-wide holidays, each read in the instance's own zone.
    pub holidays: BTreeSet<NaiveDate>,
    /// Empty: the function's own region.
    pub regions: Vec<String>,
    /// `DRY_RUN`: decide and report, change nothing (an event's `dryRun` overrides it).
    pub dry_run: bool,
    /// `BATCH_SIZE`: instance ids per StartInstances/StopInstances call (1–1000).
    pub batch_size: usize,
    /// `PAGE_SIZE`: the DescribeInstances page size (5–1000).
    pub page_size: i32,
}

impl Settings {
    /// Reads settings through `get` (the environment in the function; a map in tests).
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let var = |name: &str| {
            get(name)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        let invalid = |name, value: &str, expected| SettingsError::Invalid {
            name,
            value: value.to_string(),
            expected,
        };
        let default_zone = match var("SCHEDULE_TIMEZONE") {
            None => DEFAULT_ZONE,
            Some(z) => parse_zone(&z).ok_or_else(|| {
                invalid(
                    "SCHEDULE_TIMEZONE",
                    &z,
                    "an IANA time zone such as Asia/Seoul",
                )
            })?,
        };
        let holidays = match var("SKIP_DATES") {
            None => BTreeSet::new(),
            Some(d) => parse_dates(&d)
                .map_err(|bad| invalid("SKIP_DATES", &bad, "YYYY-MM-DD dates, comma-separated"))?,
        };
        let mut regions: Vec<String> = Vec::new();
        for region in var("REGIONS").unwrap_or_default().split(',').map(str::trim) {
            if region.is_empty() || regions.iter().any(|r| r == region) {
                continue;
            }
            let valid = region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && region.contains('-');
            if !valid {
                return Err(invalid(
                    "REGIONS",
                    region,
                    "region names such as ap-northeast-2,us-east-1",
                ));
            }
            regions.push(region.to_string());
        }
        let dry_run = match var("DRY_RUN").map(|v| v.to_ascii_lowercase()) {
            None => false,
            Some(v) if v == "true" => true,
            Some(v) if v == "false" => false,
            Some(v) => return Err(invalid("DRY_RUN", &v, "true or false")),
        };
        let batch_size = match var("BATCH_SIZE") {
            None => DEFAULT_BATCH_SIZE,
            Some(b) => b
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| invalid("BATCH_SIZE", &b, "a whole number from 1 to 1000"))?,
        };
        let page_size = match var("PAGE_SIZE") {
            None => DEFAULT_PAGE_SIZE,
            Some(p) => p
                .parse::<i32>()
                .ok()
                .filter(|n| (5..=1000).contains(n))
                .ok_or_else(|| invalid("PAGE_SIZE", &p, "a whole number from 5 to 1000"))?,
        };
        Ok(Settings {
            default_zone,
            holidays,
            regions,
            dry_run,
            batch_size,
            page_size,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let s = read(&[]).unwrap();
        assert_eq!(s.default_zone, Tz::Asia__Seoul);
        assert!(s.holidays.is_empty() && s.regions.is_empty() && !s.dry_run);
        assert_eq!(s.batch_size, 100);
        assert_eq!(s.page_size, 1000);
        assert_eq!(
            read(&[("SCHEDULE_TIMEZONE", " ")]).unwrap().default_zone,
            Tz::Asia__Seoul
        );
    }

    #[test]
    fn all_read() {
        let s = read(&[
            ("SCHEDULE_TIMEZONE", "Europe/Berlin"),
            ("SKIP_DATES", "2026-12-25,2027-01-01"),
            ("REGIONS", "ap-northeast-2, us-east-1,ap-northeast-2,"),
            ("DRY_RUN", "TRUE"),
            ("BATCH_SIZE", "50"),
        ])
        .unwrap();
        assert_eq!(s.default_zone, Tz::Europe__Berlin);
        assert_eq!(s.holidays.len(), 2);
        assert_eq!(s.regions, ["ap-northeast-2", "us-east-1"]);
        assert!(s.dry_run);
        assert_eq!(s.batch_size, 50);
    }

    #[test]
    fn bad_settings_named() {
        let err = |k, v| read(&[(k, v)]).unwrap_err().to_string();
        assert!(err("SCHEDULE_TIMEZONE", "Seoul").starts_with("setting SCHEDULE_TIMEZONE: `Seoul`"));
        assert!(err("SKIP_DATES", "2026-12-25,xmas").starts_with("setting SKIP_DATES: `xmas`"));
        assert!(err("REGIONS", "Seoul").starts_with("setting REGIONS: `Seoul`"));
        assert!(err("DRY_RUN", "yes").starts_with("setting DRY_RUN: `yes`"));
        assert!(err("BATCH_SIZE", "0").starts_with("setting BATCH_SIZE: `0`"));
        assert!(err("BATCH_SIZE", "5000").contains("1 to 1000"));
        assert!(err("PAGE_SIZE", "4").starts_with("setting PAGE_SIZE: `4`"));
    }
}
