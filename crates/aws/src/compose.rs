//! The one composition of the core's [`Ports`] over AWS: S3, DynamoDB and EventBridge, named
//! by the settings every function shares. Each function adds the role it needs beside them
//! (starting reviews, answering tasks, presigning).

use std::sync::Arc;

use vetted_core::media::MediaUrls;
use vetted_core::settings::{Env, SettingError};
use vetted_core::{Ports, SystemClock};

use crate::config::AwsContext;
use crate::dynamo::{DynamoRestaurants, DynamoUploads};
use crate::eventbridge::EventBridgeEventSink;
use crate::s3::S3ObjectStore;

/// The resources every function works on (`VETTED_BUCKET`, `VETTED_TABLE`,
/// `RESTAURANTS_TABLE`, `VETTED_EVENT_BUS` in the SAM template).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub bucket: String,
    /// The uploads table.
    pub table: String,
    pub restaurants_table: String,
    pub event_bus: String,
}

impl PipelineConfig {
    pub fn from_env(env: &Env) -> Result<Self, SettingError> {
        Ok(Self {
            bucket: env.required("VETTED_BUCKET")?,
            table: env.required("VETTED_TABLE")?,
            restaurants_table: env.required("RESTAURANTS_TABLE")?,
            event_bus: env.required("VETTED_EVENT_BUS")?,
        })
    }

    /// The ports over these resources, with the system clock.
    pub fn ports(&self, ctx: &AwsContext) -> Ports {
        Ports {
            uploads: Arc::new(DynamoUploads::new(ctx.dynamodb(), &self.table)),
            restaurants: Arc::new(DynamoRestaurants::new(
                ctx.dynamodb(),
                &self.restaurants_table,
            )),
            objects: Arc::new(S3ObjectStore::new(ctx.s3(), &self.bucket)),
            events: Arc::new(EventBridgeEventSink::new(
                ctx.eventbridge(),
                &self.event_bus,
            )),
            clock: Arc::new(SystemClock),
            media: MediaUrls::Unserved,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_resource_is_named() {
        let env = Env::from_pairs([
            ("VETTED_BUCKET", "b"),
            ("VETTED_TABLE", "t"),
            ("RESTAURANTS_TABLE", "r"),
        ]);
        let err = PipelineConfig::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable VETTED_EVENT_BUS is not set"
        );
    }
}
