//! The review state machine: the ASL file with its placeholders filled, created or updated.
//!
//! The same `${Name}` placeholders that SAM's `DefinitionSubstitutions` fill on AWS are filled
//! here, and any placeholder left over is an error, so a definition never reaches Step
//! Functions pointing at a queue called `${SanitizeQueueUrl}`.

use aws_sdk_sfn::types::StateMachineType;

use super::BootstrapError;
use crate::config::AwsContext;
use crate::errors::backend_error;

/// Replaces each `${name}` with its value, JSON-escaped (placeholders sit inside JSON
/// strings), then checks that none remain and that the result is JSON.
pub fn substitute(asl: &str, values: &[(&str, &str)]) -> Result<String, BootstrapError> {
    let mut text = asl.to_owned();
    for (name, value) in values {
        let quoted = serde_json::Value::String((*value).to_owned()).to_string();
        let escaped = &quoted[1..quoted.len() - 1];
        text = text.replace(&format!("${{{name}}}"), escaped);
    }
    if let Some(start) = text.find("${") {
        let rest = &text[start + 2..];
        let name = rest.split('}').next().unwrap_or(rest);
        return Err(BootstrapError::UnresolvedPlaceholder(name.to_owned()));
    }
    serde_json::from_str::<serde_json::Value>(&text).map_err(BootstrapError::Definition)?;
    Ok(text)
}

/// Creates the state machine `name`, or updates its definition and role if it exists.
pub(super) async fn ensure_state_machine(
    ctx: &AwsContext,
    name: &str,
    definition: &str,
    role_arn: &str,
) -> Result<String, BootstrapError> {
    let sfn = ctx.sfn();
    if let Some(arn) = find(&sfn, name).await? {
        sfn.update_state_machine()
            .state_machine_arn(&arn)
            .definition(definition)
            .role_arn(role_arn)
            .send()
            .await
            .map_err(|e| backend_error("states:UpdateStateMachine", e))?;
        return Ok(arn);
    }
    let created = sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(role_arn)
        .r#type(StateMachineType::Standard)
        .send()
        .await
        .map_err(|e| backend_error("states:CreateStateMachine", e))?;
    Ok(created.state_machine_arn)
}

async fn find(sfn: &aws_sdk_sfn::Client, name: &str) -> Result<Option<String>, BootstrapError> {
    let mut next: Option<String> = None;
    loop {
        let page = sfn
            .list_state_machines()
            .set_next_token(next.take())
            .send()
            .await
            .map_err(|e| backend_error("states:ListStateMachines", e))?;
        if let Some(found) = page.state_machines.iter().find(|m| m.name == name) {
            return Ok(Some(found.state_machine_arn.clone()));
        }
        match page.next_token {
            Some(token) if !token.is_empty() => next = Some(token),
            _ => return Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ASL: &str = r#"{"States":{"A":{"Parameters":{"QueueUrl":"${Queue}"}}}}"#;

    #[test]
    fn placeholders_are_filled_with_json_escaped_values() {
        let out = substitute(ASL, &[("Queue", "http://q/\"x\"")]).unwrap();
        let json: serde_json::Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            json["States"]["A"]["Parameters"]["QueueUrl"],
            "http://q/\"x\""
        );
    }

    #[test]
    fn a_leftover_placeholder_is_named() {
        match substitute(ASL, &[("Other", "x")]) {
            Err(BootstrapError::UnresolvedPlaceholder(name)) => assert_eq!(name, "Queue"),
            other => panic!("expected UnresolvedPlaceholder, got {other:?}"),
        }
    }

    #[test]
    fn the_result_must_be_json() {
        assert!(matches!(
            substitute("{not json", &[]),
            Err(BootstrapError::Definition(_))
        ));
    }
}
