//! The object file format: the object's bytes, then a trailer with its metadata, written
//! through a temporary file (or a file the caller gives up) and a rename (see the `fs_store`
//! module docs for why).

use std::fs::File;
use std::io::{self, Read, Write};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use vetted_core::ports::{BackendError, ObjectMeta, StoreError};
use vetted_core::{ContentSha256, ObjectKey};

const MAGIC: &[u8; 8] = b"VETTOBJ1";
/// The trailer's fixed tail: the metadata length and the magic.
const TAIL: u64 = 16;
/// Metadata is a few hundred bytes; anything much larger is not one of our files.
const MAX_META: u64 = 64 * 1024;
const CHUNK: usize = 256 * 1024;

#[derive(Serialize, Deserialize)]
pub(super) struct Trailer {
    pub(super) size: u64,
    etag: String,
    content_type: String,
    /// A fresh id per write. Objects written before versions existed have none; their version
    /// is their ETag without quotes, which is what intake recorded for them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    version: Option<String>,
}

impl Trailer {
    /// The write this file holds.
    pub(super) fn version(&self) -> String {
        self.version
            .clone()
            .unwrap_or_else(|| self.etag.trim_matches('"').to_owned())
    }

    pub(super) fn meta(self) -> ObjectMeta {
        ObjectMeta {
            size: self.size,
            version: Some(self.version()),
            // The ETag is the quoted hex SHA-256 of the content.
            sha256: ContentSha256::from_hex(self.etag.trim_matches('"')).ok(),
            etag: self.etag,
            content_type: Some(self.content_type),
        }
    }
}

/// Why a file cannot be read as an object.
#[derive(Debug, thiserror::Error)]
#[error("{path} is not a valid object file: {why}")]
pub struct CorruptObject {
    path: PathBuf,
    why: &'static str,
}

/// An operation's outcome before it becomes a `StoreError`: missing, or an I/O failure.
pub(super) enum Failure {
    Missing,
    /// A read of one version found another write at the key.
    OtherVersion,
    Io(io::Error),
    Corrupt(CorruptObject),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound | io::ErrorKind::NotADirectory => Failure::Missing,
            _ => Failure::Io(e),
        }
    }
}

impl Failure {
    pub(super) fn into_store_error(self, operation: &'static str, key: &ObjectKey) -> StoreError {
        match self {
            // The caller of a versioned read turns this into `VersionGone`.
            Failure::Missing | Failure::OtherVersion => StoreError::NotFound(key.clone()),
            Failure::Corrupt(e) => StoreError::Backend(BackendError::permanent(operation, e)),
            Failure::Io(e) => {
                let transient = matches!(
                    e.kind(),
                    io::ErrorKind::Interrupted
                        | io::ErrorKind::WouldBlock
                        | io::ErrorKind::TimedOut
                        | io::ErrorKind::ResourceBusy
                        | io::ErrorKind::StorageFull
                );
                let e = BackendError {
                    operation,
                    retryable: transient,
                    source: Box::new(e),
                };
                StoreError::Backend(e)
            }
        }
    }
}

/// An object file opened for reading, with its trailer checked.
pub(super) struct Opened {
    pub(super) file: File,
    pub(super) trailer: Trailer,
}

pub(super) fn open_object(path: &Path) -> Result<Opened, Failure> {
    let corrupt = |why| {
        Failure::Corrupt(CorruptObject {
            path: path.to_path_buf(),
            why,
        })
    };
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len < TAIL {
        return Err(corrupt("shorter than its trailer"));
    }
    let mut tail = [0u8; TAIL as usize];
    file.read_exact_at(&mut tail, len - TAIL)?;
    let (meta_len, magic) = tail.split_at(8);
    if magic != MAGIC {
        return Err(corrupt("no trailer magic"));
    }
    let meta_len = u64::from_le_bytes(meta_len.try_into().map_err(|_| corrupt("tail"))?);
    if meta_len > MAX_META || meta_len + TAIL > len {
        return Err(corrupt("impossible metadata length"));
    }
    let mut meta = vec![0u8; meta_len as usize];
    file.read_exact_at(&mut meta, len - TAIL - meta_len)?;
    let trailer: Trailer =
        serde_json::from_slice(&meta).map_err(|_| corrupt("unreadable metadata"))?;
    if trailer.size + meta_len + TAIL != len {
        return Err(corrupt("size does not match the file"));
    }
    Ok(Opened { file, trailer })
}

