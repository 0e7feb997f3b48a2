//! What the property tests (`tests/fuzz.rs`) of lightsout-schedule, -alb, -requests and
//! -runtime share: how many cases to run, and generators of hostile text and JSON. Each crate still says
//! what is hostile for it: the words its grammar or event is made of, and its field names.
//!
//! A dev-dependency only: nothing here reaches a function.

#![warn(missing_docs)]

use proptest::prelude::*;
use serde_json::{Map, Value};

/// `default` cases, or `PROPTEST_CASES` when set (for longer local runs; CI uses the defaults).
pub fn config(default: u32) -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default);
    ProptestConfig {
        cases,
        ..ProptestConfig::default()
    }
}

/// Any text, up to six pieces: printable unicode, Korean syllables, control characters, and (most
/// often) the caller's own `words`: the pieces its grammar or event is made of.
pub fn text(words: &'static [&'static str]) -> BoxedStrategy<String> {
    let piece = prop_oneof![
        4 => "\\PC{0,12}",
        2 => "[가-힣]{0,4}",
        3 => prop::sample::select(words).prop_map(str::to_string),
        1 => "[\\x00-\\x1f]{0,3}",
    ];
    prop::collection::vec(piece, 0..6)
        .prop_map(|p| p.concat())
        .boxed()
}

/// An object key: most often one of `fields` (the caller's field names, and near misses of them),
/// else a short identifier or any `text`.
pub fn key(fields: Vec<&'static str>, text: BoxedStrategy<String>) -> BoxedStrategy<String> {
    prop_oneof![
        3 => prop::sample::select(fields).prop_map(str::to_string),
        2 => "[a-zA-Z_-]{1,10}",
        1 => text,
    ]
    .boxed()
}

/// How big [`json_tree`] grows: proptest's `prop_recursive` depth, total size and items per
/// collection.
#[derive(Debug, Clone, Copy)]
pub struct TreeSize {
    /// Levels of nesting, at most.
    pub depth: u32,
    /// The total number of values the tree aims at.
    pub size: u32,
    /// Items per array, at most (objects get three quarters as many); also the expected branch
    /// size.
    pub width: u32,
}

/// Any JSON tree: null, booleans, integers over the whole i64 and u64 ranges and often below
/// 70,000, floats (not finite ones become null, as JSON has none), strings of `text`, arrays and
/// objects with keys of `key`.
pub fn json_tree(
    text: BoxedStrategy<String>,
    key: BoxedStrategy<String>,
    grow: TreeSize,
) -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        // Where most fields' valid numbers are (hours, minutes, ports, priorities, counts).
        (0u64..70_000).prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        text.prop_map(Value::String),
    ];
    let width = grow.width as usize;
    leaf.prop_recursive(grow.depth, grow.size, grow.width, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..width).prop_map(Value::Array),
            prop::collection::btree_map(key.clone(), inner, 0..(width * 3 / 4).max(1))
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
    .boxed()
}

/// A value nested `depth` levels (arrays and objects alternating), built directly: far deeper than
/// a JSON parser would hand over, to check nothing walks it recursively.
pub fn nested(depth: usize) -> Value {
    let mut v = Value::Null;
    for level in 0..depth {
        v = if level % 2 == 0 {
            Value::Array(vec![v])
        } else {
            Value::Object(Map::from_iter([("a".to_string(), v)]))
        };
    }
    v
}

/// Drops a value nested thousands of levels without recursing (serde_json's Drop would).
pub fn dispose(mut v: Value) {
    let mut stack = vec![];
    loop {
        match &mut v {
            Value::Array(items) => stack.append(items),
            Value::Object(map) => stack.extend(std::mem::take(map).into_iter().map(|(_, v)| v)),
            _ => {}
        }
        match stack.pop() {
            Some(next) => v = next,
            None => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_is_as_deep_as_asked_and_disposed_of_without_recursion() {
        let mut depth = 0;
        let mut v = &nested(7);
        loop {
            v = match v {
                Value::Array(items) => &items[0],
                Value::Object(map) => &map["a"],
                _ => break,
            };
            depth += 1;
        }
        assert_eq!(depth, 7);
        dispose(nested(1_000_000));
    }

    #[test]
    fn cases_default_unless_the_environment_says() {
        if std::env::var_os("PROPTEST_CASES").is_none() {
            assert_eq!(config(123).cases, 123);
        }
    }
}
