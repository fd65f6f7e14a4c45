//! `FsObjectStore`: the object store port over a directory, with atomic writes.
//!
//! # Keys to paths
//!
//! Each `/`-separated segment of a key becomes one path component, percent-encoded so that
//! only `A-Z a-z 0-9 - _` pass through: `.`, `..`, separators, `%` and `~` never appear raw, so
//! no component is ever `.` or `..` and none can hold a separator. An empty segment becomes
//! `~`, and a segment whose encoding would be longer than [`MAX_COMPONENT`] becomes `~` plus
//! the SHA-256 of the segment; neither form can come out of the encoder. The last segment gets
//! the suffix `.obj` (never produced by the encoder either, as `.` is encoded), so that
//! `incoming/x` (the file `incoming/x.obj`) and `incoming/x/y` (in the directory `incoming/x`)
//! coexist as they do in S3. Every key therefore names exactly one file under the root, and no
//! two keys name the same one. The filesystem is assumed to be case-sensitive (Linux).
//!
//! # One file per object: data, then metadata
//!
//! An object file is the object's bytes followed by a trailer: the metadata as JSON (size,
//! content type, ETag), its length as a little-endian `u64`, and the magic `VETTOBJ1`. Data
//! and metadata are written to one temporary file and published with one `rename`, so they
//! can never disagree, whenever the process dies; a reader opens the file once and reads both
//! from that one inode, so an overwrite during a read cannot mix versions either. Ranged reads
//! start at offset 0 of the file and read only the bytes asked for. A sidecar file would need
//! two renames and leave a window in which a kill pairs new metadata with old bytes.
//!
//! # Atomic, durable writes
//!
//! Write the temporary file in the target's directory (so the rename stays on one
//! filesystem), hashing as it goes; fsync it; rename it over the target; fsync the directory.
//! A file the caller gives up (`adopt_file`: the upload endpoint's spool) is not copied: its
//! trailer is appended, it is fsynced and renamed into place from where it is, and the
//! target's directory is fsynced; that is one new file per upload instead of two, and the
//! same two fsyncs. Only on another filesystem are its bytes copied as above.
//! Directories created on the way are fsynced into their parents. Temporary files are named
//! `.<random>.tmp`: a name no key maps to, so one left by a crash is never visible as an
//! object (remove strays with [`FsObjectStore::remove_temp_files`] at start-up if you like).
//! Deleting leaves empty directories behind: removing them would race with a concurrent put
//! creating its temporary file there.
//!
//! ETags are the quoted hex SHA-256 of the content. Every write gets a fresh version id, kept
//! in the trailer; only the latest write is kept, so reading an older version is
//! `VersionGone`, and deleting one that is no longer there does nothing.

mod layout;
mod object_file;

use std::fs::File;
use std::io::{self, Read};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use vetted_core::ObjectKey;
use vetted_core::ports::{BackendError, ObjectMeta, ObjectStore, StoreError};

pub use layout::{MAX_COMPONENT, object_path};
pub use object_file::CorruptObject;
use object_file::{Failure, adopt_object, open_object, read_range, write_object};

/// Objects as files under one root directory.
#[derive(Debug, Clone)]
pub struct FsObjectStore {
    root: Arc<PathBuf>,
}

