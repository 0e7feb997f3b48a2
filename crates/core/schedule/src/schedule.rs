//! A weekly schedule: days × daily windows in one time zone, and whether it is "on" at an instant.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};
use chrono_tz::Tz;

use crate::days::DaySet;
use crate::window::{Window, Windows, DAY_MINUTES};

/// Days, windows and zone, as given by the `DAY`, `TIME` and `TZ` tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// `DAY`: the days windows start on.
    pub days: DaySet,
    /// `TIME`: the daily windows.
    pub windows: Windows,
    /// The zone days and windows are read in: `TZ`, else the function's default.
    pub zone: Tz,
}

/// The window that makes a schedule "on", and the local day it started on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ActiveWindow {
    /// The window the instant is inside.
    pub window: Window,
    /// The local date the window started on: the day before, in the small hours of an overnight
    /// window.
    pub started_on: NaiveDate,
}

/// The wall-clock reading of an instant in a zone, at minute resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMoment {
    /// The local date.
    pub date: NaiveDate,
    /// Minutes since local midnight (0–1439).
    pub minute: u16,
}

impl LocalMoment {
    /// `instant` as `zone`'s wall clock reads it.
    pub fn at(instant: DateTime<Utc>, zone: Tz) -> LocalMoment {
        let local = instant.with_timezone(&zone);
        LocalMoment {
            date: local.date_naive(),
            minute: (local.hour() * 60 + local.minute()) as u16,
        }
    }

    /// The local day of the week.
    pub fn weekday(self) -> Weekday {
        self.date.weekday()
    }
}

impl fmt::Display for LocalMoment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {:02}:{:02}",
            self.weekday(),
            self.date,
            self.minute / 60,
            self.minute % 60
        )
    }
}

