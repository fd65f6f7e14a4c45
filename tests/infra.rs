//! Ties `infra/template.yaml` to the code: the ASL placeholders and queues, one function per
//! crate under `functions/`, the queues workers read, the table the adapter queries, the CORS
//! rule against the headers a presigned PUT signs, the CloudFront front door against the
//! paths and pages of `vetted serve`, the webhooks rule, queue, function and role, the
//! metrics dashboard and alarms, and the parameter constraints that make bad input fail at deploy time. No AWS
//! account is needed: the template is read as data (cfn-lint and checkov check it as
//! CloudFormation).

#[path = "infra/cors.rs"]
mod cors;
#[path = "infra/front_door.rs"]
mod front_door;
#[path = "infra/functions.rs"]
mod functions;
#[path = "infra/metrics.rs"]
mod metrics;
#[path = "infra/notify.rs"]
mod notify;
#[path = "infra/parameters.rs"]
mod parameters;
#[path = "infra/queues.rs"]
mod queues;
#[path = "infra/storage.rs"]
mod storage;
#[path = "infra/template.rs"]
mod template;
#[path = "infra/webhooks.rs"]
mod webhooks;
#[path = "infra/workflow.rs"]
mod workflow;
