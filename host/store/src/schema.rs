//! A small JSON Schema subset: what plugin config schemas may use, and the
//! validator bindings run their config through.
//!
//! Supported validation keywords: `type` (a name or a list of names among
//! `object`, `array`, `string`, `integer`, `number`, `boolean`, `null`),
//! `properties`, `required`, `additionalProperties` (bool or schema),
//! `items` (one schema), `enum`, `const`, `minimum`, `maximum`,
//! `minLength`, `maxLength`, `minItems`, `maxItems`. Annotations are
//! ignored: `$schema`, `$id`, `$comment`, `title`, `description`,
//! `default`, `examples`, `deprecated`. Any other keyword makes the schema
//! itself invalid when the plugin is installed ([`check_schema`]), so a
//! schema is never half-enforced (fail closed). A `null` schema (none
//! declared) accepts any JSON object; the plugin's own `validate-config`
//! remains the authority and the API should call it too.

use serde_json::Value;

const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
];
const KEYWORDS: &[&str] = &[
    "type",
    "properties",
    "required",
    "additionalProperties",
    "items",
    "enum",
    "const",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
];
const TYPES: &[&str] = &[
    "object", "array", "string", "integer", "number", "boolean", "null",
];

/// Checks that `schema` uses only the supported subset, well-formed.
pub(crate) fn check_schema(schema: &Value) -> Result<(), String> {
    check_at(schema, "#")
}

fn check_at(schema: &Value, at: &str) -> Result<(), String> {
    let Value::Object(map) = schema else {
        return match schema {
            Value::Bool(_) => Ok(()),
            _ => Err(format!("{at}: a schema is an object or a boolean")),
        };
    };
    for (key, value) in map {
        if ANNOTATIONS.contains(&key.as_str()) {
            continue;
        }
        if !KEYWORDS.contains(&key.as_str()) {
            return Err(format!("{at}: unsupported schema keyword {key:?}"));
        }
        let bad = |what: &str| Err(format!("{at}/{key}: {what}"));
        match key.as_str() {
            "type" => {
                let names: Vec<&Value> = match value {
                    Value::Array(list) => list.iter().collect(),
                    other => vec![other],
                };
                if names.is_empty()
                    || !names
                        .iter()
                        .all(|n| n.as_str().is_some_and(|n| TYPES.contains(&n)))
                {
                    return bad("must name JSON types");
                }
            }
            "properties" => {
                let Value::Object(properties) = value else {
                    return bad("must be an object");
                };
                for (name, sub) in properties {
                    check_at(sub, &format!("{at}/properties/{name}"))?;
                }
            }
            "required" => {
                if !value
                    .as_array()
                    .is_some_and(|l| l.iter().all(Value::is_string))
                {
                    return bad("must be a list of names");
                }
            }
            "additionalProperties" | "items" => check_at(value, &format!("{at}/{key}"))?,
            "enum" => {
                if !value.is_array() {
                    return bad("must be a list");
                }
            }
            "const" => {}
            "minimum" | "maximum" => {
                if !value.is_number() {
                    return bad("must be a number");
                }
            }
            _ => {
                if !value.is_u64() {
                    return bad("must be a non-negative integer");
                }
            }
        }
    }
    Ok(())
}

fn type_matches(name: &str, value: &Value) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => {
            value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0)
        }
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

/// Validates `value` against a schema that passed [`check_schema`];
/// the error names the first failing path.
pub(crate) fn validate(schema: &Value, value: &Value) -> Result<(), String> {
    validate_at(schema, value, "config")
}