impl Schedule {
    /// The window the schedule is inside at `instant`, if any. Windows that start on a date in
    /// `skipped` do not happen.
    ///
    /// The test is done on wall-clock time in the schedule's zone, which is what makes
    /// daylight-saving changes come out right: an instant always has exactly one wall-clock
    /// reading, so there is no ambiguity to resolve.
    pub fn active_at(
        &self,
        instant: DateTime<Utc>,
        skipped: &BTreeSet<NaiveDate>,
    ) -> Option<ActiveWindow> {
        let now = LocalMoment::at(instant, self.zone);
        let today = now.date;
        let yesterday = today - Duration::days(1);
        let runs_on =
            |date: NaiveDate| self.days.contains(date.weekday()) && !skipped.contains(&date);
        self.windows.0.iter().find_map(|&window| {
            if runs_on(today) && window.contains_offset(now.minute) {
                return Some(ActiveWindow {
                    window,
                    started_on: today,
                });
            }
            if window.wraps_midnight()
                && runs_on(yesterday)
                && window.contains_offset(now.minute + DAY_MINUTES)
            {
                return Some(ActiveWindow {
                    window,
                    started_on: yesterday,
                });
            }
            None
        })
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} ({})", self.days, self.windows, self.zone)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn schedule(day: &str, time: &str, zone: Tz) -> Schedule {
        Schedule {
            days: DaySet::parse(day).unwrap(),
            windows: Windows::parse(time).unwrap(),
            zone,
        }
    }

    /// The instant at which `zone`'s wall clock reads the given time (earliest if repeated).
    fn local(zone: Tz, y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        zone.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
    }

    fn on(s: &Schedule, at: DateTime<Utc>) -> bool {
        s.active_at(at, &BTreeSet::new()).is_some()
    }

    #[test]
    fn working_hours_in_seoul() {
        let s = schedule("월-금", "9~18", Tz::Asia__Seoul);
        let seoul = Tz::Asia__Seoul;
        // 2026-11-25 is a Wednesday.
        assert!(!on(&s, local(seoul, 2026, 11, 25, 8, 59)));
        assert!(on(&s, local(seoul, 2026, 11, 25, 9, 0)));
        assert!(on(&s, local(seoul, 2026, 11, 25, 18, 59)));
        assert!(!on(&s, local(seoul, 2026, 11, 25, 19, 0)));
        // Saturday.
        assert!(!on(&s, local(seoul, 2026, 11, 28, 12, 0)));
    }

    #[test]
    fn overnight_window_belongs_to_its_start_day() {
        // DAY=금, TIME=22~2 → Friday 22:00 to Saturday 02:59.
        let s = schedule("금", "22~2", Tz::UTC);
        let utc = Tz::UTC;
        assert!(!on(&s, local(utc, 2026, 11, 27, 21, 59))); // Fri
        assert!(on(&s, local(utc, 2026, 11, 27, 22, 0)));
        assert!(on(&s, local(utc, 2026, 11, 28, 2, 59))); // Sat
        assert!(!on(&s, local(utc, 2026, 11, 28, 3, 0)));
        assert!(!on(&s, local(utc, 2026, 11, 28, 22, 30))); // Sat night: not a listed day
        assert!(!on(&s, local(utc, 2026, 11, 27, 1, 0))); // Fri early: Thursday's window, not listed
        let active = s
            .active_at(local(utc, 2026, 11, 28, 1, 0), &BTreeSet::new())
            .unwrap();
        assert_eq!(
            active.started_on,
            NaiveDate::from_ymd_opt(2026, 11, 27).unwrap()
        );
    }

    #[test]
    fn skipped_date_cancels_windows_starting_that_day() {
        let s = schedule("daily", "22~2", Tz::UTC);
        let skipped: BTreeSet<_> = [NaiveDate::from_ymd_opt(2026, 12, 24).unwrap()].into();
        let at = local(Tz::UTC, 2026, 12, 25, 1, 0);
        assert!(s.active_at(at, &skipped).is_none());
        assert!(s.active_at(at, &BTreeSet::new()).is_some());
    }

    #[test]
    fn dst_spring_forward_gap_in_berlin() {
        // 2026-03-29: clocks jump from 02:00 to 03:00 in Europe/Berlin.
        let berlin = Tz::Europe__Berlin;
        let s = schedule("daily", "02:30~04:00", berlin);
        // 00:59 UTC = 01:59 CET: before.
        assert!(!on(
            &s,
            Utc.with_ymd_and_hms(2026, 3, 29, 0, 59, 0).unwrap()
        ));
        // 01:00 UTC = 03:00 CEST: the window's start never happened on the wall clock; it is on.
        assert!(on(&s, Utc.with_ymd_and_hms(2026, 3, 29, 1, 0, 0).unwrap()));
        // 02:00 UTC = 04:00 CEST: ended.
        assert!(!on(&s, Utc.with_ymd_and_hms(2026, 3, 29, 2, 0, 0).unwrap()));
        // A 9~18 day is 9 wall-clock hours + 59 min whatever the offset.
        let work = schedule("daily", "9~18", berlin);
        assert!(on(
            &work,
            Utc.with_ymd_and_hms(2026, 3, 29, 7, 0, 0).unwrap()
        )); // 09:00 CEST
        assert!(!on(
            &work,
            Utc.with_ymd_and_hms(2026, 3, 29, 6, 59, 0).unwrap()
        ));
        assert!(!on(
            &work,
            Utc.with_ymd_and_hms(2026, 3, 28, 7, 59, 0).unwrap()
        )); // 08:59 CET
        assert!(on(
            &work,
            Utc.with_ymd_and_hms(2026, 3, 28, 8, 0, 0).unwrap()
        )); // 09:00 CET
    }

    #[test]
    fn dst_fall_back_overlap_in_berlin() {
        // 2026-10-25: clocks go back from 03:00 CEST to 02:00 CET; 02:00–02:59 happens twice.
        let berlin = Tz::Europe__Berlin;
        let s = schedule("daily", "22~2", berlin); // through 02:59 on the wall clock
        for (h, m) in [(0, 0), (0, 59), (1, 0), (1, 59)] {
            // 00:00–00:59 UTC = 02:xx CEST (first pass), 01:00–01:59 UTC = 02:xx CET (second).
            assert!(
                on(&s, Utc.with_ymd_and_hms(2026, 10, 25, h, m, 0).unwrap()),
                "{h}:{m}"
            );
        }
        assert!(!on(
            &s,
            Utc.with_ymd_and_hms(2026, 10, 25, 2, 0, 0).unwrap()
        )); // 03:00 CET
            // The night is therefore one hour longer in real time, as the wall clock says.
        let on_minutes = (0..24 * 60)
            .map(|m| Utc.with_ymd_and_hms(2026, 10, 24, 18, 0, 0).unwrap() + Duration::minutes(m))
            .filter(|t| on(&s, *t))
            .count();
        assert_eq!(on_minutes, 6 * 60);
    }

    #[test]
    fn dst_in_new_york_work_day_follows_wall_clock() {
        let ny = Tz::America__New_York;
        let s = schedule("mon-fri", "9~17", ny);
        // Mon 2026-03-09 (after spring forward, EDT = UTC-4) and Mon 2026-03-02 (EST = UTC-5).
        assert!(on(&s, Utc.with_ymd_and_hms(2026, 3, 9, 13, 0, 0).unwrap()));
        assert!(!on(
            &s,
            Utc.with_ymd_and_hms(2026, 3, 9, 12, 59, 0).unwrap()
        ));
        assert!(on(&s, Utc.with_ymd_and_hms(2026, 3, 2, 14, 0, 0).unwrap()));
        assert!(!on(
            &s,
            Utc.with_ymd_and_hms(2026, 3, 2, 13, 59, 0).unwrap()
        ));
    }

    #[test]
    fn several_windows_any_matches() {
        let s = schedule("daily", "9~11,14:00~16:00", Tz::UTC);
        assert!(on(&s, local(Tz::UTC, 2026, 1, 1, 10, 0)));
        assert!(!on(&s, local(Tz::UTC, 2026, 1, 1, 12, 0)));
        assert!(on(&s, local(Tz::UTC, 2026, 1, 1, 15, 59)));
        assert!(!on(&s, local(Tz::UTC, 2026, 1, 1, 16, 0)));
    }
}
