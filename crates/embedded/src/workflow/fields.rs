//! Reading one JSON object of a definition (a state, a Retrier, a Choice rule) field by field,
//! so that every refusal names the state and the field, and no unknown field slips through.

use serde_json::{Map, Value};

use super::errors::DefinitionError;

/// Fields of the States Language the engine knows but does not implement, with what to do
/// instead. They are refused with this hint rather than as unknown.
const UNSUPPORTED: &[(&str, &str)] = &[
    (
        "Credentials",
        "cross-account credentials do not exist on one machine",
    ),
    (
        "QueryLanguage",
        "only JSONPath is implemented; JSONata is not",
    ),
    ("Arguments", "JSONata fields are not implemented"),
    ("Output", "JSONata fields are not implemented"),
    ("Assign", "workflow variables are not implemented"),
    ("Condition", "JSONata conditions are not implemented"),
    ("ItemsPath", "Map states are not implemented"),
    ("ItemSelector", "Map states are not implemented"),
    ("ItemProcessor", "Map states are not implemented"),
    ("Iterator", "Map states are not implemented"),
    ("MaxConcurrency", "Map states are not implemented"),
    ("Branches", "Parallel states are not implemented"),
    ("Seconds", "Wait states are not implemented"),
    ("SecondsPath", "Wait states are not implemented"),
    ("Timestamp", "Wait states are not implemented"),
    ("TimestampPath", "Wait states are not implemented"),
];

/// One object of the definition, checked against the fields its kind allows.
pub(crate) struct Fields<'a> {
    state: Option<&'a str>,
    /// Prefix for field names inside arrays: `Retry[0].`.
    prefix: String,
    map: &'a Map<String, Value>,
}

impl<'a> Fields<'a> {
    /// Refuses any field not in `allowed`; `what` names the kind of object in the message.
    pub(crate) fn new(
        state: Option<&'a str>,
        prefix: &str,
        value: &'a Value,
        what: &str,
        allowed: &[&str],
    ) -> Result<Self, DefinitionError> {
        let Some(map) = value.as_object() else {
            let field = prefix.trim_end_matches('.');
            return Err(DefinitionError::at(
                state,
                (!field.is_empty()).then_some(field),
                "invalid_value",
                format!("{what} must be a JSON object"),
            ));
        };
        let fields = Self {
            state,
            prefix: prefix.to_owned(),
            map,
        };
        for key in map.keys() {
            if allowed.contains(&key.as_str()) {
                continue;
            }
            return Err(match UNSUPPORTED.iter().find(|(name, _)| name == key) {
                Some((_, hint)) => {
                    fields.error(key, "unsupported", format!("not supported: {hint}"))
                }
                None => fields.error(key, "unknown_field", format!("is not a field of {what}")),
            });
        }
        Ok(fields)
    }

    pub(crate) fn state(&self) -> Option<&'a str> {
        self.state
    }

    pub(crate) fn error(
        &self,
        field: &str,
        code: &'static str,
        reason: impl Into<String>,
    ) -> DefinitionError {
        let field = format!("{}{field}", self.prefix);
        DefinitionError::at(self.state, Some(&field), code, reason)
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    pub(crate) fn value(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key)
    }

    pub(crate) fn keys(&self) -> impl Iterator<Item = &'a String> {
        self.map.keys()
    }

    pub(crate) fn str(&self, key: &str) -> Result<Option<&'a str>, DefinitionError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(self.error(key, "invalid_value", "must be a string")),
        }
    }

    pub(crate) fn required_str(&self, key: &str) -> Result<&'a str, DefinitionError> {
        self.str(key)?
            .ok_or_else(|| self.error(key, "missing_field", "is required"))
    }

    /// A whole number from `min` up; `99999999` is Step Functions' own ceiling for seconds.
    pub(crate) fn integer(&self, key: &str, min: u64) -> Result<Option<u64>, DefinitionError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => match n.as_u64() {
                Some(v) if v >= min && v <= 99_999_999 => Ok(Some(v)),
                _ => Err(self.error(
                    key,
                    "invalid_value",
                    format!("must be a whole number from {min} to 99999999"),
                )),
            },
            Some(_) => Err(self.error(key, "invalid_value", "must be a number")),
        }
    }

    pub(crate) fn number(&self, key: &str) -> Result<Option<f64>, DefinitionError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Number(n)) => n
                .as_f64()
                .map(Some)
                .ok_or_else(|| self.error(key, "invalid_value", "must be a finite number")),
            Some(_) => Err(self.error(key, "invalid_value", "must be a number")),
        }
    }

    pub(crate) fn bool(&self, key: &str) -> Result<Option<bool>, DefinitionError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(self.error(key, "invalid_value", "must be true or false")),
        }
    }

    pub(crate) fn array(&self, key: &str) -> Result<Option<&'a Vec<Value>>, DefinitionError> {
        match self.map.get(key) {
            None => Ok(None),
            Some(Value::Array(items)) => Ok(Some(items)),
            Some(_) => Err(self.error(key, "invalid_value", "must be an array")),
        }
    }

    /// A non-empty array of strings (an `ErrorEquals`).
    pub(crate) fn strings(&self, key: &str) -> Result<Vec<String>, DefinitionError> {
        let items = self
            .array(key)?
            .ok_or_else(|| self.error(key, "missing_field", "is required"))?;
        if items.is_empty() {
            return Err(self.error(key, "invalid_value", "must not be empty"));
        }
        items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| self.error(key, "invalid_value", "must hold only strings"))
            })
            .collect()
    }
}
