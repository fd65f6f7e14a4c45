//! The ports behind the endpoint in these tests, in memory, so that the tests link no SQLite:
//! an object store that passes the `ObjectStore` contract suite, and a queue that records what
//! the endpoint sends (the endpoint only sends; delivery semantics are the adapters' business).

use std::collections::{HashMap, VecDeque};
use std::ops::Range;
use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use sha2::{Digest, Sha256};
use vetted_core::ObjectKey;
use vetted_core::ports::{
    BackendError, ObjectMeta, ObjectStore, QueueError, QueueMessage, QueueStats, Receipt,
    StoreError, WorkQueue,
};

#[derive(Debug, Clone)]
struct Stored {
    bytes: Bytes,
    meta: ObjectMeta,
}

/// Objects in a map; every write replaces the whole entry under the lock, so it is atomic.
#[derive(Debug, Default)]
pub struct MemoryObjectStore {
    objects: Mutex<HashMap<String, Stored>>,
}

impl MemoryObjectStore {
    fn objects(&self) -> std::sync::MutexGuard<'_, HashMap<String, Stored>> {
        // A panic while holding the lock is already a failed test; the map is still whole.
        self.objects
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn stored(&self, key: &ObjectKey) -> Result<Stored, StoreError> {
        self.objects()
            .get(key.as_str())
            .cloned()
            .ok_or_else(|| StoreError::NotFound(key.clone()))
    }

    /// The object at `key` if it is the write `version` names; `VersionGone` otherwise.
    fn stored_version(&self, key: &ObjectKey, version: &str) -> Result<Stored, StoreError> {
        self.stored(key)
            .ok()
            .filter(|stored| stored.meta.version.as_deref() == Some(version))
            .ok_or_else(|| StoreError::VersionGone {
                key: key.clone(),
                version: version.to_owned(),
            })
    }

    fn insert(&self, key: &ObjectKey, bytes: Bytes, content_type: &str) -> ObjectMeta {
        let meta = ObjectMeta {
            size: bytes.len() as u64,
            etag: format!("\"{}\"", hex::encode(Sha256::digest(&bytes))),
            version: Some(uuid::Uuid::now_v7().simple().to_string()),
            content_type: Some(content_type.to_owned()),
            sha256: Some(vetted_core::ContentSha256::of(&bytes)),
        };
        let stored = Stored {
            bytes,
            meta: meta.clone(),
        };
        self.objects().insert(key.as_str().to_owned(), stored);
        meta
    }
}

#[async_trait]
impl ObjectStore for MemoryObjectStore {
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        Ok(self.stored(key)?.meta)
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError> {
        Ok(clipped(self.stored(key)?.bytes, range))
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        Ok(self.stored(key)?.bytes)
    }

    async fn get_range_of_version(
        &self,
        key: &ObjectKey,
        version: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        Ok(clipped(self.stored_version(key, version)?.bytes, range))
    }

    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<Bytes, StoreError> {
        Ok(self.stored_version(key, version)?.bytes)
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        Ok(self.insert(key, body, content_type))
    }

    async fn put_file(
        &self,
        key: &ObjectKey,
        path: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| BackendError::permanent("memory.put_file", e))?;
        Ok(self.insert(key, bytes.into(), content_type))
    }

    async fn copy(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let bytes = self.stored(from)?.bytes;
        Ok(self.insert(to, bytes, content_type))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.objects().remove(key.as_str());
        Ok(())
    }

    async fn delete_version(&self, key: &ObjectKey, version: &str) -> Result<(), StoreError> {
        let mut objects = self.objects();
        if objects
            .get(key.as_str())
            .is_some_and(|stored| stored.meta.version.as_deref() == Some(version))
        {
            objects.remove(key.as_str());
        }
        Ok(())
    }

    async fn delete_all_versions(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.objects().remove(key.as_str());
        Ok(())
    }
}

/// The bytes of `range`, clipped to the object's end.
fn clipped(bytes: Bytes, range: Range<u64>) -> Bytes {
    let len = bytes.len() as u64;
    let (start, end) = (range.start.min(len), range.end.min(len));
    let clip = |at: u64| usize::try_from(at).unwrap_or(usize::MAX);
    bytes.slice(clip(start)..clip(end.max(start)))
}

/// Records every message sent; `receive` hands each out once, in order, and forgets it.
#[derive(Debug, Default)]
pub struct RecordingQueue {
    sent: Mutex<VecDeque<String>>,
}

fn unsupported(operation: &'static str) -> QueueError {
    BackendError::permanent(operation, "the recording queue only sends and receives").into()
}

#[async_trait]
impl WorkQueue for RecordingQueue {
    async fn send(&self, body: &str) -> Result<(), QueueError> {
        self.sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push_back(body.to_owned());
        Ok(())
    }

    async fn send_delayed(&self, _body: &str, _delay: Duration) -> Result<(), QueueError> {
        Err(unsupported("send_delayed"))
    }

    async fn receive(&self, max: u32, _wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let take = sent.len().min(max as usize);
        Ok(sent
            .drain(..take)
            .enumerate()
            .map(|(i, body)| QueueMessage {
                id: i.to_string(),
                receipt: Receipt(i.to_string()),
                body,
                receive_count: 1,
            })
            .collect())
    }

    async fn ack(&self, _receipt: &Receipt) -> Result<(), QueueError> {
        Err(unsupported("recording.ack"))
    }

    async fn retry_after(&self, _receipt: &Receipt, _delay: Duration) -> Result<(), QueueError> {
        Err(unsupported("recording.retry_after"))
    }

    async fn redrive(&self, _max: u32) -> Result<u32, QueueError> {
        Err(unsupported("recording.redrive"))
    }

    async fn stats(&self) -> Result<QueueStats, QueueError> {
        Err(unsupported("recording.stats"))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_memory_store_keeps_the_object_store_contract() {
    vetted_contract::objects::run_all(&MemoryObjectStore::default()).await;
}
