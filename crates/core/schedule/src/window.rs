//! The `TIME` tag: the daily windows during which an instance should run.
//!
//! A window is `START~END` (`-`, `～` and `〜` are accepted for `~`); several are separated by
//! commas or spaces (`9~12,13~18`, `9-12 13-18`: a load balancer's or a database's tag value may
//! hold neither `~` nor `,`, see [`crate::charset`]). Spaces around a window's own `~` or `-`
//! belong to it (`9 - 18` is one window).
//! Each end is a whole hour (`9`, `09`) or a time (`09:30`):
//! - a whole-hour **end** is inclusive: `9~18` runs 09:00 through 18:59 (existing tags rely on this);
//! - a time end is exclusive: `09:30~18:00` runs 09:30 up to 18:00, and `24:00` means midnight;
//! - a window whose start comes after its end runs past midnight (`22~2` = 22:00 to 02:59 the next
//!   morning) and belongs to the day it starts on.
//!
//! Windows are wall-clock times in the schedule's zone. A start that falls in a daylight-saving gap
//! begins at the first moment after the gap; a time repeated by a fall-back is inside the window both
//! times it occurs.

use std::fmt;

use crate::event::shorten;

/// Minutes in a day.
pub const DAY_MINUTES: u16 = 24 * 60;

/// Why a `TIME` value was refused. The message names the window and what was expected (at most
/// [`crate::event::SHOWN_CHARS`] characters of each).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    /// Nothing but commas, or nothing at all.
    #[error("TIME is empty; expected windows such as `9~18` or `09:30~18:00,22~2`")]
    Empty,
    /// A part without `~` (or `-`, `～`, `〜`) between a start and an end; holds it, shortened.
    #[error("TIME: `{0}` is not a window; expected START~END such as `9~18` or `09:30~18:00`")]
    NotAWindow(String),
    /// A start or end that is not a time.
    #[error(
        "TIME: `{time}` in `{window}` is not a time; expected an hour 0-23 or HH:MM (00:00-23:59, \
         24:00 as an end)"
    )]
    BadTime {
        /// The window, shortened.
        window: String,
        /// Its start or end that is not a time, shortened.
        time: String,
    },
    /// A window of `HH:MM` times whose start and end are the same minute (`09:00~09:00`); holds
    /// it, shortened.
    #[error("TIME: `{0}` is empty: its start and end are the same moment")]
    EmptyWindow(String),
}

/// One daily window: starts at `start` minutes after local midnight and lasts `length` minutes
/// (1..=1440). A window whose start + length passes 1440 runs into the next day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Minutes after local midnight (0–1439).
    pub start: u16,
    /// Minutes (1–1440).
    pub length: u16,
}

impl Window {
    /// End, in minutes after the start day's midnight (may exceed 1440 for overnight windows).
    pub fn end(self) -> u16 {
        self.start + self.length
    }

    /// Does the window run into the next day?
    pub fn wraps_midnight(self) -> bool {
        self.end() > DAY_MINUTES
    }

    /// Is `minute` (of the day the window starts on; may be ≥ 1440 for the next day) inside?
    pub fn contains_offset(self, minute: u16) -> bool {
        minute >= self.start && minute < self.end()
    }

    /// Parses one window such as `9~18`, `09:30~18:00` or `22~2`.
    pub fn parse(text: &str) -> Result<Window, WindowError> {
        let text = text.trim();
        let Some((start, end)) = text.split_once(['~', '-', '～', '〜']) else {
            return Err(WindowError::NotAWindow(shorten(text)));
        };
        let bad = |time: &str| WindowError::BadTime {
            window: shorten(text),
            time: shorten(time.trim()),
        };
        let start_at = parse_time(start.trim(), false).ok_or_else(|| bad(start))?;
        let end_at = parse_time(end.trim(), true).ok_or_else(|| bad(end))?;
        let length = (end_at.exclusive_end() + DAY_MINUTES - start_at.minute) % DAY_MINUTES;
        let length = match length {
            // `9~8` (whole hours) covers the full day; `09:00~09:00` covers nothing.
            0 if end_at.whole_hour => DAY_MINUTES,
            0 => return Err(WindowError::EmptyWindow(shorten(text))),
            n => n,
        };
        Ok(Window {
            start: start_at.minute,
            length,
        })
    }
}

