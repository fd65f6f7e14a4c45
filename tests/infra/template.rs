//! Reading `infra/template.yaml` for the infra tests: YAML with CloudFormation short-form tags
//! turned into the long JSON form, and small lookups over resources and intrinsic functions.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

/// The repository root (the workspace), found from this crate's manifest directory.
pub fn repo_root() -> PathBuf {
    let tests_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    tests_dir
        .parent()
        .expect("tests/ has a parent directory")
        .to_path_buf()
}

pub fn infra_dir() -> PathBuf {
    repo_root().join("infra")
}

pub struct Template {
    pub doc: Value,
}

impl Template {
    pub fn load() -> Self {
        let path = infra_dir().join("template.yaml");
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let yaml: Yaml = serde_yaml_ng::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
        Template {
            doc: to_long_form(&yaml),
        }
    }

    pub fn section(&self, name: &str) -> &Map<String, Value> {
        self.doc
            .get(name)
            .and_then(Value::as_object)
            .unwrap_or_else(|| panic!("template has no {name} section"))
    }

    pub fn resource(&self, id: &str) -> Option<&Value> {
        self.section("Resources").get(id)
    }

    /// Every resource's logical id.
    pub fn resource_ids(&self) -> Vec<&str> {
        self.section("Resources")
            .keys()
            .map(String::as_str)
            .collect()
    }

    /// Logical ids and bodies of every resource of `kind`, in template order of ids.
    pub fn resources_of_type<'a>(&'a self, kind: &str) -> Vec<(&'a str, &'a Value)> {
        self.section("Resources")
            .iter()
            .filter(|(_, body)| body.get("Type").and_then(Value::as_str) == Some(kind))
            .map(|(id, body)| (id.as_str(), body))
            .collect()
    }

    pub fn is_type(&self, id: &str, kind: &str) -> bool {
        self.resource(id)
            .and_then(|r| r.get("Type"))
            .and_then(Value::as_str)
            == Some(kind)
    }

    pub fn parameter(&self, name: &str) -> &Value {
        self.section("Parameters")
            .get(name)
            .unwrap_or_else(|| panic!("template has no parameter {name}"))
    }

    /// The statements of every inline policy of an `AWS::IAM::Role`.
    pub fn role_statements(&self, role_id: &str) -> Vec<&Value> {
        let role = self
            .resource(role_id)
            .unwrap_or_else(|| panic!("role {role_id} is not in the template"));
        role.pointer("/Properties/Policies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|p| p.pointer("/PolicyDocument/Statement"))
            .filter_map(Value::as_array)
            .flatten()
            .collect()
    }

    /// Resources (as written) that `role_id` allows `action` on.
    pub fn allowed_resources(&self, role_id: &str, action: &str) -> Vec<Value> {
        self.role_statements(role_id)
            .into_iter()
            .filter(|s| s.get("Effect").and_then(Value::as_str) == Some("Allow"))
            .filter(|s| one_or_many(s.get("Action")).iter().any(|a| a == action))
            .flat_map(|s| one_or_many(s.get("Resource")))
            .collect()
    }
}

/// A value that CloudFormation accepts either alone or in a list, as a list.
pub fn one_or_many(value: Option<&Value>) -> Vec<Value> {
    match value {
        Some(Value::Array(items)) => items.clone(),
        Some(other) => vec![other.clone()],
        None => Vec::new(),
    }
}

/// `{"Ref": name}` → name.
pub fn ref_target(value: &Value) -> Option<&str> {
    value.get("Ref").and_then(Value::as_str)
}

/// `{"Fn::GetAtt": [resource, attribute]}` → (resource, attribute).
pub fn get_att(value: &Value) -> Option<(&str, &str)> {
    let parts = value.get("Fn::GetAtt")?.as_array()?;
    match parts.as_slice() {
        [resource, attribute] => Some((resource.as_str()?, attribute.as_str()?)),
        _ => None,
    }
}

/// The logical id `X` of a `!GetAtt X.Arn`.
pub fn arn_of(value: &Value) -> Option<&str> {
    get_att(value)
        .filter(|(_, attribute)| *attribute == "Arn")
        .map(|(resource, _)| resource)
}

/// The `${Name}` placeholders of a text, without the braces.
pub fn placeholders(text: &str) -> BTreeSet<String> {
    let pattern = regex::Regex::new(r"\$\{([^}]+)\}").expect("placeholder pattern compiles");
    pattern
        .captures_iter(text)
        .map(|c| c[1].to_owned())
        .collect()
}

/// `functions/upload-api` → `UploadApiFunction`.
pub fn function_logical_id(crate_name: &str) -> String {
    let stem: String = crate_name
        .split(['-', '_'])
        .map(|word| {
            let mut chars = word.chars();
            match chars.next() {
                Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
                None => String::new(),
            }
        })
        .collect();
    format!("{stem}Function")
}

/// YAML as the template is written → JSON in the long form (`!Ref X` → `{"Ref": "X"}`,
/// `!GetAtt A.B` → `{"Fn::GetAtt": ["A", "B"]}`, `!Sub s` → `{"Fn::Sub": s}`, ...).
fn to_long_form(yaml: &Yaml) -> Value {
    match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(*b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::from(i)
            } else if let Some(u) = n.as_u64() {
                Value::from(u)
            } else {
                Value::from(
                    n.as_f64()
                        .expect("a YAML number is a float if not an integer"),
                )
            }
        }
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Sequence(items) => Value::Array(items.iter().map(to_long_form).collect()),
        Yaml::Mapping(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (scalar_key(k), to_long_form(v)))
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = to_long_form(&tagged.value);
            let (key, value) = match (name, inner) {
                ("Ref", v) => ("Ref".to_owned(), v),
                ("Condition", v) => ("Condition".to_owned(), v),
                ("GetAtt", Value::String(dotted)) => {
                    let (resource, attribute) = dotted
                        .split_once('.')
                        .unwrap_or_else(|| panic!("!GetAtt {dotted} has no attribute"));
                    (
                        "Fn::GetAtt".to_owned(),
                        Value::from(vec![resource.to_owned(), attribute.to_owned()]),
                    )
                }
                (other, v) => (format!("Fn::{other}"), v),
            };
            Value::Object(Map::from_iter([(key, value)]))
        }
    }
}

fn scalar_key(key: &Yaml) -> String {
    match key {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        other => panic!("template uses a non-scalar mapping key: {other:?}"),
    }
}
