//! Terminal text: display widths (Korean and other wide characters take two columns) and
//! left-aligned tables.

/// Columns a character takes in a terminal: 2 for East Asian wide characters (Hangul, CJK,
/// full-width forms), 0 for combining marks, 1 otherwise.
fn char_width(c: char) -> usize {
    match c as u32 {
        0x0300..=0x036F | 0x200B..=0x200F => 0,
        0x1100..=0x115F
        | 0x2E80..=0x303E
        | 0x3041..=0x33FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xA000..=0xA4CF
        | 0xAC00..=0xD7A3
        | 0xF900..=0xFAFF
        | 0xFE30..=0xFE4F
        | 0xFF00..=0xFF60
        | 0xFFE0..=0xFFE6
        | 0x1F300..=0x1F64F
        | 0x20000..=0x3FFFD => 2,
        _ => 1,
    }
}

/// Columns `text` takes in a terminal.
pub fn width(text: &str) -> usize {
    text.chars().map(char_width).sum()
}

/// `text` padded with spaces to `columns` display columns.
pub fn pad(text: &str, columns: usize) -> String {
    let mut out = text.to_string();
    out.extend(std::iter::repeat_n(
        ' ',
        columns.saturating_sub(width(text)),
    ));
    out
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart; the last
/// column is not padded. Every line ends with a newline.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| width(h)).collect();
    for row in rows {
        for (i, cell) in row.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(width(cell));
            }
        }
    }
    let line = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        let mut out = String::new();
        for (i, cell) in cells.into_iter().enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&pad(cell, widths[i]));
                out.push_str("  ");
            }
        }
        out.push('\n');
        out
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}

/// "in 13 h", "in 1 d 2 h 30 min", "now".
pub fn from_now(minutes: i64) -> String {
    if minutes <= 0 {
        return "now".into();
    }
    let (days, hours, mins) = (minutes / 1440, minutes % 1440 / 60, minutes % 60);
    let mut parts = Vec::new();
    if days > 0 {
        parts.push(format!("{days} d"));
    }
    if hours > 0 {
        parts.push(format!("{hours} h"));
    }
    if mins > 0 {
        parts.push(format!("{mins} min"));
    }
    format!("in {}", parts.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wide_characters_take_two_columns() {
        assert_eq!(width("web"), 3);
        assert_eq!(width("월-금"), 5);
        assert_eq!(width("개발서버"), 8);
        assert_eq!(pad("월", 3), "월 ");
        assert_eq!(pad("toolong", 3), "toolong");
    }

    #[test]
    fn tables_align_on_display_width() {
        let out = table(
            &["A", "NAME", "WHY"],
            &[
                vec!["i-1".into(), "개발".into(), "x".into()],
                vec!["i-22".into(), "web".into(), "y".into()],
            ],
        );
        assert_eq!(out, "A     NAME  WHY\ni-1   개발  x\ni-22  web   y\n");
    }

    #[test]
    fn durations() {
        assert_eq!(from_now(0), "now");
        assert_eq!(from_now(25), "in 25 min");
        assert_eq!(from_now(13 * 60), "in 13 h");
        assert_eq!(from_now(1440 + 150), "in 1 d 2 h 30 min");
    }
}
