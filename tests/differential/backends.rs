//! The two engines under comparison, behind one shape: a workflow, its two queues, and a way to
//! see an execution's result and the states it entered.
//!
//! - `moto`: Step Functions on the moto emulator, executing the ASL; resources from
//!   `vetted_aws::bootstrap`; results from `DescribeExecution` and `GetExecutionHistory`.
//! - `embedded`: the embedded engine on a fresh SQLite file with its runner, same ASL.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_sfn::types::{ExecutionStatus as SfnStatus, HistoryEventType};
use serde_json::Value;
use tokio::sync::watch;
use vetted_aws::bootstrap::{BootstrapOptions, bootstrap};
use vetted_aws::config::AwsContext;
use vetted_core::SystemClock;
use vetted_core::ports::{ReviewWorkflow, WorkQueue};
use vetted_embedded::db::Db;
use vetted_embedded::sqlite_queue::{QueueConfig, SqliteWorkQueue};
use vetted_embedded::workflow::{EmbeddedWorkflow, ExecutionStatus, substitute};

pub const REVIEW_ASL: &str = include_str!("../../statemachine/review.asl.json");

/// The tasks whose fixed `TimeoutSeconds` the scenarios shorten to [`TASK_TIMEOUT_SECONDS`].
const SHORTENED: [&str; 3] = ["Scan", "Sanitize", "Publish"];
/// Long enough for the scripted worker to answer in time on a loaded machine, short enough to
/// run the ASL's `States.Timeout` retries for real. At 3 s a CI run under load (the browser
/// tests beside it) answered too late: moto timed the answered attempt out and sent a third
/// `sanitize` after the decision, which no script expects.
pub const TASK_TIMEOUT_SECONDS: u64 = 8;

/// The review ASL as both engines run it here: the file, with the fixed timeouts of
/// [`SHORTENED`] set to [`TASK_TIMEOUT_SECONDS`] so that the retry scenarios take seconds,
/// not the 15 minutes of `Sanitize`. Nothing else changes.
pub fn review_asl() -> String {
    let mut asl: Value = serde_json::from_str(REVIEW_ASL).expect("the ASL is JSON");
    for state in SHORTENED {
        let timeout = asl
            .pointer_mut(&format!("/States/{state}/TimeoutSeconds"))
            .unwrap_or_else(|| panic!("{state} has no fixed TimeoutSeconds to shorten"));
        *timeout = TASK_TIMEOUT_SECONDS.into();
    }
    asl.to_string()
}

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// `SUCCEEDED` or `FAILED`.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

#[async_trait]
pub trait Observer: Send + Sync {
    /// `None` while the execution runs.
    async fn finished(&self, name: &str) -> Option<Finished>;
    /// The names of the states entered, in order.
    async fn entered(&self, name: &str) -> Vec<String>;
}

pub struct Backend {
    pub label: &'static str,
    pub workflow: Arc<dyn ReviewWorkflow>,
    pub sanitize: Arc<dyn WorkQueue>,
    pub review_tasks: Arc<dyn WorkQueue>,
    pub observer: Arc<dyn Observer>,
}

pub async fn moto(endpoint: &str, prefix: &str) -> Backend {
    let ctx = AwsContext::builder()
        .endpoint_url(endpoint)
        .region("us-east-1")
        .static_credentials("test", "test")
        .load()
        .await;
    let asl = review_asl();
    let mut options = BootstrapOptions::new(prefix, &asl);
    options.sanitize_visibility = Duration::from_secs(30);
    options.review_tasks_visibility = Duration::from_secs(30);
    let resources = bootstrap(&ctx, &options).await.expect("bootstrap on moto");
    let workflow = resources.workflow(&ctx);
    let machine = workflow.state_machine_arn().to_owned();
    Backend {
        label: "moto",
        sanitize: Arc::new(resources.queue(&ctx, &resources.sanitize)),
        review_tasks: Arc::new(resources.queue(&ctx, &resources.review_tasks)),
        workflow: Arc::new(workflow),
        observer: Arc::new(Sfn {
            client: ctx.sfn(),
            machine,
        }),
    }
}

struct Sfn {
    client: aws_sdk_sfn::Client,
    machine: String,
}

