//! The tag values a load balancer (and an RDS database) accepts, and the form of each schedule tag
//! that fits them.
//!
//! EC2 takes any character in a tag value; Elastic Load Balancing takes only letters, digits,
//! spaces and `_ . : / = + - @` (its API's pattern `^([\p{L}\p{Z}\p{N}_.:/=+\-@]*)$`, at most 256
//! characters), and so does RDS. So `9~18` or `2026-12-24,2026-12-31`, fine on an instance, are
//! refused on an ALB. Every schedule tag has a form that fits, with the same meaning: `-` for `~`
//! and spaces for commas (`9-18`, `9-12 13-18`, `mon wed fri`, `2026-12-24 2026-12-31`);
//! [`restricted_form`] writes it, and `lightsout check` says when a value needs it.

use std::fmt;

/// The longest tag value Elastic Load Balancing accepts.
pub const MAX_VALUE_CHARS: usize = 256;

/// Why a load balancer would refuse a tag value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// A character outside letters, digits, spaces and `_ . : / = + - @`.
    Character(char),
    /// Longer than [`MAX_VALUE_CHARS`] characters; holds the length.
    TooLong(usize),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Character(c) => write!(
                f,
                "`{}` is not accepted in a load balancer's or a database's tag value (only letters, \
                 digits, spaces and _ . : / = + - @)",
                c.escape_debug()
            ),
            Refusal::TooLong(n) => write!(
                f,
                "{n} characters: a load balancer's tag value holds at most {MAX_VALUE_CHARS}"
            ),
        }
    }
}

/// Is `c` one of the characters such a tag value may hold?
pub fn accepted(c: char) -> bool {
    c.is_alphabetic()
        || c.is_numeric()
        || (c.is_whitespace() && !c.is_control())
        || matches!(c, '_' | '.' | ':' | '/' | '=' | '+' | '-' | '@')
}

/// What a load balancer would refuse in `value`, if anything: its first refused character, else
/// its length.
pub fn refusal(value: &str) -> Option<Refusal> {
    if let Some(c) = value.chars().find(|&c| !accepted(c)) {
        return Some(Refusal::Character(c));
    }
    let n = value.chars().count();
    (n > MAX_VALUE_CHARS).then_some(Refusal::TooLong(n))
}

/// The form of a schedule tag's value that a load balancer accepts, with the same meaning: each
/// window separator (`~`, `～`, `〜`) becomes `-` and each comma a space (runs of spaces are
/// collapsed). `DAY`, `TIME` and `AUTOSTOP_SKIP_DATES` read both forms alike.
pub fn restricted_form(value: &str) -> String {
    let replaced: String = value
        .chars()
        .map(|c| match c {
            '~' | '～' | '〜' => '-',
            ',' => ' ',
            c => c,
        })
        .collect();
    replaced.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::parse_dates;
    use crate::{DaySet, Windows};

    #[test]
    fn what_elb_accepts() {
        for ok in [
            "9-18",
            "09:30-18:00 22-2",
            "mon-fri",
            "Asia/Seoul",
            "America/Port-au-Prince",
            "2026-11-25T22:00:00+09:00",
            "2026-12-24 2026-12-31",
            "true",
            "dev.example.com",
            "팀 개발",
            "",
        ] {
            assert_eq!(refusal(ok), None, "{ok}");
        }
        assert_eq!(refusal("9~18"), Some(Refusal::Character('~')));
        assert_eq!(
            refusal("2026-12-24,2026-12-31"),
            Some(Refusal::Character(','))
        );
        assert_eq!(refusal("a\tb"), Some(Refusal::Character('\t')));
        assert_eq!(refusal("x*"), Some(Refusal::Character('*')));
        assert_eq!(refusal(&"a".repeat(257)), Some(Refusal::TooLong(257)));
        assert_eq!(refusal(&"가".repeat(256)), None);
        let msg = Refusal::Character('~').to_string();
        assert!(msg.starts_with("`~` is not accepted"), "{msg}");
    }

    #[test]
    fn the_restricted_form_fits_and_means_the_same() {
        for (time, want) in [
            ("9~18", "9-18"),
            ("9~12, 13:00~18:00,22~2", "9-12 13:00-18:00 22-2"),
            ("09:30～18:00", "09:30-18:00"),
        ] {
            let form = restricted_form(time);
            assert_eq!(form, want);
            assert_eq!(refusal(&form), None);
            assert_eq!(Windows::parse(&form), Windows::parse(time), "{time}");
        }
        for days in ["mon~fri", "mon,wed, fri", "sat~sun"] {
            let form = restricted_form(days);
            assert_eq!(refusal(&form), None, "{form}");
            assert_eq!(DaySet::parse(&form), DaySet::parse(days), "{days}");
        }
        let dates = "2026-12-24,2026-12-31, 2027-01-01";
        let form = restricted_form(dates);
        assert_eq!(form, "2026-12-24 2026-12-31 2027-01-01");
        assert_eq!(parse_dates(&form), parse_dates(dates));
    }
}
