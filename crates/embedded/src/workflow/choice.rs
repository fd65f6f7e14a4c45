//! Choice rules: parsing every JSONPath comparison operator, and evaluating them.
//!
//! As on Step Functions: a `Variable` (or `...Path` operand) that selects nothing fails the
//! execution with `States.Runtime` (except under `IsPresent`), and a value of the wrong type
//! makes a comparison false rather than an error.

use serde_json::Value;

use super::choice_eval::timestamp;
use super::errors::DefinitionError;
use super::fields::Fields;
use super::paths::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Test {
    Null,
    Present,
    Numeric,
    String,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone)]
pub(crate) enum Operand {
    Literal(Value),
    Path(Path),
}

/// One Choice rule, or a rule nested in `And`, `Or` or `Not`.
#[derive(Debug, Clone)]
pub(crate) enum Rule {
    And(Vec<Rule>),
    Or(Vec<Rule>),
    Not(Box<Rule>),
    Compare {
        variable: Path,
        kind: Kind,
        cmp: Cmp,
        operand: Operand,
    },
    Matches {
        variable: Path,
        pattern: String,
    },
    Test {
        variable: Path,
        test: Test,
        expected: bool,
    },
}

const OPERATORS: &[&str] = &[
    "And",
    "Or",
    "Not",
    "StringEquals",
    "StringEqualsPath",
    "StringLessThan",
    "StringLessThanPath",
    "StringGreaterThan",
    "StringGreaterThanPath",
    "StringLessThanEquals",
    "StringLessThanEqualsPath",
    "StringGreaterThanEquals",
    "StringGreaterThanEqualsPath",
    "StringMatches",
    "NumericEquals",
    "NumericEqualsPath",
    "NumericLessThan",
    "NumericLessThanPath",
    "NumericGreaterThan",
    "NumericGreaterThanPath",
    "NumericLessThanEquals",
    "NumericLessThanEqualsPath",
    "NumericGreaterThanEquals",
    "NumericGreaterThanEqualsPath",
    "BooleanEquals",
    "BooleanEqualsPath",
    "TimestampEquals",
    "TimestampEqualsPath",
    "TimestampLessThan",
    "TimestampLessThanPath",
    "TimestampGreaterThan",
    "TimestampGreaterThanPath",
    "TimestampLessThanEquals",
    "TimestampLessThanEqualsPath",
    "TimestampGreaterThanEquals",
    "TimestampGreaterThanEqualsPath",
    "IsNull",
    "IsPresent",
    "IsNumeric",
    "IsString",
    "IsBoolean",
    "IsTimestamp",
];

/// Parses one rule at `prefix` (`Choices[0].`, `Choices[0].And[1].`). A top-level rule has a
/// `Next`, which the caller reads; a nested one must not.
pub(crate) fn parse_rule(
    state: &str,
    prefix: &str,
    value: &Value,
    top_level: bool,
) -> Result<Rule, DefinitionError> {
    let mut allowed: Vec<&str> = OPERATORS.to_vec();
    allowed.extend(["Variable", "Comment"]);
    if top_level {
        allowed.push("Next");
    }
    let fields = Fields::new(Some(state), prefix, value, "a Choice rule", &allowed)?;
    let operators: Vec<&String> = fields
        .keys()
        .filter(|k| OPERATORS.contains(&k.as_str()))
        .collect();
    let [operator] = operators.as_slice() else {
        let field = prefix.trim_end_matches('.');
        return Err(DefinitionError::at(
            Some(state),
            Some(field),
            "invalid_value",
            format!(
                "a rule needs exactly one operator, found {}",
                operators.len()
            ),
        ));
    };
    let operator = operator.as_str();
    let nested = |i: Option<usize>, v: &Value| {
        let at = match i {
            Some(i) => format!("{prefix}{operator}[{i}]."),
            None => format!("{prefix}{operator}."),
        };
        parse_rule(state, &at, v, false)
    };
    let rule = match operator {
        "And" | "Or" => {
            let items = fields.array(operator)?.filter(|items| !items.is_empty());
            let items = items.ok_or_else(|| {
                fields.error(
                    operator,
                    "invalid_value",
                    "must be a non-empty array of rules",
                )
            })?;
            let rules = items
                .iter()
                .enumerate()
                .map(|(i, v)| nested(Some(i), v))
                .collect::<Result<Vec<_>, _>>()?;
            if operator == "And" {
                Rule::And(rules)
            } else {
                Rule::Or(rules)
            }
        }
        "Not" => Rule::Not(Box::new(nested(
            None,
            fields.value(operator).unwrap_or(&Value::Null),
        )?)),
        _ => comparison(&fields, operator)?,
    };
    let is_boolean_combinator = matches!(rule, Rule::And(_) | Rule::Or(_) | Rule::Not(_));
    if is_boolean_combinator && fields.has("Variable") {
        return Err(fields.error(
            "Variable",
            "invalid_value",
            format!("has no meaning with {operator}"),
        ));
    }
    Ok(rule)
}

