//! Validates response bodies against `schemas/api/*.json` with the `jsonschema` crate.
//! References between the files resolve to the files themselves, never to the network.

use std::path::PathBuf;

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

const ID_PREFIX: &str = "https://vetted.example/schemas/api/";

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../schemas/api")
}

fn load(file: &str) -> Value {
    let path = schema_dir().join(file);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

struct SchemaFiles;

impl Retrieve for SchemaFiles {
    fn retrieve(
        &self,
        uri: &Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let file = uri
            .as_str()
            .strip_prefix(ID_PREFIX)
            .ok_or_else(|| format!("{uri} is not one of ours"))?;
        Ok(load(file))
    }
}

pub fn validator(file: &str) -> Validator {
    jsonschema::options()
        .with_retriever(SchemaFiles)
        .should_validate_formats(true)
        .build(&load(file))
        .unwrap_or_else(|e| panic!("{file} does not compile: {e}"))
}

/// Panics with every violation if `value` does not match `schemas/api/{file}`.
pub fn assert_matches(file: &str, value: &Value) {
    let validator = validator(file);
    let errors: Vec<String> = validator
        .iter_errors(value)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{file}: {errors:#?}\n{value:#}");
}

#[test]
fn every_schema_compiles_and_the_error_reasons_are_the_apis() {
    for entry in std::fs::read_dir(schema_dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        validator(&name);
    }
    let listed = load("error.json")["properties"]["reason"]["enum"].clone();
    let mut listed: Vec<String> = serde_json::from_value(listed).unwrap();
    listed.sort();
    let openapi = std::fs::read_to_string(schema_dir().join("../openapi.yaml")).unwrap();
    for reason in &listed {
        assert!(
            openapi.contains(&format!("| `{reason}` |")),
            "{reason} undocumented in openapi.yaml"
        );
    }
}

#[test]
fn the_schemas_refuse_what_they_must() {
    let upload = validator("upload.json");
    assert!(!upload.is_valid(&serde_json::json!({"upload_id": "x"})));
    let error = validator("error.json");
    assert!(error.is_valid(&serde_json::json!({"error": "e", "reason": "not_found"})));
    assert!(!error.is_valid(&serde_json::json!({"error": "e", "reason": "made_up"})));
    let policy = validator("policy.json");
    let svg = serde_json::json!({
        "allowed_types": ["image/svg+xml"], "min_bytes": 1, "max_bytes": 2,
        "min_side": 1, "max_side": 2, "max_pixels": 4
    });
    assert!(!policy.is_valid(&svg), "SVG is never an allowed type");
}

#[test]
fn the_upload_and_event_schemas_list_exactly_the_reason_codes() {
    let mut codes: Vec<String> = vetted_core::ReasonCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    codes.sort();
    let events_dir = schema_dir().join("../events/upload-event.json");
    let event: Value = serde_json::from_str(&std::fs::read_to_string(events_dir).unwrap()).unwrap();
    for (file, listed) in [
        (
            "upload.json",
            load("upload.json")["$defs"]["reason"]["enum"].clone(),
        ),
        (
            "upload-event.json",
            event["properties"]["reason"]["enum"].clone(),
        ),
    ] {
        let mut listed: Vec<String> = serde_json::from_value(listed)
            .unwrap_or_else(|e| panic!("{file}: no reason enum: {e}"));
        listed.sort();
        assert_eq!(listed, codes, "{file}");
    }
}