fn validate_at(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let map = match schema {
        Value::Bool(true) => return Ok(()),
        Value::Bool(false) => return Err(format!("{at}: not allowed")),
        Value::Object(map) => map,
        _ => return Err(format!("{at}: the schema is malformed")),
    };
    if let Some(types) = map.get("type") {
        let names: Vec<&str> = match types {
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            other => other.as_str().into_iter().collect(),
        };
        if !names.iter().any(|n| type_matches(n, value)) {
            return Err(format!("{at}: expected {}", names.join(" or ")));
        }
    }
    if let Some(Value::Array(options)) = map.get("enum")
        && !options.contains(value)
    {
        return Err(format!(
            "{at}: must be one of {}",
            Value::Array(options.clone())
        ));
    }
    if let Some(expected) = map.get("const")
        && expected != value
    {
        return Err(format!("{at}: must be {expected}"));
    }
    if let Some(number) = value.as_f64() {
        if let Some(min) = map.get("minimum").and_then(Value::as_f64)
            && number < min
        {
            return Err(format!("{at}: must be at least {min}"));
        }
        if let Some(max) = map.get("maximum").and_then(Value::as_f64)
            && number > max
        {
            return Err(format!("{at}: must be at most {max}"));
        }
    }
    if let Some(text) = value.as_str() {
        let length = text.chars().count() as u64;
        if map
            .get("minLength")
            .and_then(Value::as_u64)
            .is_some_and(|min| length < min)
        {
            return Err(format!("{at}: is too short"));
        }
        if map
            .get("maxLength")
            .and_then(Value::as_u64)
            .is_some_and(|max| length > max)
        {
            return Err(format!("{at}: is too long"));
        }
    }
    if let Some(items) = value.as_array() {
        let count = items.len() as u64;
        if map
            .get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|min| count < min)
        {
            return Err(format!("{at}: has too few items"));
        }
        if map
            .get("maxItems")
            .and_then(Value::as_u64)
            .is_some_and(|max| count > max)
        {
            return Err(format!("{at}: has too many items"));
        }
        if let Some(item_schema) = map.get("items") {
            for (i, item) in items.iter().enumerate() {
                validate_at(item_schema, item, &format!("{at}[{i}]"))?;
            }
        }
    }
    if let Some(object) = value.as_object() {
        if let Some(Value::Array(required)) = map.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !object.contains_key(name) {
                    return Err(format!("{at}: {name} is required"));
                }
            }
        }
        let properties = map.get("properties").and_then(Value::as_object);
        for (name, item) in object {
            let path = format!("{at}.{name}");
            match properties.and_then(|p| p.get(name)) {
                Some(sub) => validate_at(sub, item, &path)?,
                None => match map.get("additionalProperties") {
                    Some(Value::Bool(false)) => return Err(format!("{path}: unknown field")),
                    Some(sub) => validate_at(sub, item, &path)?,
                    None => {}
                },
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_subset_validates_configs() {
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "required": ["deny"],
            "additionalProperties": false,
            "properties": {
                "deny": {"type": "array", "items": {"enum": ["drop", "truncate"]}, "minItems": 1},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10},
                "label": {"type": ["string", "null"], "maxLength": 3}
            }
        });
        check_schema(&schema).unwrap();
        validate(
            &schema,
            &json!({"deny": ["drop"], "limit": 3, "label": null}),
        )
        .unwrap();
        let err = |v| validate(&schema, &v).unwrap_err();
        assert_eq!(err(json!({})), "config: deny is required");
        assert!(err(json!({"deny": ["delete"]})).starts_with("config.deny[0]: must be one of"));
        assert_eq!(
            err(json!({"deny": ["drop"], "limit": 11})),
            "config.limit: must be at most 10"
        );
        assert_eq!(
            err(json!({"deny": ["drop"], "x": 1})),
            "config.x: unknown field"
        );
        assert_eq!(
            err(json!({"deny": ["drop"], "label": "long"})),
            "config.label: is too long"
        );
        assert_eq!(err(json!({"deny": []})), "config.deny: has too few items");
    }

    #[test]
    fn unsupported_keywords_are_refused_at_install() {
        assert!(
            check_schema(&json!({"type": "object", "patternProperties": {}}))
                .unwrap_err()
                .contains("patternProperties")
        );
        assert!(
            check_schema(&json!({"properties": {"a": {"pattern": "x"}}}))
                .unwrap_err()
                .contains("#/properties/a")
        );
        assert!(check_schema(&json!({"type": "thing"})).is_err());
        assert!(check_schema(&json!(3)).is_err());
    }
}