fn comparison(fields: &Fields<'_>, operator: &str) -> Result<Rule, DefinitionError> {
    let variable_text = fields.required_str("Variable")?;
    let variable = Path::parse(variable_text, true)
        .ok()
        .filter(Path::is_reference)
        .ok_or_else(|| fields.error("Variable", "invalid_value", "must be a reference path"))?;
    let raw = fields.value(operator).unwrap_or(&Value::Null);
    let bad = |what: &str| fields.error(operator, "invalid_value", format!("must be {what}"));
    if let Some(test) = operator.strip_prefix("Is") {
        let test = match test {
            "Null" => Test::Null,
            "Present" => Test::Present,
            "Numeric" => Test::Numeric,
            "String" => Test::String,
            "Boolean" => Test::Boolean,
            _ => Test::Timestamp,
        };
        let expected = raw.as_bool().ok_or_else(|| bad("true or false"))?;
        return Ok(Rule::Test {
            variable,
            test,
            expected,
        });
    }
    if operator == "StringMatches" {
        let pattern = raw.as_str().ok_or_else(|| bad("a string"))?.to_owned();
        return Ok(Rule::Matches { variable, pattern });
    }
    let (name, by_path) = match operator.strip_suffix("Path") {
        Some(name) => (name, true),
        None => (operator, false),
    };
    let (kind, rest) = [
        ("String", Kind::String),
        ("Numeric", Kind::Numeric),
        ("Boolean", Kind::Boolean),
        ("Timestamp", Kind::Timestamp),
    ]
    .into_iter()
    .find_map(|(prefix, kind)| name.strip_prefix(prefix).map(|rest| (kind, rest)))
    .ok_or_else(|| bad("a known comparison"))?;
    let cmp = match rest {
        "Equals" => Cmp::Equals,
        "LessThan" => Cmp::LessThan,
        "GreaterThan" => Cmp::GreaterThan,
        "LessThanEquals" => Cmp::LessThanEquals,
        _ => Cmp::GreaterThanEquals,
    };
    let operand = if by_path {
        let text = raw.as_str().ok_or_else(|| bad("a reference path"))?;
        let path = Path::parse(text, true)
            .ok()
            .filter(Path::is_reference)
            .ok_or_else(|| bad("a reference path"))?;
        Operand::Path(path)
    } else {
        let fits = match kind {
            Kind::String => raw.is_string(),
            Kind::Numeric => raw.is_number(),
            Kind::Boolean => raw.is_boolean(),
            Kind::Timestamp => raw.as_str().and_then(timestamp).is_some(),
        };
        if !fits {
            return Err(bad(match kind {
                Kind::String => "a string",
                Kind::Numeric => "a number",
                Kind::Boolean => "true or false",
                Kind::Timestamp => "an RFC 3339 timestamp",
            }));
        }
        Operand::Literal(raw.clone())
    };
    Ok(Rule::Compare {
        variable,
        kind,
        cmp,
        operand,
    })
}

#[cfg(test)]
#[path = "choice_tests.rs"]
mod tests;
