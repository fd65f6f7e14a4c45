//! Lambda functions against the workspace: one crate under `functions/` per function.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::template::{Template, function_logical_id, repo_root};

const FUNCTION: &str = "AWS::Serverless::Function";

/// Crate directories under `functions/` (those holding a Cargo.toml).
fn function_crates() -> BTreeSet<String> {
    let dir = repo_root().join("functions");
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return BTreeSet::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| e.path().join("Cargo.toml").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

fn read_toml(path: &std::path::Path) -> Result<toml::Table, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.parse::<toml::Table>()
        .map_err(|e| format!("{} is not valid TOML: {e}", path.display()))
}

fn is_workspace_member(workspace: &toml::Table, dir: &str) -> bool {
    let members = workspace
        .get("workspace")
        .and_then(|w| w.get("members"))
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_str);
    members.into_iter().any(|m| m == dir || m == "functions/*")
}

/// What is wrong with the crate that `Binary` names, if anything.
fn crate_problems(function: &str, binary: &str, workspace: &toml::Table) -> Vec<String> {
    let dir = repo_root().join("functions").join(binary);
    let manifest = match read_toml(&dir.join("Cargo.toml")) {
        Ok(manifest) => manifest,
        Err(why) => {
            return vec![format!(
                "{function} builds binary {binary}, but functions/{binary} is not a crate ({why})"
            )];
        }
    };
    let mut problems = Vec::new();
    let package = manifest
        .get("package")
        .and_then(|p| p.get("name"))
        .and_then(toml::Value::as_str);
    if package != Some(binary) {
        problems.push(format!(
            "functions/{binary}/Cargo.toml names its package {package:?}, not {binary:?}"
        ));
    }
    let bins: Vec<&str> = manifest
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|b| b.get("name").and_then(toml::Value::as_str))
        .collect();
    let has_binary = if bins.is_empty() {
        dir.join("src/main.rs").is_file()
    } else {
        bins.contains(&binary)
    };
    if !has_binary {
        problems.push(format!(
            "functions/{binary} has no binary named {binary} (src/main.rs or [[bin]])"
        ));
    }
    if !is_workspace_member(workspace, &format!("functions/{binary}")) {
        problems.push(format!(
            "functions/{binary} is not a workspace member in Cargo.toml, so `cargo lambda build --bin {binary}` at the root cannot find it"
        ));
    }
    problems
}

#[test]
fn every_function_has_a_crate_and_every_crate_a_function() {
    let template = Template::load();
    let workspace = read_toml(&repo_root().join("Cargo.toml")).expect("workspace manifest");
    let mut problems = Vec::new();
    let mut built = BTreeSet::new();
    for (id, body) in template.resources_of_type(FUNCTION) {
        if body
            .pointer("/Metadata/BuildMethod")
            .and_then(Value::as_str)
            != Some("rust-cargolambda")
        {
            problems.push(format!(
                "{id} is not built with Metadata.BuildMethod rust-cargolambda"
            ));
        }
        let Some(binary) = body
            .pointer("/Metadata/BuildProperties/Binary")
            .and_then(Value::as_str)
        else {
            problems.push(format!(
                "{id} has no Metadata.BuildProperties.Binary naming its crate"
            ));
            continue;
        };
        built.insert(binary.to_owned());
        let expected_id = function_logical_id(binary);
        if id != expected_id {
            problems.push(format!(
                "the function built from functions/{binary} must be called {expected_id}, not {id}"
            ));
        }
        // SAM builds in CodeUri: the crate's own directory, so that cargo resolves features
        // for this function alone (a build at the workspace root unifies them across every
        // member and gives larger binaries).
        let code_uri = body
            .pointer("/Properties/CodeUri")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let expected_uri = format!("../functions/{binary}");
        if code_uri != expected_uri {
            problems.push(format!(
                "{id}.CodeUri is {code_uri:?}; it must be {expected_uri:?}"
            ));
        }
        problems.extend(crate_problems(id, binary, &workspace));
    }
    for crate_dir in function_crates().difference(&built) {
        problems.push(format!(
            "functions/{crate_dir} is a crate, but the template has no {} building it",
            function_logical_id(crate_dir)
        ));
    }
    assert!(
        problems.is_empty(),
        "functions and crates disagree:\n- {}",
        problems.join("\n- ")
    );
}
