//! Compares the *shape* of two JSON documents — same keys and same value types, recursively,
//! ignoring values — to hold the events the gateway builds against real AWS sample events
//! (`events/<function>/*.json`).
//!
//! Rules: objects must have the same key sets; arrays compare each element of the actual array
//! with the first element of the expected one; numbers are numbers (integer or not); `null` on
//! either side matches anything (AWS sends `null` for absent values, e.g. `scopes`). Two kinds of
//! paths relax the rules:
//! - *maps*: objects whose keys are data (headers, claims, path parameters, DynamoDB images):
//!   only the value types are compared, each actual value against the kinds seen in the
//!   expected map;
//! - *optional*: keys that may be present on one side only (AWS omits some when empty).
//!
//! Paths are dotted, with `[]` for array elements: `Records[].dynamodb.Keys`.

use std::collections::BTreeSet;

use serde_json::Value;

/// Which paths are data maps and which keys are optional.
#[derive(Debug, Clone, Copy, Default)]
pub struct ShapeRules<'a> {
    /// Paths of objects whose keys are data.
    pub maps: &'a [&'a str],
    /// Paths of keys that may be absent on either side.
    pub optional: &'a [&'a str],
}

/// Every difference in shape between `actual` and `expected`, as readable lines (empty: same shape).
pub fn shape_differences(actual: &Value, expected: &Value, rules: &ShapeRules<'_>) -> Vec<String> {
    let mut differences = Vec::new();
    compare(actual, expected, "", rules, &mut differences);
    differences.sort();
    differences
}

/// Panics with every difference when `actual` and `expected` differ in shape.
#[track_caller]
pub fn assert_same_shape(actual: &Value, expected: &Value, rules: &ShapeRules<'_>) {
    let differences = shape_differences(actual, expected, rules);
    assert!(
        differences.is_empty(),
        "shapes differ:\n  {}\nactual: {}",
        differences.join("\n  "),
        serde_json::to_string_pretty(actual).unwrap_or_default()
    );
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn compare(actual: &Value, expected: &Value, path: &str, rules: &ShapeRules<'_>, out: &mut Vec<String>) {
    let shown = if path.is_empty() { "(root)" } else { path };
    match (actual, expected) {
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::Object(actual), Value::Object(expected)) if rules.maps.contains(&path) => {
            let kinds: BTreeSet<&str> = expected.values().map(kind).collect();
            if kinds.is_empty() {
                return;
            }
            for (key, value) in actual {
                if !kinds.contains(kind(value)) && !value.is_null() {
                    out.push(format!(
                        "{shown}[{key}]: {} where the sample has {kinds:?}",
                        kind(value)
                    ));
                }
            }
        }
        (Value::Object(actual), Value::Object(expected)) => {
            for (key, value) in actual {
                let child = join(path, key);
                match expected.get(key) {
                    Some(sample) => compare(value, sample, &child, rules, out),
                    None if rules.optional.contains(&child.as_str()) => {}
                    None => out.push(format!("{child}: present, but not in the sample")),
                }
            }
            for key in expected.keys() {
                let child = join(path, key);
                if !actual.contains_key(key) && !rules.optional.contains(&child.as_str()) {
                    out.push(format!("{child}: missing (the sample has it)"));
                }
            }
        }
        (Value::Array(actual), Value::Array(expected)) => {
            if let Some(sample) = expected.first() {
                let child = format!("{path}[]");
                for value in actual {
                    compare(value, sample, &child, rules, out);
                }
            }
        }
        (actual, expected) if kind(actual) != kind(expected) => {
            out.push(format!(
                "{shown}: {} where the sample has {}",
                kind(actual),
                kind(expected)
            ));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const RULES: ShapeRules<'static> = ShapeRules {
        maps: &["headers"],
        optional: &["body"],
    };

    #[test]
    fn accepts_the_same_shape_with_other_values() {
        let actual = json!({ "a": 1, "b": [{ "c": "x" }, { "c": "y" }], "headers": { "x-one": "1" }, "s": null });
        let expected = json!({ "a": 2.5, "b": [{ "c": "z" }], "headers": { "other": "2" }, "s": "text" });
        assert!(shape_differences(&actual, &expected, &RULES).is_empty());
    }

    #[test]
    fn reports_missing_extra_and_retyped_keys() {
        let actual = json!({ "a": "1", "extra": true, "b": [{ "c": 1 }] });
        let expected = json!({ "a": 1, "missing": 1, "b": [{ "c": "z" }] });
        let differences = shape_differences(&actual, &expected, &RULES);
        assert_eq!(
            differences,
            vec![
                "a: string where the sample has number",
                "b[].c: number where the sample has string",
                "extra: present, but not in the sample",
                "missing: missing (the sample has it)",
            ]
        );
    }

    #[test]
    fn checks_value_kinds_inside_maps_and_allows_optional_keys() {
        let actual = json!({ "headers": { "a": 1 }, "body": "x" });
        let expected = json!({ "headers": { "b": "2" } });
        assert_eq!(
            shape_differences(&actual, &expected, &RULES),
            vec![r#"headers[a]: number where the sample has {"string"}"#]
        );
    }
}
