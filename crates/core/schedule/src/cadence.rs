//! When the function runs: an EventBridge Scheduler schedule expression, read so that a tag's
//! window can be compared with the runs that act on it. A window that opens at 09:30 opens the
//! instance at 09:30 only if the function runs then; under an hourly schedule it starts at 10:00.
//!
//! `cron(minutes hours day-of-month month day-of-week year)` is evaluated by the `croner` crate in
//! Quartz mode (day-of-week 1–7 = SUN–SAT, `?`, `L`, `W`, `#`), as EventBridge does, in the
//! schedule's own zone (`ScheduleExpressionTimezone`). `rate(N unit)` runs every N minutes, hours
//! or days from when the schedule was made, which nothing here knows: such a cadence says how
//! late a change can be, not when it happens. `at(...)` (a one-time schedule) is refused: it is no
//! cadence.

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// The template's default `ScheduleExpression`: every 15 minutes, so windows written in quarter
/// hours start and stop on time.
pub const DEFAULT_EXPRESSION: &str = "cron(0/15 * * * ? *)";

/// A parsed schedule expression.
#[derive(Debug, Clone)]
pub enum Cadence {
    /// `cron(...)`, with the zone it runs in.
    Cron {
        /// The expression as given.
        expression: String,
        /// The parsed pattern.
        cron: Box<Cron>,
        /// `ScheduleExpressionTimezone`.
        zone: Tz,
    },
    /// `rate(...)`: every `every`, from an instant this code cannot know.
    Rate {
        /// The expression as given.
        expression: String,
        /// The interval.
        every: Duration,
    },
}

/// An expression that is not a recurring EventBridge Scheduler schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("schedule expression `{expression}`: {reason}")]
pub struct CadenceError {
    /// What was given.
    pub expression: String,
    /// What is wrong, and what was expected.
    pub reason: String,
}

impl Cadence {
    /// Reads `rate(15 minutes)` or `cron(0/15 * * * ? *)`, the cron one running in `zone`.
    pub fn parse(expression: &str, zone: Tz) -> Result<Cadence, CadenceError> {
        let given = expression.trim();
        let error = |reason: String| CadenceError {
            expression: given.to_string(),
            reason,
        };
        let inner = |prefix: &str| {
            given
                .strip_prefix(prefix)
                .and_then(|rest| rest.strip_suffix(')'))
                .map(str::trim)
        };
        if let Some(body) = inner("cron(") {
            let fields: Vec<&str> = body.split_whitespace().collect();
            if fields.len() != 6 {
                return Err(error(format!(
                    "expected six fields (minutes hours day-of-month month day-of-week year), got {}",
                    fields.len()
                )));
            }
            if fields[2] != "?" && fields[4] != "?" {
                return Err(error(
                    "one of day-of-month and day-of-week must be `?` (EventBridge takes no \
                     schedule with both)"
                        .into(),
                ));
            }
            let cron = CronParser::builder()
                .seconds(Seconds::Required)
                .year(Year::Required)
                .alternative_weekdays(true)
                .build()
                .parse(&format!("0 {body}"))
                .map_err(|e| error(format!("{e}")))?;
            return Ok(Cadence::Cron {
                expression: given.to_string(),
                cron: Box::new(cron),
                zone,
            });
        }
        if let Some(body) = inner("rate(") {
            let (value, unit) = body.split_once(' ').unwrap_or((body, ""));
            let n: i64 = value
                .trim()
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| error(format!("expected a positive whole number, got `{value}`")))?;
            let every = match (unit.trim(), n) {
                ("minute", 1) | ("minutes", 2..) => Duration::minutes(n),
                ("hour", 1) | ("hours", 2..) => Duration::hours(n),
                ("day", 1) | ("days", 2..) => Duration::days(n),
                (other, _) => {
                    return Err(error(format!(
                    "expected the unit `minute`, `hour` or `day` (plural above 1), got `{other}`"
                )))
                }
            };
            return Ok(Cadence::Rate {
                expression: given.to_string(),
                every,
            });
        }
        Err(error(
            "expected a recurring schedule: `cron(minutes hours day-of-month month day-of-week \
             year)` or `rate(N minutes)`"
                .into(),
        ))
    }

    /// The expression as given.
    pub fn expression(&self) -> &str {
        match self {
            Cadence::Cron { expression, .. } | Cadence::Rate { expression, .. } => expression,
        }
    }

    /// The runs after `after`, up to `until` (a cron cadence only; a rate one has no known
    /// instants: `None`).
    pub fn runs(&self, after: DateTime<Utc>, until: DateTime<Utc>) -> Option<Vec<DateTime<Utc>>> {
        let Cadence::Cron { cron, zone, .. } = self else {
            return None;
        };
        Some(
            cron.iter_after(after.with_timezone(zone))
                .map(|t| t.with_timezone(&Utc))
                .take_while(|t| *t <= until)
                .collect(),
        )
    }

    /// The longest a change of the wanted state can wait for a run: the interval of a rate
    /// cadence, the longest gap between two runs of a cron one within `[from, until]`.
    pub fn longest_wait(&self, from: DateTime<Utc>, until: DateTime<Utc>) -> Option<Duration> {
        match self {
            Cadence::Rate { every, .. } => Some(*every),
            Cadence::Cron { .. } => {
                let runs = self.runs(from, until)?;
                runs.windows(2).map(|w| w[1] - w[0]).max()
            }
        }
    }
}

