//! Spooling an upload's body to a temporary file before it becomes an object.
//!
//! The file lives in the spool directory, is capped while it is written, and is handed to the
//! store by path ([`ObjectStore::adopt_file`](vetted_core::ports::ObjectStore::adopt_file)),
//! which may take the file itself: the file store appends its trailer and renames it into
//! place, so the spool directory should be on the store's filesystem (`vetted serve` keeps both
//! under its data directory). It is removed when dropped, if it is still there: on every error
//! path, on a client that disconnects mid-body (the handler's future is dropped), and after a
//! store that copied it. Files left by a killed process are swept at start-up by [`sweep`].

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use tempfile::TempPath;
use tokio::io::AsyncWriteExt;

use super::errors::{S3Error, S3ErrorCode};
use super::form::too_large;

/// Every spool file's name starts with this, so that a sweep removes only ours.
pub const SPOOL_PREFIX: &str = ".vetted-s3-spool-";

/// A temporary file being written, with a size cap and an optional SHA-256 of its content.
pub struct Spool {
    file: tokio::fs::File,
    path: TempPath,
    size: u64,
    cap: u64,
    hasher: Option<Sha256>,
}

/// A complete spool file, ready to be handed to the store. Dropping it removes the file.
#[derive(Debug)]
pub struct Spooled {
    path: TempPath,
    pub size: u64,
    /// Lowercase hex SHA-256 of the content, if it was asked for.
    pub sha256: Option<String>,
}

impl Spooled {
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Keeps the file, renamed to `to` (on the spool's filesystem), instead of removing it.
    pub fn persist(self, to: &Path) -> std::io::Result<()> {
        self.path.persist(to).map_err(|e| e.error)
    }
}

impl Spool {
    /// Creates an empty spool file in `dir`, refusing to hold more than `cap` bytes.
    pub async fn create(dir: &Path, cap: u64, hash: bool) -> Result<Self, S3Error> {
        let dir = dir.to_path_buf();
        let created = tokio::task::spawn_blocking(move || {
            tempfile::Builder::new()
                .prefix(SPOOL_PREFIX)
                .tempfile_in(dir)
        })
        .await
        .map_err(|e| S3Error::internal(&e))?
        .map_err(|e| S3Error::internal(&e))?;
        let (file, path) = created.into_parts();
        Ok(Self {
            file: tokio::fs::File::from_std(file),
            path,
            size: 0,
            cap,
            hasher: hash.then(Sha256::new),
        })
    }

    /// Appends a chunk; past the cap the upload is `EntityTooLarge` and nothing more is
    /// written.
    pub async fn write(&mut self, chunk: &[u8]) -> Result<(), S3Error> {
        let size = self.size.saturating_add(chunk.len() as u64);
        if size > self.cap {
            return Err(too_large(self.cap));
        }
        self.file
            .write_all(chunk)
            .await
            .map_err(|e| S3Error::internal(&e))?;
        if let Some(hasher) = &mut self.hasher {
            hasher.update(chunk);
        }
        self.size = size;
        Ok(())
    }

    /// Flushes the content and closes the file. Durability is the store's: `adopt_file` makes
    /// the object durable however it takes the file in.
    pub async fn finish(mut self) -> Result<Spooled, S3Error> {
        self.file.flush().await.map_err(|e| S3Error::internal(&e))?;
        Ok(Spooled {
            path: self.path,
            size: self.size,
            sha256: self.hasher.map(|h| hex::encode(h.finalize())),
        })
    }
}

/// Removes spool files left behind by a process that was killed mid-upload.
pub fn sweep(dir: &Path) -> std::io::Result<usize> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(SPOOL_PREFIX)
        {
            std::fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The spool files currently in `dir`; for tests and operators.
pub fn leftovers(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with(SPOOL_PREFIX)
        {
            found.push(entry.path());
        }
    }
    Ok(found)
}

/// `XAmzContentSHA256Mismatch` when the body is not what the signature promised.
pub fn check_sha256(spooled: &Spooled, expected: &str) -> Result<(), S3Error> {
    match &spooled.sha256 {
        Some(actual) if actual == expected => Ok(()),
        actual => Err(S3Error::new(
            S3ErrorCode::XAmzContentSHA256Mismatch,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
        .with("ClientComputedContentSHA256", expected)
        .with(
            "S3ComputedContentSHA256",
            actual.clone().unwrap_or_default(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_hashes_and_removes_its_file_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(dir.path(), 10, true).await.unwrap();
        spool.write(b"hello").await.unwrap();
        spool.write(b"world").await.unwrap();
        let spooled = spool.finish().await.unwrap();
        assert_eq!(spooled.size, 10);
        assert_eq!(std::fs::read(spooled.path()).unwrap(), b"helloworld");
        check_sha256(
            &spooled,
            "936a185caaa266bb9cbe981e9e05cb78cd732b0b3280eb944412bb6f8f8f07af",
        )
        .unwrap();
        assert_eq!(
            check_sha256(&spooled, &"0".repeat(64)).unwrap_err().code,
            S3ErrorCode::XAmzContentSHA256Mismatch
        );
        assert_eq!(leftovers(dir.path()).unwrap().len(), 1);
        drop(spooled);
        assert!(leftovers(dir.path()).unwrap().is_empty());
    }

    #[tokio::test]
    async fn the_cap_is_enforced_while_writing_and_the_file_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut spool = Spool::create(dir.path(), 8, false).await.unwrap();
        spool.write(b"12345").await.unwrap();
        let error = spool.write(b"6789").await.unwrap_err();
        assert_eq!(error.code, S3ErrorCode::EntityTooLarge);
        assert_eq!(error.detail("MaxSizeAllowed"), Some("8"));
        drop(spool);
        assert!(leftovers(dir.path()).unwrap().is_empty());
    }

    #[tokio::test]
    async fn sweep_removes_only_spool_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(format!("{SPOOL_PREFIX}abc")), b"x").unwrap();
        std::fs::write(dir.path().join("keep.me"), b"x").unwrap();
        assert_eq!(sweep(dir.path()).unwrap(), 1);
        assert!(dir.path().join("keep.me").exists());
    }
}
