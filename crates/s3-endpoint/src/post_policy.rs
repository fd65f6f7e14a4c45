//! The POST policy: decoding the base64 JSON document and evaluating it against a form.
//!
//! Rules, from S3's "POST Policy": the policy has an `expiration` and `conditions`; a
//! condition is `{"field": "value"}` (exact), `["eq", "$field", "value"]`,
//! `["starts-with", "$field", "prefix"]` or `["content-length-range", min, max]`. Field names
//! are case-insensitive. Every condition must hold, and every form field except
//! `x-amz-signature`, `file`, `policy` and `x-ignore-*` must be named by some condition.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use vetted_core::Timestamp;

use super::errors::{S3Error, S3ErrorCode};
use super::form::FormFields;

/// One condition of a policy. Field names are kept lowercase, without the `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Condition {
    Eq { field: String, value: String },
    StartsWith { field: String, prefix: String },
    ContentLengthRange { min: u64, max: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostPolicy {
    pub expiration: Timestamp,
    pub conditions: Vec<Condition>,
}

/// The file sizes a policy allows, inclusive; `None` where the policy says nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeRange {
    pub min: u64,
    pub max: Option<u64>,
}

fn invalid(message: impl Into<String>) -> S3Error {
    S3Error::new(
        S3ErrorCode::InvalidPolicyDocument,
        format!("Invalid Policy: {}", message.into()),
    )
}

/// Fields that are never named by conditions: the signature, the policy itself, the file, and
/// whatever a toolkit adds under `x-ignore-`.
pub fn is_exempt(field: &str) -> bool {
    let field = field.to_ascii_lowercase();
    matches!(field.as_str(), "x-amz-signature" | "file" | "policy")
        || field.starts_with("x-ignore-")
}

impl PostPolicy {
    /// Decodes the `policy` form field: base64, then UTF-8 JSON, then the grammar above.
    pub fn decode(encoded: &str) -> Result<Self, S3Error> {
        let bytes = STANDARD
            .decode(encoded.trim())
            .map_err(|_| invalid("Invalid Base64 encoding"))?;
        let json: Value = serde_json::from_slice(&bytes).map_err(|_| invalid("Invalid JSON."))?;
        let Value::Object(document) = json else {
            return Err(invalid("the policy must be a JSON object"));
        };
        if let Some(unknown) = document
            .keys()
            .find(|name| *name != "expiration" && *name != "conditions")
        {
            return Err(invalid(format!("Unexpected element '{unknown}'")));
        }
        let expiration = match document.get("expiration") {
            Some(Value::String(text)) => Timestamp::parse_rfc3339(text)
                .map_err(|_| invalid(format!("Invalid 'expiration' value: '{text}'")))?,
            Some(_) => return Err(invalid("'expiration' must be an ISO8601 string")),
            None => return Err(invalid("Policy missing expiration.")),
        };
        let conditions = match document.get("conditions") {
            Some(Value::Array(items)) => items
                .iter()
                .map(parse_condition)
                .collect::<Result<Vec<_>, _>>()?
                .into_iter()
                .flatten()
                .collect(),
            Some(_) => return Err(invalid("'conditions' must be a list")),
            None => return Err(invalid("Policy missing conditions.")),
        };
        Ok(Self {
            expiration,
            conditions,
        })
    }

    /// Checks the policy against the form: not expired, every condition true, no field left
    /// unnamed. `bucket` is the bucket the form was posted to (it is not a form field).
    /// Returns the file sizes allowed.
    pub fn evaluate(
        &self,
        fields: &FormFields,
        bucket: &str,
        now: Timestamp,
    ) -> Result<SizeRange, S3Error> {
        if now > self.expiration {
            return Err(S3Error::access_denied(
                "Invalid according to Policy: Policy expired.",
            ));
        }
        let value_of = |field: &str| -> Option<&str> {
            if field == "bucket" {
                Some(bucket)
            } else {
                fields.get(field)
            }
        };
        let mut range = SizeRange { min: 0, max: None };
        for condition in &self.conditions {
            let holds = match condition {
                Condition::Eq { field, value } => value_of(field) == Some(value.as_str()),
                Condition::StartsWith { field, prefix } => match value_of(field) {
                    Some(actual) => starts_with(field, actual, prefix),
                    // "Matching any content" is starts-with "", which an absent field meets.
                    None => prefix.is_empty(),
                },
                Condition::ContentLengthRange { min, max } => {
                    range.min = range.min.max(*min);
                    range.max = Some(range.max.map_or(*max, |m| m.min(*max)));
                    true
                }
            };
            if !holds {
                return Err(S3Error::access_denied(format!(
                    "Invalid according to Policy: Policy Condition failed: {}",
                    describe(condition)
                )));
            }
        }
        let unnamed: Vec<&str> = fields
            .names()
            .filter(|name| !is_exempt(name) && !self.names(name))
            .collect();
        if !unnamed.is_empty() {
            return Err(S3Error::access_denied(format!(
                "Invalid according to Policy: Extra input fields: {}",
                unnamed.join(", ")
            )));
        }
        Ok(range)
    }