struct TimeOfDay {
    minute: u16,
    whole_hour: bool,
}

impl TimeOfDay {
    /// A whole-hour end includes that hour; a HH:MM end is the first minute outside.
    fn exclusive_end(&self) -> u16 {
        if self.whole_hour {
            (self.minute + 60) % DAY_MINUTES
        } else {
            self.minute % DAY_MINUTES
        }
    }
}

fn parse_time(text: &str, is_end: bool) -> Option<TimeOfDay> {
    fn number(s: &str, max_len: usize) -> Option<u16> {
        if s.is_empty() || s.len() > max_len || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    }
    match text.split_once(':') {
        None => {
            let hour = number(text, 2)?;
            (hour < 24).then_some(TimeOfDay {
                minute: hour * 60,
                whole_hour: true,
            })
        }
        Some((h, m)) => {
            let (hour, minute) = (number(h, 2)?, number(m, 2)?);
            if m.len() != 2 || minute > 59 {
                return None;
            }
            let valid = hour < 24 || (is_end && hour == 24 && minute == 0);
            valid.then_some(TimeOfDay {
                minute: hour * 60 + minute,
                whole_hour: false,
            })
        }
    }
}

/// All windows of a `TIME` tag.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Windows(pub Vec<Window>);

impl Windows {
    /// Parses a `TIME` tag value: one or more windows, separated by commas or spaces.
    pub fn parse(value: &str) -> Result<Windows, WindowError> {
        let mut windows = Vec::new();
        for chunk in value.split(',') {
            let parts = split_at_spaces(chunk);
            match parts.iter().map(|part| Window::parse(part)).collect() {
                Ok(found) => windows.extend::<Vec<Window>>(found),
                // A part between spaces that is no window: the error names the whole of what
                // was written between the commas (`9 to 6`, not `9`).
                Err(error) if parts.len() > 1 => {
                    return Err(Window::parse(chunk).err().unwrap_or(error))
                }
                Err(error) => return Err(error),
            }
        }
        if windows.is_empty() {
            return Err(WindowError::Empty);
        }
        Ok(Windows(windows))
    }
}

fn is_separator(c: char) -> bool {
    matches!(c, '~' | '-' | '～' | '〜')
}

/// The windows of one comma-separated part: split at spaces, except the spaces next to a
/// window's own separator (`9 - 18`, `9 ~18`).
fn split_at_spaces(chunk: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    for token in chunk.split_whitespace() {
        let continues = current.ends_with(is_separator) || token.starts_with(is_separator);
        if !current.is_empty() && !continues {
            parts.push(std::mem::take(&mut current));
        }
        current.push_str(token);
    }
    if !current.is_empty() {
        parts.push(current);
    }
    parts
}

fn hhmm(minute: u16) -> String {
    format!("{:02}:{:02}", (minute / 60) % 24, minute % 60)
}

impl fmt::Display for Window {
    /// `09:00–18:59`-style text with an inclusive last minute, as people read schedules.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let last = self.end() - 1;
        let next_day = if self.wraps_midnight() {
            " (next day)"
        } else {
            ""
        };
        write!(f, "{}–{}{}", hhmm(self.start), hhmm(last), next_day)
    }
}