/// The first run at or after `instant` (the run that acts on a change at `instant`), within
/// `runs` (ascending).
pub fn acting_run(runs: &[DateTime<Utc>], instant: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let i = runs.partition_point(|r| *r < instant);
    runs.get(i).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn runs(expression: &str, zone: Tz, from: &str, until: &str) -> Vec<String> {
        Cadence::parse(expression, zone)
            .unwrap()
            .runs(at(from), at(until))
            .unwrap()
            .iter()
            .map(|t| t.with_timezone(&zone).format("%a %H:%M").to_string())
            .collect()
    }

    #[test]
    fn cron_runs_in_its_zone_as_eventbridge_reads_it() {
        let seoul = Tz::Asia__Seoul;
        assert_eq!(
            runs(
                DEFAULT_EXPRESSION,
                seoul,
                "2026-11-25T09:05:00+09:00",
                "2026-11-25T10:00:00+09:00"
            ),
            ["Wed 09:15", "Wed 09:30", "Wed 09:45", "Wed 10:00"]
        );
        assert_eq!(
            runs(
                "cron(0 * * * ? *)",
                seoul,
                "2026-11-25T09:00:00+09:00",
                "2026-11-25T11:00:00+09:00"
            ),
            ["Wed 10:00", "Wed 11:00"]
        );
        // Day-of-week 2-6 = MON-FRI (1 = SUN), in the schedule's zone: Friday, then Monday.
        assert_eq!(
            runs(
                "cron(0 9 ? * 2-6 *)",
                seoul,
                "2026-11-27T10:00:00+09:00",
                "2026-12-01T00:00:00+09:00"
            ),
            ["Mon 09:00"]
        );
        assert_eq!(
            runs(
                "cron(30 8 ? * MON-FRI *)",
                Tz::Europe__Berlin,
                "2026-11-27T09:00:00+01:00",
                "2026-11-30T09:00:00+01:00"
            ),
            ["Mon 08:30"]
        );
    }

    #[test]
    fn rate_has_an_interval_and_no_instants() {
        let cadence = Cadence::parse("rate(15 minutes)", Tz::UTC).unwrap();
        assert!(cadence
            .runs(at("2026-11-25T00:00:00Z"), at("2026-11-26T00:00:00Z"))
            .is_none());
        assert_eq!(
            cadence.longest_wait(at("2026-11-25T00:00:00Z"), at("2026-11-26T00:00:00Z")),
            Some(Duration::minutes(15))
        );
        assert!(Cadence::parse("rate(1 hour)", Tz::UTC).is_ok());
        assert!(Cadence::parse("rate(2 days)", Tz::UTC).is_ok());
    }

    #[test]
    fn the_longest_wait_of_a_cron_cadence_is_its_widest_gap() {
        let hourly = Cadence::parse("cron(0 * * * ? *)", Tz::UTC).unwrap();
        let (from, until) = (at("2026-11-25T00:00:00Z"), at("2026-11-26T00:00:00Z"));
        assert_eq!(hourly.longest_wait(from, until), Some(Duration::hours(1)));
        let office = Cadence::parse("cron(0/15 8-19 ? * MON-FRI *)", Tz::UTC).unwrap();
        // From Wednesday 19:45 to Thursday 08:00.
        assert_eq!(
            office.longest_wait(from, until + Duration::days(1)),
            Some(Duration::minutes(12 * 60 + 15))
        );
    }

    #[test]
    fn the_acting_run_is_the_first_at_or_after_the_change() {
        let runs = [at("2026-11-25T09:00:00Z"), at("2026-11-25T10:00:00Z")];
        assert_eq!(acting_run(&runs, at("2026-11-25T09:00:00Z")), Some(runs[0]));
        assert_eq!(acting_run(&runs, at("2026-11-25T09:30:00Z")), Some(runs[1]));
        assert_eq!(acting_run(&runs, at("2026-11-25T10:30:00Z")), None);
    }

    #[test]
    fn what_is_not_a_recurring_schedule_is_refused_with_what_was_expected() {
        for (expression, says) in [
            ("at(2026-11-25T09:00:00)", "expected a recurring schedule"),
            ("cron(0 * * * *)", "expected six fields"),
            (
                "cron(0 9 1 * MON *)",
                "one of day-of-month and day-of-week must be `?`",
            ),
            (
                "cron(61 * * * ? *)",
                "schedule expression `cron(61 * * * ? *)`",
            ),
            (
                "rate(0 minutes)",
                "expected a positive whole number, got `0`",
            ),
            ("rate(5 minute)", "expected the unit"),
            ("rate(1 minutes)", "expected the unit"),
            ("rate(fast)", "expected a positive whole number"),
            ("", "expected a recurring schedule"),
        ] {
            let message = Cadence::parse(expression, Tz::UTC).unwrap_err().to_string();
            assert!(message.contains(says), "{expression}: {message}");
        }
    }
}
