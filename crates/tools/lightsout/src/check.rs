//! `lightsout check`: do these tags parse, what do they mean, and what does the week look like?
//!
//! The tags are read by `lightsout_schedule::classify`, exactly as `ec2-autostop` reads an
//! instance's tags, so a refusal carries the message the function reports; every cell of the
//! timeline and the next start/stop come from `lightsout_schedule::wanted_state`.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Duration, NaiveDate, Utc};

use chrono_tz::Tz;
use lightsout_schedule::cadence::{Cadence, DEFAULT_EXPRESSION};
use lightsout_schedule::charset::{self, Refusal};
use lightsout_schedule::policy::{
    TAG_ASG, TAG_DAY, TAG_ENABLE, TAG_HIBERNATE, TAG_HOLD_UNTIL, TAG_MODE, TAG_SKIP_DATES,
    TAG_TIME, TAG_TZ,
};
use lightsout_schedule::{
    classify, wanted_state, Classification, DaySet, LocalMoment, Mode, Policy, Settings, Wanted,
};

use crate::text;
use crate::timeline::{self, DayNames, Style};
use crate::{Outcome, Usage};

/// How far ahead the next start and stop are looked for.
const HORIZON_DAYS: i64 = 14;

/// The tags of `check`'s arguments: positionals, `--tz` and `--tags`.
pub fn collect_tags(
    day: Option<&str>,
    time: Option<&str>,
    tz: Option<&str>,
    tags: &[String],
) -> Result<BTreeMap<String, String>, Usage> {
    let mut out = BTreeMap::new();
    let mut put = |key: &str, value: &str, from: &str| {
        if out.insert(key.to_string(), value.to_string()).is_some() {
            return Err(Usage(format!(
                "{key} is given twice (again in {from}); give each tag once"
            )));
        }
        Ok(())
    };
    for list in tags {
        for (key, value) in split_tags(list)? {
            put(&key, &value, "--tags")?;
        }
    }
    // One positional value alone is TIME (DAY then defaults to every day).
    let (day, time) = match (day, time) {
        (Some(only), None) => (None, Some(only)),
        other => other,
    };
    if let Some(day) = day {
        put(TAG_DAY, day, "the DAY argument")?;
    }
    if let Some(time) = time {
        put(TAG_TIME, time, "the TIME argument")?;
    }
    if let Some(tz) = tz {
        put(TAG_TZ, tz, "--tz")?;
    }
    Ok(out)
}

/// `DAY=mon,wed,TIME=9~12,13~18,TZ=UTC` → pairs. A comma starts a new tag only where `KEY=`
/// follows; otherwise the comma belongs to the value (`DAY` and `TIME` values contain commas).
pub fn split_tags(list: &str) -> Result<Vec<(String, String)>, Usage> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for part in list.split(',') {
        let key = part.split_once('=').map(|(k, _)| k.trim());
        let is_key = |k: &str| {
            !k.is_empty()
                && k.chars()
                    .all(|c| c.is_alphanumeric() || "_:.-/+@ ".contains(c))
                && !k.contains(['~', '～'])
        };
        match (key, pairs.last_mut()) {
            (Some(k), _) if is_key(k) => {
                let value = part.split_once('=').map_or("", |(_, v)| v);
                pairs.push((k.to_string(), value.trim().to_string()));
            }
            (_, Some((_, value))) => {
                value.push(',');
                value.push_str(part.trim());
            }
            (_, None) if part.trim().is_empty() => {}
            (_, None) => {
                return Err(Usage(format!(
                    "--tags: `{}` is not KEY=VALUE; expected e.g. 'DAY=월-금,TIME=9~18'",
                    part.trim()
                )))
            }
        }
    }
    Ok(pairs)
}