impl fmt::Display for Windows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Window {
        Window::parse(text).unwrap()
    }

    #[test]
    fn whole_hours_end_inclusive() {
        assert_eq!(
            w("9~18"),
            Window {
                start: 540,
                length: 600
            }
        );
        assert_eq!(w("09~18").to_string(), "09:00–18:59");
        assert_eq!(
            w("0~23"),
            Window {
                start: 0,
                length: 1440
            }
        );
        assert_eq!(
            w("9~9"),
            Window {
                start: 540,
                length: 60
            }
        );
        assert_eq!(w("9-18"), w("9~18"));
        assert_eq!(w(" 9 ~ 18 "), w("9~18"));
        assert_eq!(w("9～18"), w("9~18"));
    }

    #[test]
    fn minutes_end_exclusive() {
        assert_eq!(
            w("09:30~18:00"),
            Window {
                start: 570,
                length: 510
            }
        );
        assert_eq!(w("09:30~18:00").to_string(), "09:30–17:59");
        assert_eq!(
            w("18:00~24:00"),
            Window {
                start: 1080,
                length: 360
            }
        );
        assert_eq!(
            w("9~18:30"),
            Window {
                start: 540,
                length: 570
            }
        );
        // Whole-hour end stays inclusive even when the start has minutes.
        assert_eq!(
            w("09:30~18"),
            Window {
                start: 570,
                length: 570
            }
        );
    }

    #[test]
    fn overnight_windows_wrap() {
        let night = w("22~2");
        assert_eq!(
            night,
            Window {
                start: 1320,
                length: 300
            }
        );
        assert!(night.wraps_midnight());
        assert_eq!(night.to_string(), "22:00–02:59 (next day)");
        assert_eq!(
            w("23:30~00:30"),
            Window {
                start: 1410,
                length: 60
            }
        );
        assert_eq!(
            w("23~23"),
            Window {
                start: 1380,
                length: 60
            }
        );
        assert!(!w("23~23").wraps_midnight());
        assert_eq!(
            w("18~17"),
            Window {
                start: 1080,
                length: 1440
            }
        );
    }

    #[test]
    fn several_windows() {
        let ws = Windows::parse("9~12, 13:00~18:00,22~2").unwrap();
        assert_eq!(ws.0.len(), 3);
        assert_eq!(
            ws.to_string(),
            "09:00–12:59, 13:00–17:59, 22:00–02:59 (next day)"
        );
    }

    #[test]
    fn windows_separated_by_spaces_as_load_balancer_tags_need() {
        let commas = Windows::parse("9~12,13:00~18:00,22~2").unwrap();
        for text in [
            "9-12 13:00-18:00 22-2",
            "9 - 12  13:00 -18:00 22- 2",
            "9~12, 13:00~18:00 22~2",
        ] {
            assert_eq!(Windows::parse(text).unwrap(), commas, "{text}");
        }
        assert_eq!(Windows::parse("9 - 18").unwrap().0, [w("9~18")]);
        // What is wrong is named as it was written between the commas.
        assert_eq!(
            Windows::parse("9-18 20"),
            Err(WindowError::BadTime {
                window: "9-18 20".into(),
                time: "18 20".into()
            })
        );
        assert_eq!(
            Windows::parse("9 18"),
            Err(WindowError::NotAWindow("9 18".into()))
        );
        assert_eq!(
            Windows::parse("9~18, 9 to 6"),
            Err(WindowError::NotAWindow("9 to 6".into()))
        );
    }

    #[test]
    fn errors_name_the_window() {
        assert_eq!(Windows::parse(""), Err(WindowError::Empty));
        assert_eq!(Windows::parse(" , "), Err(WindowError::Empty));
        assert_eq!(
            Windows::parse("9to18"),
            Err(WindowError::NotAWindow("9to18".into()))
        );
        assert_eq!(
            Windows::parse("9~25"),
            Err(WindowError::BadTime {
                window: "9~25".into(),
                time: "25".into()
            })
        );
        for bad in [
            "24~2", "9~24", "9:5~18", "9:60~18", "~18", "9~", "a~b", "+9~18", "9~18~20", "24:00~2",
            "9~24:01", "123~4",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            Window::parse("09:00~09:00"),
            Err(WindowError::EmptyWindow("09:00~09:00".into()))
        );
        let msg = Windows::parse("9~18,nope").unwrap_err().to_string();
        assert!(msg.starts_with("TIME: `nope` is not a window"), "{msg}");
        let huge = format!("9~{}", "1".repeat(5_000_000));
        let msg = Windows::parse(&huge).unwrap_err().to_string();
        assert!(msg.len() < 400, "{} characters", msg.len());
    }
}
