//! The one composition of the core's [`Ports`] over AWS: S3, DynamoDB and EventBridge, named
//! by the settings every function shares, and where published images are served. Each
//! function adds the role it needs beside them (starting reviews, answering tasks,
//! presigning).

use std::sync::Arc;

use vetted_core::media::MediaUrls;
use vetted_core::settings::{Env, SettingError};
use vetted_core::{Ports, SystemClock};

use crate::config::AwsContext;
use crate::dynamo::{DynamoAudit, DynamoBanned, DynamoRestaurants, DynamoUploads};
use crate::eventbridge::EventBridgeEventSink;
use crate::s3::S3ObjectStore;

/// The resources every function works on (`VETTED_BUCKET`, `VETTED_TABLE`,
/// `VETTED_RESTAURANTS_TABLE`, `VETTED_EVENT_BUS` in the SAM template), and `VETTED_MEDIA_BASE_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineConfig {
    pub bucket: String,
    /// The uploads table.
    pub table: String,
    pub restaurants_table: String,
    pub event_bus: String,
    /// `VETTED_MEDIA_BASE_URL`, the CDN that serves `published/` (`https://cdn.example.com`):
    /// [`MediaUrls::Cdn`] when set and not blank, else [`MediaUrls::Unserved`] (no CDN, so
    /// published images have no public URL).
    pub media: MediaUrls,
}

impl PipelineConfig {
    pub fn from_env(env: &Env) -> Result<Self, SettingError> {
        Ok(Self {
            bucket: env.required("VETTED_BUCKET")?,
            table: env.required("VETTED_TABLE")?,
            restaurants_table: env.required("VETTED_RESTAURANTS_TABLE")?,
            event_bus: env.required("VETTED_EVENT_BUS")?,
            media: media_urls(env)?,
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
            audit: Arc::new(DynamoAudit::new(ctx.dynamodb(), &self.restaurants_table)),
            banned: Arc::new(DynamoBanned::new(ctx.dynamodb(), &self.restaurants_table)),
            media: self.media.clone(),
        }
    }
}

/// `VETTED_MEDIA_BASE_URL`: an `https://` (or, for a local stand-in, `http://`) URL that serves
/// `published/` at its root, or nothing. `Env` drops blank values, which is how the template
/// says "no CDN".
fn media_urls(env: &Env) -> Result<MediaUrls, SettingError> {
    const VAR: &str = "VETTED_MEDIA_BASE_URL";
    let Some(origin) = env.get(VAR) else {
        return Ok(MediaUrls::Unserved);
    };
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"))
        .ok_or_else(|| SettingError::invalid(VAR, origin, "must start with https://"))?;
    let host = rest.split('/').next().unwrap_or_default();
    if host.is_empty() || rest.contains(['?', '#']) || rest.contains(char::is_whitespace) {
        return Err(SettingError::invalid(
            VAR,
            origin,
            "must be a URL with a host and no query or fragment",
        ));
    }
    Ok(MediaUrls::Cdn {
        origin: origin.trim_end_matches('/').to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_resource_is_named() {
        let env = Env::from_pairs([
            ("VETTED_BUCKET", "b"),
            ("VETTED_TABLE", "t"),
            ("VETTED_RESTAURANTS_TABLE", "r"),
        ]);
        let err = PipelineConfig::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable VETTED_EVENT_BUS is not set"
        );
        let env = Env::from_pairs([
            ("VETTED_BUCKET", "b"),
            ("VETTED_TABLE", "t"),
            ("VETTED_EVENT_BUS", "e"),
        ]);
        let err = PipelineConfig::from_env(&env).unwrap_err();
        assert_eq!(
            err.to_string(),
            "environment variable VETTED_RESTAURANTS_TABLE is not set"
        );
    }

    fn with_media(value: &str) -> Result<PipelineConfig, SettingError> {
        PipelineConfig::from_env(&Env::from_pairs([
            ("VETTED_BUCKET", "b"),
            ("VETTED_TABLE", "t"),
            ("VETTED_RESTAURANTS_TABLE", "r"),
            ("VETTED_EVENT_BUS", "e"),
            ("VETTED_MEDIA_BASE_URL", value),
        ]))
    }

    #[test]
    fn a_media_base_url_means_a_cdn_and_none_means_unserved() {
        let config = with_media("https://d111111abcdef8.cloudfront.net/").unwrap();
        assert_eq!(config.restaurants_table, "r");
        assert_eq!(
            config.media,
            MediaUrls::Cdn {
                origin: "https://d111111abcdef8.cloudfront.net".to_owned()
            }
        );
        let behind_a_path = with_media("https://example.com/media/").unwrap();
        assert_eq!(
            behind_a_path.media,
            MediaUrls::Cdn {
                origin: "https://example.com/media".to_owned()
            }
        );
        // The template passes an empty string when the CDN is off.
        for off in ["", "  "] {
            assert_eq!(with_media(off).unwrap().media, MediaUrls::Unserved);
        }
    }

    #[test]
    fn a_media_base_url_that_is_not_an_origin_is_refused_by_name() {
        for bad in [
            "cdn.example.com",
            "https://",
            "https:///published",
            "ftp://cdn.example.com",
            "https://cdn.example.com?x=1",
        ] {
            let err = with_media(bad).unwrap_err().to_string();
            assert!(err.contains("VETTED_MEDIA_BASE_URL"), "{bad}: {err}");
        }
    }
}
