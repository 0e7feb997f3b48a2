//! The week as a picture: one row per day (Monday first), one cell per hour, in a time zone.
//!
//! Nothing here knows the schedule rules: every cell asks an `on(instant)` oracle — the library's
//! own decision (`wanted_state`, `should_exist`) — for each minute of the hour, so the picture can
//! never disagree with what the functions do.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use lightsout_schedule::LocalMoment;

use crate::text;

/// How the rows are labelled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayNames {
    English,
    Korean,
}

impl DayNames {
    /// Korean when the `DAY` value is written in Korean (`월-금`), else English.
    pub fn like(day_tag: Option<&str>) -> DayNames {
        let hangul = |c: char| ('\u{AC00}'..='\u{D7A3}').contains(&c);
        if day_tag.is_some_and(|d| d.chars().any(hangul)) {
            DayNames::Korean
        } else {
            DayNames::English
        }
    }

    fn name(self, date: NaiveDate) -> &'static str {
        let i = date.weekday().num_days_from_monday() as usize;
        match self {
            DayNames::English => ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][i],
            DayNames::Korean => ["월", "화", "수", "목", "금", "토", "일"][i],
        }
    }
}

/// Glyphs and words of a picture.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub ascii: bool,
    /// What "on" means: "running", "ALB exists".
    pub on: &'static str,
    pub off: &'static str,
}

impl Style {
    fn full(&self) -> char {
        if self.ascii {
            '#'
        } else {
            '█'
        }
    }
    fn part(&self) -> char {
        if self.ascii {
            '+'
        } else {
            '▒'
        }
    }
    fn none(&self) -> char {
        if self.ascii {
            '.'
        } else {
            '·'
        }
    }
    fn marker(&self) -> char {
        if self.ascii {
            '^'
        } else {
            '▲'
        }
    }
}

/// The local date of the Monday of the week that contains `now` in `zone`.
pub fn monday_of(now: DateTime<Utc>, zone: Tz) -> NaiveDate {
    let today = LocalMoment::at(now, zone).date;
    today - Duration::days(i64::from(today.weekday().num_days_from_monday()))
}

/// Minutes that are "on", and minutes there are, per hour cell of the week that starts on
/// `monday` (local). An hour skipped by a spring-forward has no minutes; a repeated one has 120.
pub fn week_cells(
    monday: NaiveDate,
    zone: Tz,
    on: impl Fn(DateTime<Utc>) -> bool,
) -> [[(u16, u16); 24]; 7] {
    let mut cells = [[(0u16, 0u16); 24]; 7];
    // Start a little before local midnight (which a zone may skip) and bucket by local time.
    let Some(naive) = monday.and_hms_opt(0, 0, 0) else {
        return cells;
    };
    let mut instant = zone
        .from_local_datetime(&(naive - Duration::hours(3)))
        .earliest()
        .map_or_else(
            || Utc.from_utc_datetime(&naive) - Duration::days(1),
            |t| t.with_timezone(&Utc),
        );
    let end = monday + Duration::days(7);
    loop {
        let local = LocalMoment::at(instant, zone);
        if local.date >= end {
            break;
        }
        if local.date >= monday {
            let day = (local.date - monday).num_days() as usize;
            let cell = &mut cells[day][usize::from(local.minute / 60)];
            cell.1 += 1;
            if on(instant) {
                cell.0 += 1;
            }
        }
        instant += Duration::minutes(1);
    }
    cells
}

/// Renders the week that contains `now`: a legend, an hour scale, seven rows, and a marker under
/// the current hour of today's row.
pub fn render(
    now: DateTime<Utc>,
    zone: Tz,
    names: DayNames,
    style: Style,
    on: impl Fn(DateTime<Utc>) -> bool,
) -> String {
    let monday = monday_of(now, zone);
    let cells = week_cells(monday, zone, on);
    let local_now = now.with_timezone(&zone);
    let today = (LocalMoment::at(now, zone).date - monday).num_days() as usize;
    const LABEL: usize = 11; // "Mon 11-23  "
    let mut out = format!(
        "Week of {} {}, {}:  {} {}  {} {} part of the hour  {} {}  {} now\n",
        names.name(monday),
        monday,
        zone,
        style.full(),
        style.on,
        style.part(),
        style.on,
        style.none(),
        style.off,
        style.marker(),
    );
    out.push_str(&text::pad("", LABEL));
    out.push_str("0     6     12    18    23\n");
    for (day, hours) in cells.iter().enumerate() {
        let date = monday + Duration::days(day as i64);
        let label = format!(
            "{} {}",
            text::pad(names.name(date), 3),
            date.format("%m-%d")
        );
        out.push_str(&text::pad(&label, LABEL));
        for &(on_minutes, minutes) in hours {
            out.push(match (on_minutes, minutes) {
                (_, 0) => ' ',
                (0, _) => style.none(),
                (o, m) if o == m => style.full(),
                _ => style.part(),
            });
        }
        out.push('\n');
        if day == today {
            out.push_str(&text::pad("", LABEL + local_now.hour() as usize));
            out.push(style.marker());
            out.push_str(&format!(" now {}\n", local_now.format("%H:%M")));
        }
    }
    out
}

/// The next instants after `now`, within `horizon`, at which `on` turns on and turns off.
pub fn next_changes(
    now: DateTime<Utc>,
    horizon: Duration,
    on: impl Fn(DateTime<Utc>) -> bool,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let start = now
        .with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(now);
    let minutes = (1..=horizon.num_minutes()).map(|m| start + Duration::minutes(m));
    next_changes_at(now, minutes, on)
}