    fn names(&self, field: &str) -> bool {
        self.conditions.iter().any(|condition| match condition {
            Condition::Eq { field: named, .. } | Condition::StartsWith { field: named, .. } => {
                named.eq_ignore_ascii_case(field)
            }
            Condition::ContentLengthRange { .. } => false,
        })
    }
}

/// A `Content-Type` holding a comma-separated list passes only if every entry starts with the
/// prefix, so `image/png,text/html` cannot slip past `starts-with image/`.
fn starts_with(field: &str, actual: &str, prefix: &str) -> bool {
    if field == "content-type" && actual.contains(',') {
        return actual
            .split(',')
            .all(|part| part.trim().starts_with(prefix));
    }
    actual.starts_with(prefix)
}

fn describe(condition: &Condition) -> String {
    match condition {
        Condition::Eq { field, value } => format!("[\"eq\", \"${field}\", {value:?}]"),
        Condition::StartsWith { field, prefix } => {
            format!("[\"starts-with\", \"${field}\", {prefix:?}]")
        }
        Condition::ContentLengthRange { min, max } => {
            format!("[\"content-length-range\", {min}, {max}]")
        }
    }
}

/// One JSON condition; an object may hold several exact matches.
fn parse_condition(item: &Value) -> Result<Vec<Condition>, S3Error> {
    match item {
        Value::Object(pairs) => pairs
            .iter()
            .map(|(name, value)| match value {
                Value::String(text) => Ok(Condition::Eq {
                    field: name.trim_start_matches('$').to_ascii_lowercase(),
                    value: text.clone(),
                }),
                _ => Err(invalid(format!(
                    "Condition value for '{name}' must be a string"
                ))),
            })
            .collect(),
        Value::Array(parts) => {
            let op = match parts.first() {
                Some(Value::String(op)) => op.to_ascii_lowercase(),
                _ => return Err(invalid("a condition list must start with its operation")),
            };
            match (op.as_str(), parts.as_slice()) {
                ("eq" | "starts-with", [_, Value::String(field), Value::String(value)]) => {
                    let field = field
                        .strip_prefix('$')
                        .filter(|name| !name.is_empty())
                        .ok_or_else(|| invalid(format!("'{field}' must name a field as $name")))?
                        .to_ascii_lowercase();
                    let value = value.clone();
                    Ok(vec![if op == "eq" {
                        Condition::Eq { field, value }
                    } else {
                        Condition::StartsWith {
                            field,
                            prefix: value,
                        }
                    }])
                }
                ("content-length-range", [_, min, max]) => {
                    let (min, max) = (length(min)?, length(max)?);
                    if min > max {
                        return Err(invalid("content-length-range minimum exceeds maximum"));
                    }
                    Ok(vec![Condition::ContentLengthRange { min, max }])
                }
                _ => Err(invalid(format!("Invalid condition: {item}"))),
            }
        }
        _ => Err(invalid(format!("Invalid condition: {item}"))),
    }
}

/// A content-length bound: a non-negative integer, as a number or as a string of digits.
fn length(value: &Value) -> Result<u64, S3Error> {
    let parsed = match value {
        Value::Number(number) => number.as_u64(),
        Value::String(text) if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) => {
            text.parse().ok()
        }
        _ => None,
    };
    parsed.ok_or_else(|| {
        invalid(format!(
            "content-length-range bounds must be non-negative integers, not {value}"
        ))
    })
}

#[cfg(test)]
#[path = "post_policy_tests.rs"]
mod tests;