pub(super) fn read_range(opened: &Opened, range: Range<u64>) -> Result<Bytes, Failure> {
    let end = range.end.min(opened.trailer.size);
    if range.start >= end {
        return Ok(Bytes::new());
    }
    let mut buf = vec![0u8; (end - range.start) as usize];
    opened.file.read_exact_at(&mut buf, range.start)?;
    Ok(buf.into())
}

/// Creates `dir` and any missing parents under `root`, fsyncing each new entry into its parent.
fn create_dirs(root: &Path, dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(root);
    if parent != dir {
        create_dirs(root, parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => File::open(parent)?.sync_all(),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// The trailer of a fresh write of `size` bytes hashing to `hasher`, as the bytes that follow
/// the data.
fn new_trailer(
    size: u64,
    hasher: Sha256,
    content_type: &str,
) -> Result<(Trailer, Vec<u8>), Failure> {
    let trailer = Trailer {
        size,
        etag: format!("\"{}\"", hex::encode(hasher.finalize())),
        content_type: content_type.to_owned(),
        version: Some(uuid::Uuid::now_v7().simple().to_string()),
    };
    let mut tail = serde_json::to_vec(&trailer).map_err(|e| Failure::Io(io::Error::other(e)))?;
    let meta_len = tail.len() as u64;
    tail.extend_from_slice(&meta_len.to_le_bytes());
    tail.extend_from_slice(MAGIC);
    Ok((trailer, tail))
}

/// Makes the file at `source`, which the caller gives up, the object at `target`: hashes it,
/// appends the trailer, fsyncs it, renames it over the target and fsyncs the target's
/// directory. One new inode per upload instead of two, and no copy of the bytes. A source on
/// another filesystem cannot be renamed; its bytes are then copied by [`write_object`].
///
/// The source's directory is not fsynced: if a crash undid the source's removal, its name
/// would come back as a second link to the object's inode, which the spool's sweep at start-up
/// unlinks, leaving the object whole.
pub(super) fn adopt_object(
    root: &Path,
    target: &Path,
    source: &Path,
    content_type: &str,
) -> Result<ObjectMeta, Failure> {
    // A missing source is the caller's error, not a missing object.
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(source)
        .map_err(Failure::Io)?;
    if !file.metadata().map_err(Failure::Io)?.is_file() {
        return Err(Failure::Io(io::Error::other("not a regular file")));
    }
    let (hasher, size) = hash_through(&mut file, io::sink())?;
    let (trailer, tail) = new_trailer(size, hasher, content_type)?;
    file.write_all_at(&tail, size).map_err(Failure::Io)?;
    file.sync_all().map_err(Failure::Io)?;
    let dir = target.parent().unwrap_or(root);
    create_dirs(root, dir)?;
    match std::fs::rename(source, target) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::CrossesDevices => {
            let data = File::open(source).map_err(Failure::Io)?.take(size);
            return write_object(root, target, data, content_type);
        }
        Err(e) => return Err(Failure::Io(e)),
    }
    File::open(dir)?.sync_all().map_err(Failure::Io)?;
    Ok(trailer.meta())
}

/// Reads `source` to its end, hashing it and writing it to `sink`; the hash and the size.
fn hash_through(mut source: impl Read, mut sink: impl Write) -> Result<(Sha256, u64), Failure> {
    let mut hasher = Sha256::new();
    let mut size = 0u64;
    let mut chunk = vec![0u8; CHUNK];
    loop {
        let n = match source.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Failure::Io(e)),
        };
        let read = chunk.get(..n).unwrap_or_default();
        hasher.update(read);
        sink.write_all(read).map_err(Failure::Io)?;
        size += n as u64;
    }
    Ok((hasher, size))
}

/// Writes `source` as the object at `target`: temporary file, fsync, rename, fsync directory.
pub(super) fn write_object(
    root: &Path,
    target: &Path,
    source: impl Read,
    content_type: &str,
) -> Result<ObjectMeta, Failure> {
    let dir = target.parent().unwrap_or(root);
    create_dirs(root, dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    let (hasher, size) = hash_through(source, &mut temp)?;
    let (trailer, tail) = new_trailer(size, hasher, content_type)?;
    temp.write_all(&tail).map_err(Failure::Io)?;
    temp.as_file().sync_all().map_err(Failure::Io)?;
    temp.persist(target).map_err(|e| Failure::Io(e.error))?;
    File::open(dir)?.sync_all().map_err(Failure::Io)?;
    Ok(trailer.meta())
}