/// Runs `check` on `tags` at `now`; `settings` gives the default zone and stack-wide skip dates,
/// `cadence` when the function runs (what the start and stop times really are).
pub fn run(
    mut tags: BTreeMap<String, String>,
    settings: &Settings,
    cadence: &Cadence,
    now: DateTime<Utc>,
    ascii: bool,
) -> Outcome {
    if tags.is_empty() {
        return Outcome::Usage(Usage(
            "no tags to check: give DAY and TIME (`lightsout check 월-금 9~18`) or --tags 'DAY=…,TIME=…'"
                .into(),
        ));
    }
    // Checking a schedule implies the instance is meant to be managed.
    tags.entry(TAG_ENABLE.to_string())
        .or_insert_with(|| "true".into());
    let policy = match classify(&tags, settings.default_zone) {
        Classification::Managed(policy) => policy,
        Classification::Invalid(error) => {
            return Outcome::Invalid(format!(
            "tags invalid: {error}\n(ec2-autostop skips such an instance and reports this reason)"
        ))
        }
        Classification::Unmanaged => {
            let value = &tags[TAG_ENABLE];
            let spaces = if value.trim().eq_ignore_ascii_case("true") {
                " (it has spaces around it: the stack's IAM policy compares the value exactly, in \
                 any letter case, so the functions may not touch it either; remove the spaces)"
            } else {
                ""
            };
            return Outcome::Ok(format!(
                "{TAG_ENABLE}=`{value}` is not `true`{spaces}: lightsout never touches this instance.\n"
            ));
        }
        Classification::AutoScaling(group) => {
            return Outcome::Ok(format!(
            "{TAG_ASG}={group}: a member of an Auto Scaling group is skipped (stopping it would \
                 make the group replace it); its other tags are not read.\n"
        ))
        }
    };
    Outcome::Ok(explain(&tags, &policy, settings, cadence, now, ascii))
}

fn explain(
    tags: &BTreeMap<String, String>,
    policy: &Policy,
    settings: &Settings,
    cadence: &Cadence,
    now: DateTime<Utc>,
    ascii: bool,
) -> String {
    let schedule = &policy.schedule;
    let zone = schedule.zone;
    let holidays = &settings.holidays;
    let mut out = String::from("Tags are valid: ec2-autostop would manage this instance.\n\n");

    let tag = |key: &str| tags.get(key).map(String::as_str);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut row = |key: &str, meaning: String| {
        rows.push(vec![
            format!("  {key}"),
            tag(key).map_or("-".into(), |v| format!("`{v}`")),
            meaning,
        ])
    };
    row(
        TAG_DAY,
        if tag(TAG_DAY).is_some() {
            days_in_words(schedule.days)
        } else {
            "every day (no DAY tag)".into()
        },
    );
    row(TAG_TIME, schedule.windows.to_string());
    row(
        TAG_TZ,
        if tag(TAG_TZ).is_some() {
            zone.to_string()
        } else {
            format!("{zone} (no TZ tag: the default zone, SCHEDULE_TIMEZONE)")
        },
    );
    if let Some(hold) = policy.hold_until {
        let state = if hold > now { "" } else { " (past: no effect)" };
        row(
            TAG_HOLD_UNTIL,
            format!("held running until {}{state}", hold.to_rfc3339()),
        );
    }
    if tag(TAG_SKIP_DATES).is_some() {
        row(
            TAG_SKIP_DATES,
            format!("stopped all day on {}", dates(&policy.skip_dates)),
        );
    }
    if tag(TAG_MODE).is_some() {
        row(TAG_MODE, mode_in_words(policy.mode).into());
    }
    if tag(TAG_HIBERNATE).is_some() {
        row(
            TAG_HIBERNATE,
            if policy.hibernate {
                "stops hibernate the instance (a normal stop if EC2 refuses)".into()
            } else {
                "normal stops".into()
            },
        );
    }
    for key in tags.keys().filter(|k| !is_ours(k)) {
        row(key, "not a lightsout tag: ignored".into());
    }
    out.push_str(&text::table(&["  TAG", "VALUE", "MEANING"], &rows));

    out.push_str(&format!(
        "\nIt runs {}, {}, {} time, and is stopped at all other times.\n",
        days_in_words(schedule.days),
        schedule.windows,
        zone
    ));
    if schedule.windows.0.iter().any(|w| w.wraps_midnight()) {
        out.push_str(
            "A window that runs past midnight belongs to the day it starts on: DAY names its start day.\n",
        );
    }
    if !holidays.is_empty() {
        out.push_str(&format!(
            "Stopped all day on the stack-wide SKIP_DATES {}.\n",
            dates(holidays)
        ));
    }
    match policy.mode {
        Mode::Both => {}
        mode => out.push_str(&format!("AUTOSTOP_MODE={mode}: {}.\n", mode_in_words(mode))),
    }
    out.push_str(&restricted_fit(tags));

    // A hold says until when, not since when: before `now` the week is drawn without it.
    let unheld = Policy {
        hold_until: None,
        ..policy.clone()
    };
    let on = |t: DateTime<Utc>| {
        let policy = if t < now { &unheld } else { policy };
        wanted_state(policy, t, holidays).0 == Wanted::Running
    };
    let (wanted, why) = wanted_state(policy, now, holidays);
    out.push_str(&format!(
        "\nNow ({} {}) it should be {wanted}: {why}\n",
        LocalMoment::at(now, zone),
        zone
    ));
    let (next_start, next_stop) = timeline::next_changes(now, Duration::days(HORIZON_DAYS), on);
    out.push_str(&timeline::next_lines(
        now,
        zone,
        Duration::days(HORIZON_DAYS),
        &[("Next start:", next_start), ("Next stop:", next_stop)],
    ));
    out.push_str(&under_cadence(
        cadence,
        now,
        zone,
        (next_start, next_stop),
        on,
    ));
    out.push('\n');

    let style = Style {
        ascii,
        on: "running",
        off: "stopped",
    };
    out.push_str(&timeline::render(
        now,
        zone,
        DayNames::like(tag(TAG_DAY)),
        style,
        on,
    ));
    out
}

