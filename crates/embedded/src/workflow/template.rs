//! Payload templates: `Parameters` and `ResultSelector`, static JSON whose `"name.$"` fields
//! are filled from paths of the input or the context object. Intrinsic functions are refused.

use serde_json::{Map, Value};

use super::paths::{Path, PathError};

/// A `Parameters` or `ResultSelector` payload: static JSON with `"name.$": path` fields.
#[derive(Debug, Clone)]
pub(crate) enum Template {
    Static(Value),
    Path { field: String, path: Path },
    Object(Vec<(String, Template)>),
    Array(Vec<Template>),
}

impl Template {
    /// Parses a payload template. Errors name the offending key.
    pub(crate) fn parse(value: &Value) -> Result<Template, (String, String)> {
        match value {
            Value::Object(map) => {
                let mut fields = Vec::with_capacity(map.len());
                for (key, item) in map {
                    let (name, template) = match key.strip_suffix(".$") {
                        Some(name) => (name.to_owned(), dynamic(key, item)?),
                        None => (
                            key.clone(),
                            Template::parse(item).map_err(|(inner, r)| (join(key, &inner), r))?,
                        ),
                    };
                    if name.is_empty() {
                        return Err((key.clone(), "a field name must not be empty".to_owned()));
                    }
                    if fields.iter().any(|(existing, _)| *existing == name) {
                        return Err((key.clone(), format!("the field {name:?} is given twice")));
                    }
                    fields.push((name, template));
                }
                Ok(Template::Object(fields).simplified())
            }
            Value::Array(items) => {
                let items = items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        Template::parse(item)
                            .map_err(|(inner, r)| (join(&format!("[{i}]"), &inner), r))
                    })
                    .collect::<Result<_, _>>()?;
                Ok(Template::Array(items).simplified())
            }
            other => Ok(Template::Static(other.clone())),
        }
    }

    /// A subtree without paths is kept as one static value.
    fn simplified(self) -> Template {
        let all_static = match &self {
            Template::Object(fields) => {
                fields.iter().all(|(_, t)| matches!(t, Template::Static(_)))
            }
            Template::Array(items) => items.iter().all(|t| matches!(t, Template::Static(_))),
            _ => false,
        };
        if !all_static {
            return self;
        }
        match self {
            Template::Object(fields) => Template::Static(Value::Object(
                fields
                    .into_iter()
                    .filter_map(|(k, t)| match t {
                        Template::Static(v) => Some((k, v)),
                        _ => None,
                    })
                    .collect(),
            )),
            Template::Array(items) => Template::Static(Value::Array(
                items
                    .into_iter()
                    .filter_map(|t| match t {
                        Template::Static(v) => Some(v),
                        _ => None,
                    })
                    .collect(),
            )),
            other => other,
        }
    }

    /// The static value of `field` at the top of an object template, if it has no path.
    pub(crate) fn static_field(&self, field: &str) -> Option<&Value> {
        match self {
            Template::Static(Value::Object(map)) => map.get(field),
            Template::Object(fields) => fields.iter().find_map(|(name, t)| match t {
                Template::Static(v) if name == field => Some(v),
                _ => None,
            }),
            _ => None,
        }
    }

    /// The top-level field names of an object template.
    pub(crate) fn field_names(&self) -> Vec<String> {
        match self {
            Template::Static(Value::Object(map)) => map.keys().cloned().collect(),
            Template::Object(fields) => fields.iter().map(|(k, _)| k.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// Whether some `.$` field of the template reads exactly `path` (`$$.Task.Token`).
    pub(crate) fn reads_context(&self, path: &str) -> bool {
        match self {
            Template::Static(_) => false,
            Template::Path { path: p, .. } => p.text() == path,
            Template::Object(fields) => fields.iter().any(|(_, t)| t.reads_context(path)),
            Template::Array(items) => items.iter().any(|t| t.reads_context(path)),
        }
    }

    pub(crate) fn render(&self, input: &Value, context: &Value) -> Result<Value, PathError> {
        match self {
            Template::Static(value) => Ok(value.clone()),
            Template::Path { field, path } => path
                .read(input, context)
                .map_err(|e| PathError(format!("{e} (for the field {field:?})"))),
            Template::Object(fields) => {
                let mut map = Map::with_capacity(fields.len());
                for (name, template) in fields {
                    map.insert(name.clone(), template.render(input, context)?);
                }
                Ok(Value::Object(map))
            }
            Template::Array(items) => items
                .iter()
                .map(|t| t.render(input, context))
                .collect::<Result<_, _>>()
                .map(Value::Array),
        }
    }
}

/// `outer.inner`, or `outer[0]` when the inner part is an array index.
pub(crate) fn join(outer: &str, inner: &str) -> String {
    if inner.starts_with('[') {
        format!("{outer}{inner}")
    } else {
        format!("{outer}.{inner}")
    }
}

fn dynamic(key: &str, value: &Value) -> Result<Template, (String, String)> {
    let Some(text) = value.as_str() else {
        return Err((
            key.to_owned(),
            "a field ending in .$ must hold a path".to_owned(),
        ));
    };
    if text.starts_with("States.") {
        return Err((
            key.to_owned(),
            format!("intrinsic functions ({text}) are not supported"),
        ));
    }
    let path = Path::parse(text, true).map_err(|e| (key.to_owned(), e))?;
    Ok(Template::Path {
        field: key.to_owned(),
        path,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn templates_fill_dollar_fields_and_refuse_intrinsics() {
        let t = Template::parse(&json!({
            "QueueUrl": "q",
            "MessageBody": {"id.$": "$.id", "token.$": "$$.Task.Token", "list": [{"n.$": "$.id"}]}
        }))
        .unwrap();
        let out = t
            .render(&json!({"id": 7}), &json!({"Task": {"Token": "tk"}}))
            .unwrap();
        assert_eq!(
            out,
            json!({"QueueUrl": "q", "MessageBody": {"id": 7, "token": "tk", "list": [{"n": 7}]}})
        );
        assert_eq!(t.static_field("QueueUrl"), Some(&json!("q")));
        assert!(t.render(&json!({}), &json!({})).is_err());
        assert!(Template::parse(&json!({"a.$": "States.Format('x')"})).is_err());
        assert!(Template::parse(&json!({"a.$": 3})).is_err());
        assert!(Template::parse(&json!({"a": 1, "a.$": "$.a"})).is_err());
        assert!(matches!(
            Template::parse(&json!({"a": [1, {"b": 2}]})).unwrap(),
            Template::Static(_)
        ));
    }
}