impl FsObjectStore {
    /// A store rooted at `root`, created if it does not exist.
    pub fn new(root: impl Into<PathBuf>) -> io::Result<Self> {
        let root = root.into();
        std::fs::create_dir_all(&root)?;
        Ok(Self {
            root: Arc::new(root),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file that holds `key`.
    pub fn path_of(&self, key: &ObjectKey) -> PathBuf {
        object_path(&self.root, key)
    }

    /// Removes temporary files that a killed process left behind; returns how many. Run it
    /// before serving: a put in progress would lose its temporary file.
    pub fn remove_temp_files(&self) -> io::Result<usize> {
        layout::remove_temp_files(&self.root)
    }

    /// Deletes quarantined objects (keys under `quarantine/`) written more than `retention`
    /// ago, as the bucket's lifecycle rule does on AWS; answers how many. Blocking: call it
    /// from a blocking task.
    pub fn remove_quarantined_older_than(
        &self,
        retention: std::time::Duration,
    ) -> io::Result<usize> {
        let cutoff = std::time::SystemTime::now()
            .checked_sub(retention)
            .unwrap_or(std::time::UNIX_EPOCH);
        layout::remove_quarantined_before(&self.root, cutoff)
    }

    /// Runs `work` on the blocking pool and maps its failure for `operation` on `key`.
    async fn blocking<R: Send + 'static>(
        &self,
        operation: &'static str,
        key: &ObjectKey,
        work: impl FnOnce(&Path, PathBuf) -> Result<R, Failure> + Send + 'static,
    ) -> Result<R, StoreError> {
        let (root, path) = (Arc::clone(&self.root), self.path_of(key));
        tokio::task::spawn_blocking(move || work(&root, path))
            .await
            .map_err(|e| StoreError::Backend(BackendError::permanent(operation, e)))?
            .map_err(|f| f.into_store_error(operation, key))
    }
}

#[async_trait]
impl ObjectStore for FsObjectStore {
    async fn head(&self, key: &ObjectKey) -> Result<ObjectMeta, StoreError> {
        self.blocking("fs.head", key, |_, path| {
            Ok(open_object(&path)?.trailer.meta())
        })
        .await
    }

    async fn get_range(&self, key: &ObjectKey, range: Range<u64>) -> Result<Bytes, StoreError> {
        self.blocking("fs.get_range", key, move |_, path| {
            read_range(&open_object(&path)?, range)
        })
        .await
    }

    async fn get(&self, key: &ObjectKey) -> Result<Bytes, StoreError> {
        self.blocking("fs.get", key, |_, path| {
            read_range(&open_object(&path)?, 0..u64::MAX)
        })
        .await
    }

    async fn get_range_of_version(
        &self,
        key: &ObjectKey,
        version: &str,
        range: Range<u64>,
    ) -> Result<Bytes, StoreError> {
        let wanted = version.to_owned();
        self.blocking("fs.get_range_of_version", key, move |_, path| {
            let opened = open_object(&path)?;
            if opened.trailer.version() != wanted {
                return Err(Failure::OtherVersion);
            }
            read_range(&opened, range)
        })
        .await
        .map_err(|e| e.for_version(key, version))
    }

    async fn get_version(&self, key: &ObjectKey, version: &str) -> Result<Bytes, StoreError> {
        self.get_range_of_version(key, version, 0..u64::MAX).await
    }

    async fn put(
        &self,
        key: &ObjectKey,
        body: Bytes,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let content_type = content_type.to_owned();
        self.blocking("fs.put", key, move |root, path| {
            write_object(root, &path, &body[..], &content_type)
        })
        .await
    }

    async fn put_file(
        &self,
        key: &ObjectKey,
        source: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let (source, content_type) = (source.to_path_buf(), content_type.to_owned());
        self.blocking("fs.put_file", key, move |root, path| {
            // A missing source is the caller's error, not a missing object.
            let file = File::open(&source).map_err(Failure::Io)?;
            write_object(root, &path, file, &content_type)
        })
        .await
    }

    /// Appends the trailer to the caller's file and renames it into place: no second file,
    /// no copy of the bytes (see [`adopt_object`]).
    async fn adopt_file(
        &self,
        key: &ObjectKey,
        source: &Path,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let (source, content_type) = (source.to_path_buf(), content_type.to_owned());
        self.blocking("fs.adopt_file", key, move |root, path| {
            adopt_object(root, &path, &source, &content_type)
        })
        .await
    }

    async fn copy(
        &self,
        from: &ObjectKey,
        to: &ObjectKey,
        content_type: &str,
    ) -> Result<ObjectMeta, StoreError> {
        let (content_type, target) = (content_type.to_owned(), self.path_of(to));
        self.blocking("fs.copy", from, move |root, source| {
            let opened = open_object(&source)?;
            let data = (&opened.file).take(opened.trailer.size);
            write_object(root, &target, data, &content_type)
        })
        .await
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.blocking("fs.delete", key, |root, path| remove(root, &path))
            .await
    }

    async fn delete_version(&self, key: &ObjectKey, version: &str) -> Result<(), StoreError> {
        let wanted = version.to_owned();
        self.blocking("fs.delete_version", key, move |root, path| {
            // The write lock of a put is the rename; a put landing between this check and the
            // removal would be removed with it. Deletes of one version race only with a
            // replayed upload of the same key, which is what they remove.
            match open_object(&path) {
                Ok(opened) if opened.trailer.version() == wanted => remove(root, &path),
                Ok(_) | Err(Failure::Missing) => Ok(()),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The file store keeps only the latest write of a key, so that is every version.
    async fn delete_all_versions(&self, key: &ObjectKey) -> Result<(), StoreError> {
        self.blocking("fs.delete_all_versions", key, |root, path| {
            remove(root, &path)
        })
        .await
    }
}

/// Removes an object file and makes the removal durable; a missing one is already removed.
fn remove(root: &Path, path: &Path) -> Result<(), Failure> {
    match std::fs::remove_file(path) {
        Ok(()) => {
            File::open(path.parent().unwrap_or(root))?.sync_all()?;
            Ok(())
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(Failure::Io(e)),
    }
}