/// The first of `instants` (ascending, after `now`) at which `on` differs from what it was at
/// `now` and the last instant before, turning on and turning off: what a function that decides
/// only at those instants does (every minute: the tags' own times; the schedule's runs: when the
/// function acts).
pub fn next_changes_at(
    now: DateTime<Utc>,
    instants: impl IntoIterator<Item = DateTime<Utc>>,
    on: impl Fn(DateTime<Utc>) -> bool,
) -> (Option<DateTime<Utc>>, Option<DateTime<Utc>>) {
    let (mut next_on, mut next_off) = (None, None);
    let mut state = on(now);
    for instant in instants {
        if next_on.is_some() && next_off.is_some() {
            break;
        }
        let now_on = on(instant);
        if now_on != state {
            let slot = if now_on { &mut next_on } else { &mut next_off };
            slot.get_or_insert(instant);
            state = now_on;
        }
    }
    (next_on, next_off)
}

/// One line per `(label, instant)`, soonest first; an instant not found within the horizon
/// reads "none within N days" and comes last.
pub fn next_lines(
    now: DateTime<Utc>,
    zone: Tz,
    horizon: Duration,
    next: &[(&str, Option<DateTime<Utc>>)],
) -> String {
    let mut next = next.to_vec();
    next.sort_by_key(|(_, t)| t.map_or((1, now), |t| (0, t)));
    let label_width = next.iter().map(|(l, _)| l.len()).max().unwrap_or(0);
    next.iter()
        .map(|(label, t)| {
            let when = t.map_or_else(
                || format!("none within {} days", horizon.num_days()),
                |t| when(t, now, zone),
            );
            format!("{label:<label_width$} {when}\n")
        })
        .collect()
}

/// `Thu 2026-11-26 09:00 (in 13 h)`, in `zone`.
pub fn when(instant: DateTime<Utc>, now: DateTime<Utc>, zone: Tz) -> String {
    format!(
        "{} ({})",
        instant.with_timezone(&zone).format("%a %Y-%m-%d %H:%M"),
        text::from_now((instant - now).num_minutes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    /// 09:00–18:59 wall clock on weekdays, computed here without the library.
    fn office(zone: Tz) -> impl Fn(DateTime<Utc>) -> bool {
        move |t| {
            let l = t.with_timezone(&zone);
            l.weekday().num_days_from_monday() < 5 && (9..=18).contains(&l.hour())
        }
    }

    const STYLE: Style = Style {
        ascii: true,
        on: "running",
        off: "stopped",
    };

    #[test]
    fn a_week_of_office_hours() {
        let now = utc("2026-11-25T20:00:00+09:00"); // Wednesday
        let out = render(
            now,
            Tz::Asia__Seoul,
            DayNames::English,
            STYLE,
            office(Tz::Asia__Seoul),
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "Week of Mon 2026-11-23, Asia/Seoul:  # running  + running part of the hour  . stopped  ^ now"
        );
        assert_eq!(lines[1], "           0     6     12    18    23");
        assert_eq!(lines[2], "Mon 11-23  .........##########.....");
        assert_eq!(lines[4], "Wed 11-25  .........##########.....");
        assert_eq!(lines[5], "                               ^ now 20:00");
        assert_eq!(lines[8], "Sat 11-28  ........................");
        assert_eq!(lines[9], "Sun 11-29  ........................");
        assert_eq!(lines.len(), 10);
    }

    #[test]
    fn korean_labels_and_unicode_cells_align() {
        let now = utc("2026-11-23T00:30:00+09:00"); // Monday, first hour
        let half = |t: DateTime<Utc>| t.with_timezone(&Tz::Asia__Seoul).minute() >= 30;
        let style = Style {
            ascii: false,
            ..STYLE
        };
        let out = render(
            now,
            Tz::Asia__Seoul,
            DayNames::like(Some("월-금")),
            style,
            half,
        );
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[2], format!("월  11-23  {}", "▒".repeat(24)));
        assert_eq!(lines[3], "           ▲ now 00:30");
        assert_eq!(text::width(lines[2]), 11 + 24);
        assert_eq!(DayNames::like(Some("mon-fri")), DayNames::English);
        assert_eq!(DayNames::like(None), DayNames::English);
    }

    #[test]
    fn daylight_saving_hours_in_berlin() {
        // Spring forward on Sun 2026-03-29: 02:00–02:59 does not exist.
        let always = |_| true;
        let cells = week_cells(
            NaiveDate::from_ymd_opt(2026, 3, 23).unwrap(),
            Tz::Europe__Berlin,
            always,
        );
        assert_eq!(cells[6][2], (0, 0));
        assert_eq!(cells[6][3], (60, 60));
        // Fall back on Sun 2026-10-25: 02:00–02:59 happens twice.
        let cells = week_cells(
            NaiveDate::from_ymd_opt(2026, 10, 19).unwrap(),
            Tz::Europe__Berlin,
            always,
        );
        assert_eq!(cells[6][2], (120, 120));
        assert_eq!(cells[0][0], (60, 60));
    }

    #[test]
    fn next_start_and_stop() {
        let now = utc("2026-11-25T20:00:00+09:00");
        let (start, stop) = next_changes(now, Duration::days(8), office(Tz::Asia__Seoul));
        assert_eq!(start, Some(utc("2026-11-26T09:00:00+09:00")));
        assert_eq!(stop, Some(utc("2026-11-26T19:00:00+09:00")));
        // Friday evening: the next start is Monday.
        let friday = utc("2026-11-27T19:30:00+09:00");
        let (start, _) = next_changes(friday, Duration::days(8), office(Tz::Asia__Seoul));
        assert_eq!(
            when(start.unwrap(), friday, Tz::Asia__Seoul),
            "Mon 2026-11-30 09:00 (in 2 d 13 h 30 min)"
        );
        // Never changes within the horizon.
        assert_eq!(next_changes(now, Duration::days(8), |_| true), (None, None));
    }
}
