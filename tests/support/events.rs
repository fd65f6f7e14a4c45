//! Checks events that a running pipeline really emitted against `schemas/events/`, and the
//! rules every event obeys: one per status change, with the id derived from (upload, type).
//!
//! `$ref`s between the schema files resolve to the files themselves, never to the network.

use std::collections::BTreeMap;
use std::path::PathBuf;

use jsonschema::{Retrieve, Uri, Validator};
use serde_json::Value;

const ID_PREFIX: &str = "https://vetted.example/schemas/events/";

fn schema_dir() -> PathBuf {
    super::workspace_root().join("schemas/events")
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
            .ok_or_else(|| format!("{uri} is not one of the event schemas"))?;
        Ok(load(file))
    }
}

/// The validator of every event type, by type (`upload.published` → its schema).
pub struct EventSchemas {
    by_type: BTreeMap<String, Validator>,
}

impl Default for EventSchemas {
    fn default() -> Self {
        Self::load()
    }
}

impl EventSchemas {
    /// Compiles `schemas/events/{type}.json` for every type the base schema lists.
    pub fn load() -> EventSchemas {
        let base = load("upload-event.json");
        let types = base["properties"]["type"]["enum"]
            .as_array()
            .expect("upload-event.json lists the event types")
            .iter()
            .map(|t| t.as_str().expect("a type name").to_owned());
        let by_type = types
            .map(|event_type| {
                let file = format!("{event_type}.json");
                let validator = jsonschema::options()
                    .with_retriever(SchemaFiles)
                    .should_validate_formats(true)
                    .build(&load(&file))
                    .unwrap_or_else(|e| panic!("{file} does not compile: {e}"));
                (event_type, validator)
            })
            .collect();
        EventSchemas { by_type }
    }

    /// Every violation of `event` against the schema of its own `type`, and of the id rule
    /// (`{upload_id}.{type}`, or `{restaurant}.{slot}.{revision}.{type}` for the slot events); empty when it
    /// is valid.
    pub fn violations(&self, event: &Value) -> Vec<String> {
        let Some(event_type) = event["type"].as_str() else {
            return vec![format!("no type: {event}")];
        };
        let Some(validator) = self.by_type.get(event_type) else {
            return vec![format!("type {event_type:?} has no schema: {event}")];
        };
        let mut errors: Vec<String> = validator
            .iter_errors(event)
            .map(|e| format!("{event_type}: {e} at {}", e.instance_path()))
            .collect();
        let derived = if event_type.starts_with("slot.") {
            format!(
                "{}.{}.{}.{event_type}",
                event["restaurant"].as_str().unwrap_or("?"),
                event["slot"].as_str().unwrap_or("?"),
                event["revision"]
            )
        } else {
            format!(
                "{}.{event_type}",
                event["upload_id"].as_str().unwrap_or("?")
            )
        };
        if event["id"].as_str() != Some(derived.as_str()) {
            errors.push(format!("id {} is not {derived}", event["id"]));
        }
        errors
    }

    /// Panics with every violation of every event.
    pub fn assert_all_valid(&self, events: &[Value]) {
        assert!(!events.is_empty(), "no events to validate");
        let errors: Vec<String> = events
            .iter()
            .flat_map(|event| {
                self.violations(event)
                    .into_iter()
                    .map(move |e| format!("{e}\n    in {event}"))
            })
            .chain(correlation_breaks(events))
            .collect();
        assert!(
            errors.is_empty(),
            "{} of {} events do not match schemas/events/:\n{}",
            errors.len(),
            events.len(),
            errors.join("\n")
        );
    }
}

/// Where one upload's events disagree on its `correlation_id`: it is fixed at presign and every
/// event of the upload, to its publish, carries the same one (the slot events carry none).
fn correlation_breaks(events: &[Value]) -> Vec<String> {
    let mut first_seen: BTreeMap<&str, &Value> = BTreeMap::new();
    let mut breaks = Vec::new();
    for event in events {
        let is_upload_event = !event["type"].as_str().unwrap_or("").starts_with("slot.");
        let Some(upload) = event["upload_id"].as_str().filter(|_| is_upload_event) else {
            continue;
        };
        let correlation = &event["correlation_id"];
        let first = *first_seen.entry(upload).or_insert(correlation);
        if first != correlation {
            breaks.push(format!(
                "upload {upload}: correlation_id {correlation} after {first}"
            ));
        }
    }
    breaks
}

/// The event types of one upload's events, in the order given.
pub fn types_of<'a>(events: impl IntoIterator<Item = &'a Value>, upload_id: &str) -> Vec<String> {
    events
        .into_iter()
        .filter(|e| e["upload_id"] == upload_id)
        .map(|e| e["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// The events a status path emits, in order. A publish that makes its image live announces
/// `slot.changed` (whose `upload_id` is the image now live) before `upload.published`.
pub fn expected_types(final_status: &str) -> &'static [&'static str] {
    match final_status {
        "REJECTED" => &["upload.received", "upload.rejected"],
        "IN_REVIEW" => &["upload.received", "review.requested"],
        "PUBLISHED" => &[
            "upload.received",
            "review.requested",
            "review.approved",
            "slot.changed",
            "upload.published",
        ],
        "DECLINED" => &["upload.received", "review.requested", "review.declined"],
        "WITHDRAWN" => &["upload.received", "review.requested", "upload.withdrawn"],
        other => panic!("no expected event path for {other}"),
    }
}
