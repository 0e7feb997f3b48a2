//! The `DAY` tag: which days of the week a schedule applies to.
//!
//! Accepted forms (any letter case, separated by commas and/or spaces):
//! - single days: Korean `월 화 수 목 금 토 일` or `월요일`…`일요일`, English `mon`…`sun`
//!   (also `tues`, `thur`, `thurs`) and full names `monday`…`sunday`;
//! - ranges with `-` or `~`: `월-금`, `mon-fri`, and ranges that wrap past Sunday, `fri-mon`;
//! - aliases: `weekdays`/`평일` (Mon–Fri), `weekends`/`주말` (Sat–Sun), `daily`/`everyday`/`매일`.

use std::fmt;

use chrono::Weekday;

use crate::event::shorten;

/// Why a `DAY` value was refused. The message names the offending part (at most
/// [`crate::event::SHOWN_CHARS`] characters of it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayError {
    /// Nothing but separators, or nothing at all.
    #[error("DAY is empty; expected days such as `mon-fri`, `월,수,금` or `daily`")]
    Empty,
    /// A part that is neither a day, a range nor an alias.
    #[error(
        "DAY: `{0}` is not a day; expected 월 화 수 목 금 토 일, mon…sun, monday…sunday, \
         a range such as mon-fri, or weekdays/weekends/daily (평일/주말/매일)"
    )]
    UnknownDay(String),
    /// A range with an end missing, or more than two days (`mon-`, `mon-wed-fri`).
    #[error("DAY: `{0}` is not a range; expected two days joined by `-` or `~`, such as mon-fri")]
    BadRange(String),
}

/// A set of weekdays, one bit per day (bit 0 = Monday).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct DaySet(u8);

const ALL_DAYS: [Weekday; 7] = [
    Weekday::Mon,
    Weekday::Tue,
    Weekday::Wed,
    Weekday::Thu,
    Weekday::Fri,
    Weekday::Sat,
    Weekday::Sun,
];

impl DaySet {
    /// No day.
    pub const EMPTY: DaySet = DaySet(0);
    /// Monday to Sunday: `daily`, and what an absent `DAY` tag means.
    pub const EVERY_DAY: DaySet = DaySet(0b111_1111);
    /// Monday to Friday: `weekdays`, `평일`.
    pub const WEEKDAYS: DaySet = DaySet(0b001_1111);
    /// Saturday and Sunday: `weekends`, `주말`.
    pub const WEEKENDS: DaySet = DaySet(0b110_0000);

    /// Is `day` in the set?
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.num_days_from_monday()) != 0
    }

    /// Adds `day` to the set.
    pub fn insert(&mut self, day: Weekday) {
        self.0 |= 1 << day.num_days_from_monday();
    }

    /// Is the set empty? A parsed `DAY` value never is.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The days in the set, Monday first.
    pub fn iter(self) -> impl Iterator<Item = Weekday> {
        ALL_DAYS.into_iter().filter(move |d| self.contains(*d))
    }

    /// Parses a `DAY` tag value.
    pub fn parse(value: &str) -> Result<DaySet, DayError> {
        let normalized = join_range_separators(value);
        let mut set = DaySet::EMPTY;
        for token in normalized
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|t| !t.is_empty())
        {
            set.0 |= parse_token(token)?.0;
        }
        if set.is_empty() {
            return Err(DayError::Empty);
        }
        Ok(set)
    }
}

/// `mon - fri` → `mon-fri`, so that a range survives splitting on spaces.
fn join_range_separators(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.trim().chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_whitespace() {
            // Drop spaces before a range separator and after one.
            while chars.peek().is_some_and(|n| n.is_whitespace()) {
                chars.next();
            }
            if chars.peek().is_some_and(|n| is_range_sep(*n)) || out.ends_with(is_range_sep) {
                continue;
            }
        }
        out.push(c);
    }
    out
}

fn is_range_sep(c: char) -> bool {
    matches!(c, '-' | '~' | '～' | '〜')
}

fn parse_token(token: &str) -> Result<DaySet, DayError> {
    if let Some(alias) = alias(token) {
        return Ok(alias);
    }
    if let Some(day) = weekday(token) {
        let mut set = DaySet::EMPTY;
        set.insert(day);
        return Ok(set);
    }
    let Some((from, to)) = token.split_once(is_range_sep) else {
        return Err(DayError::UnknownDay(shorten(token)));
    };
    let (Some(from), Some(to)) = (weekday(from), weekday(to)) else {
        if from.is_empty() || to.is_empty() || to.contains(is_range_sep) {
            return Err(DayError::BadRange(shorten(token)));
        }
        let bad = if weekday(from).is_none() { from } else { to };
        return Err(DayError::UnknownDay(shorten(bad)));
    };
    Ok(range(from, to))
}

/// Every day from `from` to `to` inclusive, wrapping past Sunday when `to` comes first.
fn range(from: Weekday, to: Weekday) -> DaySet {
    let mut set = DaySet::EMPTY;
    let mut day = from;
    loop {
        set.insert(day);
        if day == to {
            return set;
        }
        day = day.succ();
    }
}

fn alias(token: &str) -> Option<DaySet> {
    match token.to_lowercase().as_str() {
        "weekdays" | "weekday" | "평일" => Some(DaySet::WEEKDAYS),
        "weekends" | "weekend" | "주말" => Some(DaySet::WEEKENDS),
        "daily" | "everyday" | "매일" => Some(DaySet::EVERY_DAY),
        _ => None,
    }
}