impl Sfn {
    fn arn(&self, name: &str) -> String {
        self.machine.replacen(":stateMachine:", ":execution:", 1) + ":" + name
    }
}

#[async_trait]
impl Observer for Sfn {
    async fn finished(&self, name: &str) -> Option<Finished> {
        let described = self
            .client
            .describe_execution()
            .execution_arn(self.arn(name))
            .send()
            .await
            .expect("DescribeExecution");
        let status = match described.status {
            SfnStatus::Running => return None,
            SfnStatus::Succeeded => "SUCCEEDED",
            SfnStatus::Failed => "FAILED",
            ref other => panic!("{name}: unexpected status {other:?}"),
        };
        Some(Finished {
            status: status.to_owned(),
            output: described
                .output
                .map(|o| serde_json::from_str(&o).expect("output is JSON")),
            error: described.error,
            cause: described.cause,
        })
    }

    async fn entered(&self, name: &str) -> Vec<String> {
        let mut entered = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let page = self
                .client
                .get_execution_history()
                .execution_arn(self.arn(name))
                .set_next_token(next.take())
                .send()
                .await
                .expect("GetExecutionHistory");
            for event in page.events {
                let is_entered = matches!(
                    event.r#type,
                    HistoryEventType::TaskStateEntered
                        | HistoryEventType::ChoiceStateEntered
                        | HistoryEventType::PassStateEntered
                        | HistoryEventType::SucceedStateEntered
                        | HistoryEventType::FailStateEntered
                );
                if is_entered && let Some(details) = event.state_entered_event_details {
                    entered.push(details.name);
                }
            }
            match page.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => return entered,
            }
        }
    }
}

pub const SANITIZE_URL: &str = "embedded://queues/sanitize";
pub const REVIEW_TASKS_URL: &str = "embedded://queues/review-tasks";

/// The embedded engine and its runner, until `stop` says true.
pub async fn embedded(dir: &std::path::Path, stop: watch::Receiver<bool>) -> Backend {
    let db = Db::open(dir.join("vetted.db")).await.expect("open db");
    let config = QueueConfig {
        visibility_timeout: Duration::from_secs(30),
        max_receives: 5,
    };
    let sanitize = Arc::new(SqliteWorkQueue::new(db.clone(), "sanitize", config));
    let review_tasks = Arc::new(SqliteWorkQueue::new(db.clone(), "review-tasks", config));
    let queues: HashMap<String, Arc<dyn WorkQueue>> = HashMap::from([
        (
            SANITIZE_URL.to_owned(),
            sanitize.clone() as Arc<dyn WorkQueue>,
        ),
        (
            REVIEW_TASKS_URL.to_owned(),
            review_tasks.clone() as Arc<dyn WorkQueue>,
        ),
    ]);
    let asl = substitute(
        &review_asl(),
        &[
            ("SanitizeQueueUrl", SANITIZE_URL),
            ("ReviewTasksQueueUrl", REVIEW_TASKS_URL),
        ],
    )
    .expect("substitute");
    let engine = EmbeddedWorkflow::open(db, &asl, queues, Arc::new(SystemClock))
        .await
        .expect("open engine");
    let runner = engine.clone();
    let mut stop = stop;
    tokio::spawn(async move {
        runner
            .run(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
    });
    Backend {
        label: "embedded",
        workflow: Arc::new(engine.clone()),
        sanitize,
        review_tasks,
        observer: Arc::new(Embedded(engine)),
    }
}

struct Embedded(EmbeddedWorkflow);

#[async_trait]
impl Observer for Embedded {
    async fn finished(&self, name: &str) -> Option<Finished> {
        let described = self
            .0
            .describe(name)
            .await
            .expect("describe")
            .expect("execution exists");
        let status = match described.status {
            ExecutionStatus::Running => return None,
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
        };
        Some(Finished {
            status: status.to_owned(),
            output: described.output,
            error: described.error,
            cause: described.cause,
        })
    }

    async fn entered(&self, name: &str) -> Vec<String> {
        self.0
            .history(name)
            .await
            .expect("history")
            .into_iter()
            .filter(|e| e.is_state_entered())
            .filter_map(|e| e.state)
            .collect()
    }
}