/// When the function really acts on the tags' next start and stop: at the first run of `cadence`
/// at or after each. Said when that differs from the tags' own times, with a warning; and when a
/// window holds no run at all (the instance would never be started in it).
fn under_cadence(
    cadence: &Cadence,
    now: DateTime<Utc>,
    zone: Tz,
    ideal: (Option<DateTime<Utc>>, Option<DateTime<Utc>>),
    on: impl Fn(DateTime<Utc>) -> bool,
) -> String {
    let horizon = Duration::days(HORIZON_DAYS);
    let expression = cadence.expression();
    let Some(runs) = cadence.runs(now, now + horizon) else {
        let every = cadence
            .longest_wait(now, now + horizon)
            .map_or(0, |d| d.num_minutes());
        return format!(
            "Under `{expression}` the function runs every {} from when its schedule was made: each \
             start and stop comes up to that long after the times above.\n",
            text::from_now(every).trim_start_matches("in ")
        );
    };
    let real = timeline::next_changes_at(now, runs, &on);
    if real == ideal {
        return format!(
            "The schedule `{expression}` ({zone}) runs at these times: the function acts then.\n"
        );
    }
    let mut out = format!(
        "Under the schedule `{expression}` ({zone}) the function acts at its next run after each:\n"
    );
    out.push_str(&timeline::next_lines(
        now,
        zone,
        horizon,
        &[("  Starts:", real.0), ("  Stops:", real.1)],
    ));
    let missed = ideal.0.is_some() && real.0.is_none();
    out.push_str(&if missed {
        format!(
            "warning: no run of `{expression}` falls inside the window, so the instance is never \
             started; run the schedule more often (the stack's default is `{DEFAULT_EXPRESSION}`)\n"
        )
    } else {
        format!(
            "warning: the window's minutes fall between the runs of `{expression}`; run it at \
             least as often as the window's minutes (the stack's default is \
             `{DEFAULT_EXPRESSION}`, every 15 minutes) or write the window in its runs' times\n"
        )
    });
    out
}

/// Whether the lightsout tags would also be accepted on a load balancer or a database, whose tag
/// values take fewer characters than an instance's; for each that would not, the form that would,
/// with the same meaning.
fn restricted_fit(tags: &BTreeMap<String, String>) -> String {
    let refused: Vec<(&String, &String, Refusal)> = tags
        .iter()
        .filter(|(key, _)| is_ours(key))
        .filter_map(|(key, value)| charset::refusal(value).map(|why| (key, value, why)))
        .collect();
    if refused.is_empty() {
        return "These values also fit a load balancer's or a database's tags.\n".into();
    }
    let mut out = String::from(
        "On a load balancer or a database these values would be refused; write them this way there \
         (the same schedule):\n",
    );
    for (key, value, why) in refused {
        let form = charset::restricted_form(value);
        match charset::refusal(&form) {
            None => out.push_str(&format!("  {key}=`{form}` instead of `{value}`: {why}\n")),
            Some(still) => out.push_str(&format!("  {key}=`{value}`: {still}\n")),
        }
    }
    out
}

