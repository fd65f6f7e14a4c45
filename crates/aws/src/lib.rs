//! Adapters over the AWS SDK: S3, DynamoDB, SQS, Step Functions, EventBridge and SES.
//!
//! Each adapter implements one port of `vetted-core`; SDK types and errors stay inside this
//! crate, translated into the ports' error types with the cause kept as the source.

pub mod bootstrap;
pub mod cognito;
pub mod compose;
pub mod config;
pub mod dynamo;
pub mod errors;
pub mod eventbridge;
pub mod presign;
pub mod s3;
pub mod s3_multipart;
pub mod ses;
pub mod sfn;
pub mod sqs;
