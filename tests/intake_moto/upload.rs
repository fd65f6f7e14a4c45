//! A browser upload through a presigned POST form, from the bucket's notification to a verdict.

use std::time::Duration;

use vetted_aws::presign::S3Presigner;
use vetted_core::events::EventType;
use vetted_core::intake::execution_name;
use vetted_core::ports::{UploadGrant, UploadSigner};
use vetted_core::presign::{BucketEndpoint, FILE_FIELD, S3Target};
use vetted_core::{
    Clock, ImageType, ObjectKey, ReasonCode, Status, SystemClock, UploadId, UploadRecord,
};

use crate::events::EventTap;
use crate::support::{Pipeline, REGION, failed_ids};

/// Uploads `body` for `intent` as a browser does: a presigned POST form signed by our
/// presigner, fields first and the file last. (moto checks neither policy nor signature.)
async fn post_upload(pipeline: &Pipeline, intent: &UploadRecord, body: Vec<u8>, file_name: &str) {
    let target = S3Target::new(
        &pipeline.resources.bucket,
        REGION,
        BucketEndpoint::PathStyle {
            base_url: pipeline.endpoint.clone(),
        },
    )
    .unwrap();
    let presigner = S3Presigner::new(pipeline.ctx.sdk_config(), target).unwrap();
    let grant = UploadGrant {
        upload_id: intent.id,
        key: intent.key.clone(),
        content_type: intent.declared_type,
        length: 1..=intent.declared_size,
        sha256: None,
        now: SystemClock.now(),
        expires_in: Duration::from_secs(300),
    };
    let post = presigner.presign_post(&grant).await.unwrap();
    let boundary = format!("vetted-{}", UploadId::generate());
    let mut form = Vec::new();
    for (name, value) in &post.fields {
        form.extend(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n\
                 {value}\r\n"
            )
            .bytes(),
        );
    }
    form.extend(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"{FILE_FIELD}\"; \
             filename=\"{file_name}\"\r\nContent-Type: {}\r\n\r\n",
            intent.declared_type.mime()
        )
        .bytes(),
    );
    form.extend(body);
    form.extend(format!("\r\n--{boundary}--\r\n").bytes());
    // reqwest is built without a crypto provider of its own (see the workspace manifest):
    // give rustls ring, as the AWS SDK's client uses. Another test may have done it first.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let response = reqwest::Client::new()
        .post(&post.url)
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    assert_eq!(
        status.as_u16(),
        201,
        "the form asks for 201: {}",
        response.text().await.unwrap_or_default()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_png_is_received_and_its_review_starts() {
    let Some(pipeline) = Pipeline::start("post").await else {
        return;
    };
    let mut tap = EventTap::attach(&pipeline).await;
    let png = vetted_samples::images::png(320, 240);
    let intent = pipeline.intent(ImageType::Png, png.len() as u64).await;
    post_upload(&pipeline, &intent, png.clone(), "logo.png").await;

    let notification = pipeline.notifications(1).await;
    let response = pipeline.invoke(&notification).await;
    assert_eq!(failed_ids(&response), Vec::<String>::new());

    let record = pipeline.record(&intent.id).await;
    assert_eq!(record.status, Status::Received);
    assert_eq!(record.detected_type, Some(ImageType::Png));
    assert_eq!((record.width, record.height), (Some(320), Some(240)));
    assert_eq!(record.bytes, Some(png.len() as u64));
    let stored = pipeline
        .s3
        .head_object()
        .bucket(&pipeline.resources.bucket)
        .key(intent.key.as_str())
        .send()
        .await
        .unwrap();
    let version = stored.version_id.expect("the bucket is versioned");
    assert_eq!(record.object_version.as_deref(), Some(version.as_str()));

    let execution = execution_name(&intent.id, &version);
    assert_eq!(record.execution_name.as_ref(), Some(&execution));
    let workflow = pipeline.resources.workflow(&pipeline.ctx);
    let described = pipeline
        .sfn
        .describe_execution()
        .execution_arn(workflow.execution_arn(&execution).unwrap())
        .send()
        .await
        .expect("the execution named after the upload and its version exists");
    let input: serde_json::Value = serde_json::from_str(described.input().unwrap()).unwrap();
    assert_eq!(input["upload_id"], intent.id.to_string());
    // The review's first task, on the sanitize queue, is the malware scan.
    let task = pipeline.first_sanitize_task().await;
    assert_eq!(task["task"], "scan");
    assert_eq!(task["upload_id"], intent.id.to_string());

    let events = tap.events_for(&intent.id, 1).await;
    let types: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(types, [EventType::UploadReceived]);
    assert_eq!(events[0].width, Some(320));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn html_posted_as_a_png_is_rejected_and_quarantined() {
    let Some(pipeline) = Pipeline::start("spoof").await else {
        return;
    };
    let mut tap = EventTap::attach(&pipeline).await;
    let html = vetted_samples::hostile::html();
    let intent = pipeline.intent(ImageType::Png, html.len() as u64).await;
    post_upload(&pipeline, &intent, html.clone(), "logo.png").await;

    let notification = pipeline.notifications(1).await;
    let response = pipeline.invoke(&notification).await;
    assert_eq!(
        failed_ids(&response),
        Vec::<String>::new(),
        "a refused file is a verdict, not a failure"
    );

    let record = pipeline.record(&intent.id).await;
    assert_eq!(record.status, Status::Rejected);
    assert_eq!(record.reason, Some(ReasonCode::TypeNotAllowed));
    assert_eq!(record.execution_name, None);
    assert!(
        !pipeline.exists(intent.key.as_str()).await,
        "left incoming/"
    );
    let quarantined = ObjectKey::quarantine(&intent.target, &intent.id);
    assert!(
        pipeline.exists(quarantined.as_str()).await,
        "in quarantine/"
    );
    assert_eq!(
        pipeline.content_type(quarantined.as_str()).await.as_deref(),
        Some("application/octet-stream"),
        "never served as what it claimed to be"
    );
    assert!(pipeline.executions().await.is_empty(), "no review started");

    let events = tap.events_for(&intent.id, 2).await;
    let types: Vec<EventType> = events.iter().map(|e| e.event_type).collect();
    assert_eq!(types.len(), 2, "{types:?}");
    assert!(types.contains(&EventType::UploadReceived), "{types:?}");
    let rejected = events
        .iter()
        .find(|e| e.event_type == EventType::UploadRejected)
        .expect("upload.rejected was published");
    assert_eq!(rejected.reason, Some(ReasonCode::TypeNotAllowed));
}