fn is_ours(key: &str) -> bool {
    [
        TAG_ENABLE,
        TAG_DAY,
        TAG_TIME,
        TAG_TZ,
        TAG_HOLD_UNTIL,
        TAG_SKIP_DATES,
        TAG_MODE,
        TAG_HIBERNATE,
        TAG_ASG,
    ]
    .contains(&key)
}

fn dates(dates: &BTreeSet<NaiveDate>) -> String {
    dates
        .iter()
        .map(NaiveDate::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn mode_in_words(mode: Mode) -> &'static str {
    match mode {
        Mode::Both => "started and stopped by lightsout",
        Mode::StopOnly => "stopped by lightsout, never started",
        Mode::StartOnly => "started by lightsout, never stopped",
    }
}

const DAY_NAMES: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// `every day`, `Monday to Friday`, `Monday, Wednesday and Friday`, `Monday and Friday to Sunday`.
pub fn days_in_words(days: DaySet) -> String {
    if days == DaySet::EVERY_DAY {
        return "every day".into();
    }
    let listed: Vec<usize> = days
        .iter()
        .map(|d| d.num_days_from_monday() as usize)
        .collect();
    // Runs of consecutive days, Monday first; three or more read as a range.
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for day in listed {
        match runs.last_mut() {
            Some((_, end)) if *end + 1 == day => *end = day,
            _ => runs.push((day, day)),
        }
    }
    let mut parts: Vec<String> = Vec::new();
    for (start, end) in runs {
        if end >= start + 2 {
            parts.push(format!("{} to {}", DAY_NAMES[start], DAY_NAMES[end]));
        } else {
            parts.extend((start..=end).map(|d| DAY_NAMES[d].to_string()));
        }
    }
    match parts.split_last() {
        Some((last, rest)) if !rest.is_empty() => format!("{} and {last}", rest.join(", ")),
        _ => parts.concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        Settings::from_lookup(|_| None).unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn check(tags: &[(&str, &str)], now: &str) -> Outcome {
        run_under(tags, DEFAULT_EXPRESSION, now)
    }

    fn run_under(tags: &[(&str, &str)], expression: &str, now: &str) -> Outcome {
        let tags = tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let cadence = Cadence::parse(expression, settings().default_zone).unwrap();
        run(tags, &settings(), &cadence, at(now), true)
    }

    #[test]
    fn tags_split_on_commas_that_start_a_tag() {
        assert_eq!(
            split_tags("DAY=mon,wed,TIME=9~12,13~18, TZ=UTC").unwrap(),
            [
                ("DAY".into(), "mon,wed".into()),
                ("TIME".into(), "9~12,13~18".into()),
                ("TZ".into(), "UTC".into())
            ]
        );
        assert_eq!(
            split_tags("AUTOSTOP_HOLD_UNTIL=2026-11-25T23:00:00+09:00,Name=web").unwrap(),
            [
                (
                    "AUTOSTOP_HOLD_UNTIL".into(),
                    "2026-11-25T23:00:00+09:00".into()
                ),
                ("Name".into(), "web".into())
            ]
        );
        assert!(split_tags("9~18").is_err());
        assert_eq!(split_tags("").unwrap(), []);
    }

    #[test]
    fn one_positional_is_time_and_duplicates_are_refused() {
        let tags = collect_tags(Some("9~18"), None, Some("UTC"), &[]).unwrap();
        assert_eq!(tags.get("TIME").map(String::as_str), Some("9~18"));
        assert_eq!(tags.get("TZ").map(String::as_str), Some("UTC"));
        assert!(!tags.contains_key("DAY"));
        let twice = collect_tags(Some("mon"), Some("9~18"), None, &["DAY=tue".into()]);
        assert!(twice.unwrap_err().0.starts_with("DAY is given twice"));
    }

    #[test]
    fn explains_and_draws_the_week() {
        let Outcome::Ok(out) = check(
            &[("DAY", "월-금"), ("TIME", "9~18")],
            "2026-11-25T20:00:00+09:00",
        ) else {
            panic!("valid tags refused")
        };
        assert!(out.contains("  DAY   `월-금`  Monday to Friday\n"), "{out}");
        assert!(out.contains("  TIME  `9~18`   09:00–18:59\n"), "{out}");
        assert!(out.contains(
            "It runs Monday to Friday, 09:00–18:59, Asia/Seoul time, and is stopped at all other times."
        ));
        assert!(out.contains("Now (Wed 2026-11-25 20:00 Asia/Seoul) it should be stopped: outside schedule mon-fri 09:00–18:59 (Asia/Seoul); now Wed 2026-11-25 20:00\n"), "{out}");
        assert!(out.contains("Next start: Thu 2026-11-26 09:00 (in 13 h)\n"));
        assert!(out.contains("Next stop:  Thu 2026-11-26 19:00 (in 23 h)\n"));
        assert!(
            out.contains("수  11-25  .........##########.....\n"),
            "{out}"
        );
        assert!(out.contains("토  11-28  ........................\n"));
    }

    #[test]
    fn says_when_the_schedule_really_acts_and_warns_of_minutes_between_runs() {
        let tags = [("DAY", "mon-fri"), ("TIME", "09:30~18:00")];
        let Outcome::Ok(out) = check(&tags, "2026-11-25T20:00:00+09:00") else {
            panic!()
        };
        assert!(
            out.contains("Next start: Thu 2026-11-26 09:30 (in 13 h 30 min)\n"),
            "{out}"
        );
        assert!(out.contains(
            "The schedule `cron(0/15 * * * ? *)` (Asia/Seoul) runs at these times: the function acts then.\n"
        ), "{out}");
        assert!(!out.contains("warning"), "{out}");
        let Outcome::Ok(out) = run_under(&tags, "cron(0 * * * ? *)", "2026-11-25T20:00:00+09:00")
        else {
            panic!()
        };
        assert!(
            out.contains("Next start: Thu 2026-11-26 09:30 (in 13 h 30 min)\n"),
            "{out}"
        );
        assert!(out.contains("Under the schedule `cron(0 * * * ? *)` (Asia/Seoul) the function acts at its next run after each:\n"), "{out}");
        assert!(
            out.contains("  Starts: Thu 2026-11-26 10:00 (in 14 h)\n"),
            "{out}"
        );
        assert!(
            out.contains("  Stops:  Thu 2026-11-26 18:00 (in 22 h)\n"),
            "{out}"
        );
        assert!(
            out.contains(
                "warning: the window's minutes fall between the runs of `cron(0 * * * ? *)`"
            ),
            "{out}"
        );
        // A window no run falls in: never started.
        let Outcome::Ok(out) = run_under(
            &[("TIME", "09:10~09:50")],
            "cron(0 * * * ? *)",
            "2026-11-25T20:00:00+09:00",
        ) else {
            panic!()
        };
        assert!(out.contains("  Starts: none within 14 days\n"), "{out}");
        assert!(
            out.contains("warning: no run of `cron(0 * * * ? *)` falls inside the window"),
            "{out}"
        );
        // A rate schedule has no known instants: how late it can be.
        let Outcome::Ok(out) = run_under(&tags, "rate(30 minutes)", "2026-11-25T20:00:00+09:00")
        else {
            panic!()
        };
        assert!(out.contains("Under `rate(30 minutes)` the function runs every 30 min from when its schedule was made"), "{out}");
    }

    #[test]
    fn says_which_values_a_load_balancer_would_refuse_and_what_to_write() {
        let Outcome::Ok(out) = check(
            &[
                ("DAY", "mon,wed"),
                ("TIME", "9~12,13~18"),
                ("AUTOSTOP_SKIP_DATES", "2026-12-24,2026-12-31"),
            ],
            "2026-11-25T20:00:00+09:00",
        ) else {
            panic!("valid tags refused")
        };
        assert!(out.contains("On a load balancer or a database these values would be refused"));
        assert!(out.contains("  DAY=`mon wed` instead of `mon,wed`: `,` is not accepted"));
        assert!(out.contains("  TIME=`9-12 13-18` instead of `9~12,13~18`: `~` is not accepted"));
        assert!(out.contains(
            "  AUTOSTOP_SKIP_DATES=`2026-12-24 2026-12-31` instead of `2026-12-24,2026-12-31`"
        ));
        // The forms it suggests are checked alike and fit.
        let Outcome::Ok(out) = check(
            &[
                ("DAY", "mon wed"),
                ("TIME", "9-12 13-18"),
                ("AUTOSTOP_SKIP_DATES", "2026-12-24 2026-12-31"),
            ],
            "2026-11-25T20:00:00+09:00",
        ) else {
            panic!("the load balancer forms refused")
        };
        assert!(out.contains("These values also fit a load balancer's or a database's tags.\n"));
        assert!(
            out.contains("It runs Monday and Wednesday, 09:00–12:59, 13:00–18:59"),
            "{out}"
        );
    }

    #[test]
    fn hold_and_skip_dates_show_in_the_week() {
        let Outcome::Ok(out) = check(
            &[
                ("TIME", "9~18"),
                ("TZ", "UTC"),
                ("AUTOSTOP_SKIP_DATES", "2026-11-24"),
                ("AUTOSTOP_HOLD_UNTIL", "2026-11-25T21:30:00Z"),
            ],
            "2026-11-25T19:00:00Z",
        ) else {
            panic!()
        };
        assert!(
            out.contains("Mon 11-23  .........##########.....\n"),
            "{out}"
        );
        assert!(
            out.contains("Tue 11-24  ........................\n"),
            "{out}"
        );
        // Held running from now until 21:30, then the schedule rules again.
        assert!(
            out.contains("Wed 11-25  .........############+..\n"),
            "{out}"
        );
        assert!(out.contains("Next stop:  Wed 2026-11-25 21:30 (in 2 h 30 min)\n"));
    }

    #[test]
    fn bad_tags_get_the_functions_message() {
        let Outcome::Invalid(message) = check(&[("TIME", "9 to 6")], "2026-11-25T20:00:00Z") else {
            panic!()
        };
        assert!(message.starts_with(
            "tags invalid: TIME: `9 to 6` is not a window; expected START~END such as `9~18` or `09:30~18:00`"
        ));
        let Outcome::Invalid(message) = check(
            &[("DAY", "someday"), ("TIME", "9~18")],
            "2026-11-25T20:00:00Z",
        ) else {
            panic!()
        };
        assert!(message.starts_with("tags invalid: DAY: `someday` is not a day"));
        let Outcome::Invalid(message) = check(
            &[("TIME", "9~18"), ("TZ", "Mars/Olympus")],
            "2026-11-25T20:00:00Z",
        ) else {
            panic!()
        };
        assert!(message.starts_with("tags invalid: TZ: `Mars/Olympus` is not an IANA time zone"));
    }

    #[test]
    fn unmanaged_and_auto_scaling() {
        let Outcome::Ok(out) = check(
            &[("TIME", "9~18"), ("AUTOSTOP_ENABLE", "false")],
            "2026-11-25T20:00:00Z",
        ) else {
            panic!()
        };
        assert!(out.contains("never touches this instance"));
        assert!(!out.contains("spaces"));
        let Outcome::Ok(out) = check(
            &[("TIME", "9~18"), ("AUTOSTOP_ENABLE", " true")],
            "2026-11-25T20:00:00Z",
        ) else {
            panic!()
        };
        assert!(out.contains("never touches this instance"), "{out}");
        assert!(out.contains("remove the spaces"), "{out}");
    }

    #[test]
    fn days_read_plainly() {
        let words = |d: &str| days_in_words(DaySet::parse(d).unwrap());
        assert_eq!(words("daily"), "every day");
        assert_eq!(words("월-금"), "Monday to Friday");
        assert_eq!(words("weekends"), "Saturday and Sunday");
        assert_eq!(words("mon,wed,fri"), "Monday, Wednesday and Friday");
        assert_eq!(words("fri-mon"), "Monday and Friday to Sunday");
        assert_eq!(words("금"), "Friday");
    }
}
