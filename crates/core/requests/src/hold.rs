//! The default hold of a wake request without `until`: "until the end of today's window".

use chrono::{
    DateTime, Duration, FixedOffset, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc,
};
use chrono_tz::Tz;

use lightsout_schedule::{LocalMoment, Schedule};

/// The instant `minute` minutes after local midnight of `date` in `zone` (minute may pass 1440).
/// A time in a spring-forward gap is taken as the first moment after it; a repeated time as the
/// later of the two, so a hold never ends early.
fn wall_clock(zone: Tz, date: NaiveDate, minute: u16) -> DateTime<FixedOffset> {
    let naive: NaiveDateTime =
        date.and_hms_opt(0, 0, 0).expect("midnight exists") + Duration::minutes(i64::from(minute));
    let at = match zone.from_local_datetime(&naive) {
        LocalResult::Single(t) => t,
        LocalResult::Ambiguous(_, later) => later,
        LocalResult::None => zone
            .from_local_datetime(&(naive + Duration::hours(1)))
            .latest()
            .unwrap_or_else(|| zone.from_utc_datetime(&naive)),
    };
    at.fixed_offset()
}

/// When a wake without `until` stops holding: the end of the window the instance is in now; else
/// the end of a window still to come today; else the end of today. All in the schedule's zone.
/// Without a readable schedule, the end of today in `zone`.
pub fn default_hold(
    schedule: Option<&Schedule>,
    zone: Tz,
    now: DateTime<Utc>,
) -> DateTime<FixedOffset> {
    let Some(schedule) = schedule else {
        let today = LocalMoment::at(now, zone).date;
        return wall_clock(zone, today, 24 * 60);
    };
    let zone = schedule.zone;
    if let Some(active) = schedule.active_at(now, &Default::default()) {
        return wall_clock(zone, active.started_on, active.window.end());
    }
    let local = LocalMoment::at(now, zone);
    let later_today = schedule
        .windows
        .0
        .iter()
        .filter(|w| schedule.days.contains(local.weekday()) && w.start > local.minute)
        .map(|w| w.end())
        .min();
    wall_clock(zone, local.date, later_today.unwrap_or(24 * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lightsout_schedule::{DaySet, Windows};

    fn schedule(days: &str, time: &str) -> Schedule {
        Schedule {
            days: DaySet::parse(days).unwrap(),
            windows: Windows::parse(time).unwrap(),
            zone: Tz::Asia__Seoul,
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn end_of_the_current_window() {
        let s = schedule("daily", "9~18");
        assert_eq!(
            default_hold(Some(&s), Tz::UTC, at("2026-11-25T10:00:00+09:00")).to_rfc3339(),
            "2026-11-25T19:00:00+09:00"
        );
        let night = schedule("daily", "22~2");
        assert_eq!(
            default_hold(Some(&night), Tz::UTC, at("2026-11-26T01:00:00+09:00")).to_rfc3339(),
            "2026-11-26T03:00:00+09:00"
        );
    }

    #[test]
    fn a_window_later_today_or_the_end_of_today() {
        let s = schedule("daily", "9~12,14~18");
        assert_eq!(
            default_hold(Some(&s), Tz::UTC, at("2026-11-25T13:00:00+09:00")).to_rfc3339(),
            "2026-11-25T19:00:00+09:00"
        );
        assert_eq!(
            default_hold(Some(&s), Tz::UTC, at("2026-11-25T20:00:00+09:00")).to_rfc3339(),
            "2026-11-26T00:00:00+09:00"
        );
        let weekdays = schedule("mon-fri", "9~18");
        // Saturday: no window today.
        assert_eq!(
            default_hold(Some(&weekdays), Tz::UTC, at("2026-11-28T08:00:00+09:00")).to_rfc3339(),
            "2026-11-29T00:00:00+09:00"
        );
    }

    #[test]
    fn without_a_schedule_the_end_of_today_in_the_default_zone() {
        assert_eq!(
            default_hold(None, Tz::Asia__Seoul, at("2026-11-25T10:00:00+09:00")).to_rfc3339(),
            "2026-11-26T00:00:00+09:00"
        );
    }

    #[test]
    fn dst_gap_and_overlap() {
        let berlin = Tz::Europe__Berlin;
        let date = NaiveDate::from_ymd_opt(2026, 3, 29).unwrap();
        assert_eq!(
            wall_clock(berlin, date, 150).to_rfc3339(),
            "2026-03-29T03:30:00+02:00"
        );
        let date = NaiveDate::from_ymd_opt(2026, 10, 25).unwrap();
        assert_eq!(
            wall_clock(berlin, date, 150).to_rfc3339(),
            "2026-10-25T02:30:00+01:00"
        );
    }
}
