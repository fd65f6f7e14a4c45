//! Evaluating Choice rules against a state's input, as Step Functions does: a missing
//! `Variable` is an error (except under `IsPresent`), a value of the wrong type is false.

use std::cmp::Ordering;

use serde_json::Value;
use vetted_core::Timestamp;

use super::choice::{Cmp, Kind, Operand, Rule, Test};
use super::paths::PathError;

pub(crate) fn timestamp(text: &str) -> Option<Timestamp> {
    Timestamp::parse_rfc3339(text).ok()
}

impl Rule {
    pub(crate) fn evaluate(&self, input: &Value, context: &Value) -> Result<bool, PathError> {
        match self {
            Rule::And(rules) => {
                for rule in rules {
                    if !rule.evaluate(input, context)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            Rule::Or(rules) => {
                for rule in rules {
                    if rule.evaluate(input, context)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            Rule::Not(rule) => Ok(!rule.evaluate(input, context)?),
            Rule::Test {
                variable,
                test: Test::Present,
                expected,
            } => Ok(variable.read(input, context).is_ok() == *expected),
            Rule::Test {
                variable,
                test,
                expected,
            } => {
                let value = variable.read(input, context)?;
                let holds = match test {
                    Test::Null => value.is_null(),
                    Test::Numeric => value.is_number(),
                    Test::String => value.is_string(),
                    Test::Boolean => value.is_boolean(),
                    Test::Timestamp => value.as_str().and_then(timestamp).is_some(),
                    Test::Present => true,
                };
                Ok(holds == *expected)
            }
            Rule::Matches { variable, pattern } => {
                let value = variable.read(input, context)?;
                Ok(value.as_str().is_some_and(|text| glob(pattern, text)))
            }
            Rule::Compare {
                variable,
                kind,
                cmp,
                operand,
            } => {
                let left = variable.read(input, context)?;
                let right = match operand {
                    Operand::Literal(value) => value.clone(),
                    Operand::Path(path) => path.read(input, context)?,
                };
                Ok(order(*kind, &left, &right).is_some_and(|o| holds(*cmp, o)))
            }
        }
    }
}

/// How `left` compares with `right` as `kind`; `None` when either is not of that kind.
fn order(kind: Kind, left: &Value, right: &Value) -> Option<Ordering> {
    match kind {
        Kind::String => Some(left.as_str()?.cmp(right.as_str()?)),
        Kind::Numeric => left.as_f64()?.partial_cmp(&right.as_f64()?),
        Kind::Boolean => (left.as_bool()? == right.as_bool()?).then_some(Ordering::Equal),
        Kind::Timestamp => Some(timestamp(left.as_str()?)?.cmp(&timestamp(right.as_str()?)?)),
    }
}

fn holds(cmp: Cmp, ordering: Ordering) -> bool {
    match cmp {
        Cmp::Equals => ordering == Ordering::Equal,
        Cmp::LessThan => ordering == Ordering::Less,
        Cmp::GreaterThan => ordering == Ordering::Greater,
        Cmp::LessThanEquals => ordering != Ordering::Greater,
        Cmp::GreaterThanEquals => ordering != Ordering::Less,
    }
}

/// `StringMatches`: `*` matches any run of characters; `\*` and `\\` are literal.
pub(crate) fn glob(pattern: &str, text: &str) -> bool {
    let mut tokens: Vec<Option<char>> = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => tokens.push(Some(chars.next().unwrap_or('\\'))),
            '*' => tokens.push(None),
            c => tokens.push(Some(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Classic two-pointer wildcard match with backtracking to the last star.
    let (mut t, mut p) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match tokens.get(p) {
            Some(Some(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(None) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    tokens[p..].iter().all(Option::is_none)
}
