//! CloudFormation's custom resource protocol as the site resource speaks it: the request the
//! function is invoked with, what it means for the bucket, and the answer that CloudFormation
//! waits for at the request's pre-signed `ResponseURL`. Pure: no I/O here.

use serde::{Deserialize, Serialize};

/// What CloudFormation sends (only the fields the site resource reads).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Request {
    pub request_type: RequestType,
    #[serde(rename = "ResponseURL")]
    pub response_url: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
    /// Absent on Create; on Update and Delete, what the last answer named.
    #[serde(default)]
    pub physical_resource_id: Option<String>,
    #[serde(default)]
    pub resource_properties: Properties,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum RequestType {
    Create,
    Update,
    Delete,
}

/// `SiteContent`'s properties in the template (besides `ServiceToken`, and `Version`, which
/// only makes a new build of the function an Update).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Properties {
    #[serde(default)]
    pub bucket: String,
}

/// What a request asks of the bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create or Update: put every file of `web/`, then remove any other object.
    Publish { bucket: String },
    /// Delete: remove every object, so that CloudFormation can delete the bucket.
    Empty { bucket: String },
    /// Delete of a resource that never named a bucket (its Create failed): nothing to undo.
    Nothing,
}

impl Request {
    pub fn action(&self) -> Result<Action, String> {
        let bucket = self.resource_properties.bucket.trim().to_owned();
        match (self.request_type, bucket.is_empty()) {
            (RequestType::Delete, true) => Ok(Action::Nothing),
            (RequestType::Delete, false) => Ok(Action::Empty { bucket }),
            (_, true) => Err("SiteContent has no Bucket property naming the site bucket".into()),
            (_, false) => Ok(Action::Publish { bucket }),
        }
    }

    /// The resource's id: the bucket it fills. A new bucket on Update means a new id, and
    /// CloudFormation then deletes the old resource, which empties the old bucket. A Delete
    /// answers with the id it was given, as the protocol requires.
    fn physical_resource_id(&self) -> String {
        let bucket = self.resource_properties.bucket.trim();
        match (&self.physical_resource_id, self.request_type) {
            (Some(id), RequestType::Delete) => id.clone(),
            _ if !bucket.is_empty() => format!("s3://{bucket}"),
            (Some(id), _) => id.clone(),
            (None, _) => self.logical_resource_id.clone(),
        }
    }

    /// The answer to PUT to `response_url` for `outcome` (a summary, or why it failed).
    pub fn response(&self, outcome: &Result<String, String>) -> Response {
        let (status, reason) = match outcome {
            Ok(summary) => (Status::Success, summary.as_str()),
            Err(why) => (Status::Failed, why.as_str()),
        };
        Response {
            status,
            reason: truncate(reason, MAX_REASON_BYTES),
            physical_resource_id: self.physical_resource_id(),
            stack_id: self.stack_id.clone(),
            request_id: self.request_id.clone(),
            logical_resource_id: self.logical_resource_id.clone(),
        }
    }
}

/// The body CloudFormation reads from the response URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct Response {
    pub status: Status,
    pub reason: String,
    pub physical_resource_id: String,
    pub stack_id: String,
    pub request_id: String,
    pub logical_resource_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Success,
    Failed,
}

/// CloudFormation refuses a response body over 4096 bytes; the reason is the part that grows.
const MAX_REASON_BYTES: usize = 1024;

fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &text[..end])
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn request(kind: &str, physical: Option<&str>, bucket: Option<&str>) -> Request {
        let mut event = json!({
            "RequestType": kind,
            "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:vetted-site",
            "ResponseURL": "https://cloudformation-custom-resource-response-euwest1.s3.amazonaws.com/x?X-Amz-Signature=s",
            "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/vetted/guid",
            "RequestId": "req-1",
            "ResourceType": "Custom::SiteContent",
            "LogicalResourceId": "SiteContent",
            "ResourceProperties": {
                "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:vetted-site",
                "Version": "3"
            }
        });
        if let Some(bucket) = bucket {
            event["ResourceProperties"]["Bucket"] = json!(bucket);
        }
        if let Some(id) = physical {
            event["PhysicalResourceId"] = json!(id);
            event["OldResourceProperties"] = json!({"Bucket": "old-site", "Version": "2"});
        }
        serde_json::from_value(event).unwrap()
    }

    #[test]
    fn create_and_update_publish_and_delete_empties_the_named_bucket() {
        let publish = Action::Publish {
            bucket: "site-b".into(),
        };
        assert_eq!(
            request("Create", None, Some("site-b")).action(),
            Ok(publish.clone())
        );
        assert_eq!(
            request("Update", Some("s3://site-b"), Some("site-b")).action(),
            Ok(publish)
        );
        assert_eq!(
            request("Delete", Some("s3://site-b"), Some("site-b")).action(),
            Ok(Action::Empty {
                bucket: "site-b".into()
            })
        );
        assert_eq!(
            request("Delete", Some("SiteContent"), None).action(),
            Ok(Action::Nothing)
        );
        assert!(request("Create", None, None).action().is_err());
    }

    #[test]
    fn the_answer_names_the_request_and_the_bucket_as_cloudformation_expects() {
        let create = request("Create", None, Some("site-b"));
        let body = serde_json::to_value(create.response(&Ok("put 9 objects".into()))).unwrap();
        assert_eq!(
            body,
            json!({
                "Status": "SUCCESS",
                "Reason": "put 9 objects",
                "PhysicalResourceId": "s3://site-b",
                "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/vetted/guid",
                "RequestId": "req-1",
                "LogicalResourceId": "SiteContent"
            })
        );
        // A Delete echoes the id it was given, even if the properties name another bucket.
        let delete = request("Delete", Some("s3://old-site"), Some("site-b"));
        let failed = delete.response(&Err("AccessDenied".into()));
        assert_eq!(failed.status, Status::Failed);
        assert_eq!(failed.physical_resource_id, "s3://old-site");
        // A failed Create without a bucket still answers with an id.
        let broken = request("Create", None, None).response(&Err("no bucket".into()));
        assert_eq!(broken.physical_resource_id, "SiteContent");
    }

    #[test]
    fn a_long_reason_is_cut_to_fit_cloudformations_limit() {
        let long = "é".repeat(3000);
        let answer = request("Create", None, Some("b")).response(&Err(long));
        assert!(answer.reason.len() <= MAX_REASON_BYTES + 3);
        assert!(serde_json::to_vec(&answer).unwrap().len() < 4096);
    }
}