fn weekday(token: &str) -> Option<Weekday> {
    let day = match token.to_lowercase().as_str() {
        "월" | "월요일" | "mon" | "monday" => Weekday::Mon,
        "화" | "화요일" | "tue" | "tues" | "tuesday" => Weekday::Tue,
        "수" | "수요일" | "wed" | "wednesday" => Weekday::Wed,
        "목" | "목요일" | "thu" | "thur" | "thurs" | "thursday" => Weekday::Thu,
        "금" | "금요일" | "fri" | "friday" => Weekday::Fri,
        "토" | "토요일" | "sat" | "saturday" => Weekday::Sat,
        "일" | "일요일" | "sun" | "sunday" => Weekday::Sun,
        _ => return None,
    };
    Some(day)
}

impl fmt::Display for DaySet {
    /// Compact English form, e.g. `mon-fri`, `sat,sun`, `daily`, `fri,sat,mon`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            DaySet::EVERY_DAY => return f.write_str("daily"),
            DaySet::WEEKDAYS => return f.write_str("mon-fri"),
            _ => {}
        }
        let names: Vec<String> = self.iter().map(|d| d.to_string().to_lowercase()).collect();
        f.write_str(&names.join(","))
    }
}

impl fmt::Debug for DaySet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DaySet({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Weekday::*;

    fn days(v: &str) -> Vec<Weekday> {
        DaySet::parse(v).unwrap().iter().collect()
    }

    #[test]
    fn korean_single_days_and_full_names() {
        assert_eq!(days("월"), [Mon]);
        assert_eq!(
            days("월 화 수 목 금 토 일"),
            [Mon, Tue, Wed, Thu, Fri, Sat, Sun]
        );
        assert_eq!(days("월요일,수요일,금요일"), [Mon, Wed, Fri]);
        assert_eq!(days("토요일 일요일"), [Sat, Sun]);
    }

    #[test]
    fn english_any_case() {
        assert_eq!(days("MON,wed,Fri"), [Mon, Wed, Fri]);
        assert_eq!(days("Monday Tuesday"), [Mon, Tue]);
        assert_eq!(days("SUNDAY"), [Sun]);
        assert_eq!(days("tues,thurs,thur"), [Tue, Thu]);
    }

    #[test]
    fn separators_commas_spaces_mixed() {
        assert_eq!(days("mon, tue ,wed"), [Mon, Tue, Wed]);
        assert_eq!(days("  월,,화  "), [Mon, Tue]);
        assert_eq!(days("mon\ttue"), [Mon, Tue]);
    }

    #[test]
    fn ranges() {
        assert_eq!(days("월-금"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(days("mon-fri"), [Mon, Tue, Wed, Thu, Fri]);
        assert_eq!(days("Mon~Wed"), [Mon, Tue, Wed]);
        assert_eq!(days("mon - wed"), [Mon, Tue, Wed]);
        assert_eq!(days("월요일-수요일"), [Mon, Tue, Wed]);
        assert_eq!(days("월～수"), [Mon, Tue, Wed]);
        assert_eq!(days("wed-wed"), [Wed]);
    }

    #[test]
    fn wrapping_ranges() {
        assert_eq!(days("fri-mon"), [Mon, Fri, Sat, Sun]);
        assert_eq!(days("토-월"), [Mon, Sat, Sun]);
        assert_eq!(days("sun-sat"), [Mon, Tue, Wed, Thu, Fri, Sat, Sun]);
    }

    #[test]
    fn aliases() {
        assert_eq!(DaySet::parse("weekdays").unwrap(), DaySet::WEEKDAYS);
        assert_eq!(DaySet::parse("평일").unwrap(), DaySet::WEEKDAYS);
        assert_eq!(DaySet::parse("Weekends").unwrap(), DaySet::WEEKENDS);
        assert_eq!(DaySet::parse("주말").unwrap(), DaySet::WEEKENDS);
        assert_eq!(DaySet::parse("daily").unwrap(), DaySet::EVERY_DAY);
        assert_eq!(DaySet::parse("EVERYDAY").unwrap(), DaySet::EVERY_DAY);
        assert_eq!(DaySet::parse("매일").unwrap(), DaySet::EVERY_DAY);
        assert_eq!(days("weekends, wed"), [Wed, Sat, Sun]);
    }

    #[test]
    fn errors_name_the_part() {
        assert_eq!(DaySet::parse(""), Err(DayError::Empty));
        assert_eq!(DaySet::parse(" , "), Err(DayError::Empty));
        assert_eq!(
            DaySet::parse("mon,funday"),
            Err(DayError::UnknownDay("funday".into()))
        );
        assert_eq!(
            DaySet::parse("mon-xyz"),
            Err(DayError::UnknownDay("xyz".into()))
        );
        assert_eq!(
            DaySet::parse("mon-"),
            Err(DayError::BadRange("mon-".into()))
        );
        assert_eq!(
            DaySet::parse("mon-wed-fri"),
            Err(DayError::BadRange("mon-wed-fri".into()))
        );
        let msg = DaySet::parse("funday").unwrap_err().to_string();
        assert!(msg.starts_with("DAY: `funday` is not a day"), "{msg}");
        let huge = DaySet::parse(&"x".repeat(5_000_000)).unwrap_err();
        assert_eq!(huge, DayError::UnknownDay(format!("{}…", "x".repeat(64))));
    }

    #[test]
    fn display_round_trips() {
        for v in ["mon-fri", "daily", "sat,sun", "mon,fri,sat,sun", "wed"] {
            let set = DaySet::parse(v).unwrap();
            assert_eq!(DaySet::parse(&set.to_string()).unwrap(), set, "{v}");
        }
        assert_eq!(DaySet::parse("월-금").unwrap().to_string(), "mon-fri");
    }
}
