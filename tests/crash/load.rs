//! The owners' side of the crash test: several uploads in flight at once, each asked for
//! through the API and sent with the presigned POST (or PUT) it returns, through the real
//! upload endpoint, as a browser does.
//!
//! When the server dies under a request, the client does what a browser page does after an
//! error: it asks for a new upload and sends the file again, to whatever address the server
//! answers at now (a restarted server listens on a new port, and presigned URLs still name the
//! old one). Only an answer of 201 (POST) or 200 (PUT) from the endpoint counts as accepted.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use crate::jobs::Job;
use crate::support::client::{Api, Grant};

/// Everything the clients, the moderators and the checks share.
pub struct Run {
    pub api: Api,
    base: RwLock<String>,
    pub jobs: Vec<Job>,
    /// (name, token) of each owner; a job's `owner` indexes it.
    pub owners: Vec<(String, String)>,
    /// (name, token) of the two moderators.
    pub moderators: [(String, String); 2],
    next_job: AtomicUsize,
    /// Jobs with an index below this may start; the test opens the gate round by round.
    allowed: AtomicUsize,
    stop: AtomicBool,
    /// Every upload id the API granted, with its job: accepted or not.
    pub granted: Mutex<HashMap<String, usize>>,
    /// The accepted upload of each job.
    pub accepted: Mutex<BTreeMap<usize, String>>,
    /// Requests that died with the server, and new uploads asked for after one.
    pub lost_requests: AtomicUsize,
    pub reuploads: AtomicUsize,
    /// Answers no client should ever get; the test fails on any.
    pub surprises: Mutex<Vec<String>>,
}

impl Run {
    pub fn new(
        api: Api,
        base: String,
        jobs: Vec<Job>,
        owners: Vec<(String, String)>,
        moderators: [(String, String); 2],
    ) -> Run {
        Run {
            api,
            base: RwLock::new(base),
            jobs,
            owners,
            moderators,
            next_job: AtomicUsize::new(0),
            allowed: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            granted: Mutex::default(),
            accepted: Mutex::default(),
            lost_requests: AtomicUsize::new(0),
            reuploads: AtomicUsize::new(0),
            surprises: Mutex::default(),
        }
    }

    /// The server's current base URL.
    pub fn base(&self) -> String {
        self.base.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn set_base(&self, base: &str) {
        *self.base.write().unwrap_or_else(|p| p.into_inner()) = base.to_owned();
    }

    /// Lets jobs below `count` start.
    pub fn allow(&self, count: usize) {
        self.allowed
            .store(count.min(self.jobs.len()), Ordering::SeqCst);
    }

    pub fn accepted_count(&self) -> usize {
        lock(&self.accepted).len()
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    pub fn surprise(&self, what: String) {
        lock(&self.surprises).push(what);
    }

    /// The job of an upload the API granted.
    pub fn job_of(&self, upload_id: &str) -> Option<&Job> {
        let index = *lock(&self.granted).get(upload_id)?;
        self.jobs.get(index)
    }

    /// Whether the endpoint accepted this upload (201/200).
    pub fn is_accepted(&self, upload_id: &str) -> bool {
        lock(&self.accepted).values().any(|id| id == upload_id)
    }
}

pub fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One client: takes the next job the gate allows and sends it until accepted.
pub async fn client(run: Arc<Run>) {
    loop {
        if run.stopped() {
            return;
        }
        let index = run.next_job.load(Ordering::SeqCst);
        if index >= run.jobs.len() {
            return;
        }
        if index >= run.allowed.load(Ordering::SeqCst)
            || run
                .next_job
                .compare_exchange(index, index + 1, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        upload_until_accepted(&run, &run.jobs[index]).await;
    }
}

async fn upload_until_accepted(run: &Run, job: &Job) {
    let mut attempt = 0;
    while !run.stopped() {
        if attempt > 0 {
            run.reuploads.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        attempt += 1;
        let base = run.base();
        let (owner, token) = &run.owners[job.owner];
        let granted = run
            .api
            .request_upload(
                &base,
                token,
                &crate::owner_slot(owner),
                &job.file_name,
                job.content_type,
                job.bytes.len(),
                job.method,
            )
            .await;
        let grant = match granted {
            Ok(answer) if answer.status == 201 => Grant::parse(&answer.body),
            Ok(answer) if answer.status >= 500 => continue,
            Ok(answer) => {
                run.surprise(format!(
                    "job {}: POST /api/uploads answered {}: {}",
                    job.index, answer.status, answer.body
                ));
                return;
            }
            Err(_) => {
                run.lost_requests.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        lock(&run.granted).insert(grant.upload_id.clone(), job.index);
        let sent = run
            .api
            .send_file(&grant, &job.file_name, job.bytes.to_vec())
            .await;
        let accepted_status = if job.method == "post" { 201 } else { 200 };
        match sent {
            Ok(answer) if answer.status == accepted_status => {
                lock(&run.accepted).insert(job.index, grant.upload_id);
                return;
            }
            Ok(answer) if answer.status >= 500 => continue,
            Ok(answer) => {
                run.surprise(format!(
                    "job {} (upload {}): the endpoint answered {}: {}",
                    job.index, grant.upload_id, answer.status, answer.body
                ));
                return;
            }
            Err(_) => {
                run.lost_requests.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}
