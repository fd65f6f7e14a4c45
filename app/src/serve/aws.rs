//! The AWS backend: the same workers and APIs over S3, DynamoDB, SQS, Step Functions and
//! EventBridge, on AWS or on an emulator. The workers long-poll SQS, as the Lambda event
//! source mappings would.
//!
//! Owner emails go through SES from `[mail] from`, fed by the notify queue that an EventBridge
//! rule fills with the outcome events.
//!
//! Against an emulator (`--endpoint-url`), serve creates what it needs with the same
//! idempotent bootstrap `vetted aws bootstrap` runs. Against AWS itself it creates nothing:
//! `--resources FILE` names what the SAM stack created.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use vetted_api::auth::DevKey;
use vetted_aws::bootstrap::{BootstrapOptions, Resources, bootstrap};
use vetted_aws::config::AwsContext;
use vetted_aws::presign::S3Presigner;
use vetted_aws::ses::{SesMailer, ensure_identity};
use vetted_core::ports::{Mailer, Notifications, Webhooks, WorkQueue};
use vetted_core::presign::{BucketEndpoint, S3Target};

use super::pipeline::{Backend, Pipeline, REVIEW_ASL};

pub struct AwsTarget<'a> {
    pub endpoint_url: Option<&'a str>,
    pub resources_file: Option<&'a Path>,
    pub prefix: &'a str,
    /// Holds the dev key, so `vetted token --data` works against this server too.
    pub data: &'a Path,
    /// `[mail] from`: the SES identity owner emails are sent from; none sent without it.
    pub mail_from: Option<&'a str>,
}

pub async fn build(target: AwsTarget<'_>) -> anyhow::Result<Pipeline> {
    let mut builder = AwsContext::builder();
    if let Some(url) = target.endpoint_url {
        builder = builder.endpoint_url(url);
        // Emulators accept any key; without one the SDK would look for instance credentials.
        if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() {
            builder = builder.static_credentials("test", "test");
        }
    }
    let ctx = builder.load().await;
    let resources = match (target.resources_file, target.endpoint_url) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?;
            serde_json::from_str::<Resources>(&text)
                .with_context(|| format!("{} is not a resources file", file.display()))?
        }
        (None, Some(_)) => bootstrap(&ctx, &BootstrapOptions::new(target.prefix, REVIEW_ASL))
            .await
            .context("creating the pipeline's resources on the emulator")?,
        (None, None) => bail!(
            "--backend aws needs --resources FILE (the SAM stack's names) or --endpoint-url \
             (an emulator, where serve creates what it needs)"
        ),
    };
    let region = ctx
        .sdk_config()
        .region()
        .map_or_else(|| "us-east-1".to_owned(), ToString::to_string);
    let endpoint = BucketEndpoint::choose(false, target.endpoint_url)?;
    let signer = S3Presigner::new(
        ctx.sdk_config(),
        S3Target::new(&resources.bucket, &region, endpoint)?,
    )?;
    std::fs::create_dir_all(target.data)?;
    let notifications = resources
        .notifications(&ctx)
        .map(|store| Arc::new(store) as Arc<dyn Notifications>);
    let notify_queue = resources
        .notify
        .as_ref()
        .map(|urls| Arc::new(resources.queue(&ctx, urls)) as Arc<dyn WorkQueue>);
    let mailer = match target.mail_from {
        Some(from) => {
            if target.endpoint_url.is_some() {
                // On an emulator the identity is made here; on AWS its owner verifies it.
                let address = from
                    .rsplit_once('<')
                    .map_or(from, |(_, rest)| rest.trim_end_matches('>'));
                ensure_identity(&ctx.sesv2(), address)
                    .await
                    .context("creating the SES identity on the emulator")?;
            }
            Some(Arc::new(SesMailer::new(ctx.sesv2(), from)) as Arc<dyn Mailer>)
        }
        None => None,
    };
    Ok(Pipeline {
        uploads: Arc::new(resources.uploads(&ctx)),
        restaurants: Arc::new(resources.restaurants(&ctx)),
        audit: Arc::new(resources.audit(&ctx)),
        banned: Arc::new(resources.banned(&ctx)),
        objects: Arc::new(resources.object_store(&ctx)),
        workflow: Arc::new(resources.workflow(&ctx)),
        events: Arc::new(resources.event_sink(&ctx)),
        signer: Arc::new(signer),
        multipart: Arc::new(resources.multipart(&ctx)),
        intake_queue: Arc::new(resources.queue(&ctx, &resources.intake)),
        sanitize_queue: Arc::new(resources.queue(&ctx, &resources.sanitize)),
        review_tasks_queue: Arc::new(resources.queue(&ctx, &resources.review_tasks)),
        bucket: resources.bucket.clone(),
        dev_key: DevKey::load_or_create(target.data).context("dev key")?,
        notifications,
        mailer,
        notify_queue,
        backend: Backend::Aws {
            endpoint_url: target.endpoint_url.map(str::to_owned),
            webhooks: resources
                .webhooks(&ctx)
                .map(|store| Arc::new(store) as Arc<dyn Webhooks>),
        },
    })
}
