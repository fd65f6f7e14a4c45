//! `FsObjectStore` on a real directory: keys that try to leave the root, crash leftovers,
//! failed and torn writes.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use vetted_core::ObjectKey;
use vetted_core::ports::{ObjectStore, StoreError};
use vetted_embedded::fs_store::FsObjectStore;

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let entry = entry.expect("directory entry");
            if entry.file_type().expect("file type").is_dir() {
                pending.push(entry.path());
            } else {
                found.push(entry.path());
            }
        }
    }
    found
}

fn stray(raw: &str) -> ObjectKey {
    ObjectKey::from_notification(raw).expect("a stray incoming key")
}

#[tokio::test]
async fn hostile_keys_write_only_inside_the_root() {
    let sandbox = tempfile::tempdir().unwrap();
    let root = sandbox.path().join("store");
    let outside = sandbox.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    let store = FsObjectStore::new(&root).unwrap();
    let hostile = [
        "incoming/../outside/x",
        "incoming/../../outside/x",
        "incoming/../../../outside/x",
        "incoming/./../../outside/x",
        "incoming/..\\..\\outside\\x",
        "incoming/%2e%2e/%2e%2e/outside/x",
        "incoming/..",
        "incoming/../..",
        "incoming//../outside/x",
    ];
    for raw in hostile {
        store
            .put(&stray(raw), Bytes::from_static(b"payload"), "image/png")
            .await
            .unwrap_or_else(|e| panic!("{raw:?}: {e}"));
        assert!(store.path_of(&stray(raw)).starts_with(&root), "{raw:?}");
    }
    assert!(files_under(&outside).is_empty(), "a write escaped the root");
    let everything = files_under(sandbox.path());
    assert_eq!(everything.len(), hostile.len(), "{everything:#?}");
    assert!(everything.iter().all(|f| f.starts_with(&root)));
    for raw in hostile {
        assert_eq!(&store.get(&stray(raw)).await.unwrap()[..], b"payload");
    }
}

#[tokio::test]
async fn temporary_files_left_by_a_crash_are_invisible_and_can_be_swept() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path()).unwrap();
    let key = stray("incoming/owner-1/photo");
    store
        .put(&key, Bytes::from_static(b"old"), "image/png")
        .await
        .unwrap();
    let object_dir = store.path_of(&key).parent().unwrap().to_path_buf();
    // What a write killed between creating and renaming its temporary file leaves.
    std::fs::write(object_dir.join(".a1b2c3.tmp"), b"half a new versi").unwrap();
    assert_eq!(&store.get(&key).await.unwrap()[..], b"old");
    for raw in ["incoming/owner-1/.a1b2c3.tmp", "incoming/owner-1/a1b2c3"] {
        assert!(matches!(
            store.head(&stray(raw)).await,
            Err(StoreError::NotFound(_))
        ));
    }
    assert_eq!(store.remove_temp_files().unwrap(), 1);
    assert_eq!(files_under(dir.path()), vec![store.path_of(&key)]);
}

#[tokio::test]
async fn a_failed_write_keeps_the_old_object_and_leaves_no_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path().join("store")).unwrap();
    let key = stray("incoming/owner-1/photo");
    let old = store
        .put(&key, Bytes::from_static(b"old bytes"), "image/png")
        .await
        .unwrap();
    // A directory opens, but reading it fails part-way into the write.
    let unreadable = dir.path().join("a-directory");
    std::fs::create_dir(&unreadable).unwrap();
    let result = store.put_file(&key, &unreadable, "image/jpeg").await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert_eq!(store.head(&key).await.unwrap(), old);
    assert_eq!(&store.get(&key).await.unwrap()[..], b"old bytes");
    assert_eq!(
        files_under(&dir.path().join("store")),
        vec![store.path_of(&key)]
    );
}

/// `adopt_file` on the same filesystem renames the caller's file into place: the object is
/// that very inode (no copy), the source name is gone, no temporary file is left, and the file
/// reads back as an object with its trailer, its SHA-256 ETag and a version.
#[tokio::test]
async fn an_adopted_file_is_renamed_into_place_not_copied() {
    use sha2::{Digest, Sha256};
    use std::os::unix::fs::MetadataExt;
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path().join("store")).unwrap();
    let spool = dir.path().join("spool");
    std::fs::create_dir(&spool).unwrap();
    let key = stray("incoming/owner-1/photo");
    let old = store
        .put(&key, Bytes::from_static(b"old bytes"), "image/png")
        .await
        .unwrap();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
    let source = spool.join("upload");
    std::fs::write(&source, &body).unwrap();
    let inode = std::fs::metadata(&source).unwrap().ino();

    let meta = store.adopt_file(&key, &source, "image/jpeg").await.unwrap();
    assert!(!source.exists(), "the source was renamed away");
    assert_eq!(std::fs::metadata(store.path_of(&key)).unwrap().ino(), inode);
    assert_eq!(
        meta.etag,
        format!("\"{}\"", hex::encode(Sha256::digest(&body)))
    );
    assert_ne!(meta.version, old.version);
    assert_eq!(&store.get(&key).await.unwrap()[..], &body[..]);
    assert_eq!(
        store
            .get_version(&key, meta.version.as_deref().unwrap())
            .await
            .unwrap(),
        body
    );
    let reopened = FsObjectStore::new(dir.path().join("store")).unwrap();
    assert_eq!(reopened.head(&key).await.unwrap(), meta);
    assert_eq!(
        files_under(&dir.path().join("store")),
        vec![store.path_of(&key)]
    );
}

/// A directory passed to `adopt_file` is refused, and the old object stays.
#[tokio::test]
async fn adopting_something_that_is_not_a_file_keeps_the_old_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path().join("store")).unwrap();
    let key = stray("incoming/owner-1/photo");
    let old = store
        .put(&key, Bytes::from_static(b"old bytes"), "image/png")
        .await
        .unwrap();
    let not_a_file = dir.path().join("a-directory");
    std::fs::create_dir(&not_a_file).unwrap();
    let result = store.adopt_file(&key, &not_a_file, "image/jpeg").await;
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    assert_eq!(store.head(&key).await.unwrap(), old);
    assert!(not_a_file.is_dir());
}

#[tokio::test]
async fn a_torn_or_foreign_file_is_an_error_not_an_object() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path()).unwrap();
    let key = stray("incoming/owner-1/photo");
    store
        .put(&key, Bytes::from(vec![7u8; 10_000]), "image/png")
        .await
        .unwrap();
    let path = store.path_of(&key);
    let whole = std::fs::read(&path).unwrap();
    for damaged in [
        whole[..whole.len() - 1].to_vec(),
        whole[..5000].to_vec(),
        Vec::new(),
        b"\x89PNG plain file, no trailer".to_vec(),
    ] {
        std::fs::write(&path, &damaged).unwrap();
        for result in [
            store.head(&key).await.map(drop),
            store.get(&key).await.map(drop),
            store.get_range(&key, 0..10).await.map(drop),
        ] {
            match result {
                Err(StoreError::Backend(e)) => assert!(!e.retryable),
                other => panic!("a damaged file of {} bytes gave {other:?}", damaged.len()),
            }
        }
    }
}

#[tokio::test]
async fn metadata_always_matches_the_bytes() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path()).unwrap();
    let key = stray("incoming/owner-1/photo");
    let body = Bytes::from((0..100_000u32).map(|i| (i % 251) as u8).collect::<Vec<_>>());
    let meta = store.put(&key, body.clone(), "image/webp").await.unwrap();
    let digest = format!("\"{}\"", hex::encode(Sha256::digest(&body)));
    assert_eq!(meta.etag, digest);
    assert!(meta.version.is_some(), "every write has a version");
    let reopened = FsObjectStore::new(dir.path()).unwrap();
    assert_eq!(reopened.head(&key).await.unwrap(), meta);
}

/// An object file written before versions existed has no version in its trailer: it reads
/// back with its ETag, unquoted, as its version, which is what intake recorded for it then,
/// so an upload claimed before the upgrade is still read by the version it recorded.
#[tokio::test]
async fn a_file_from_before_versions_reads_back_with_its_etag_as_its_version() {
    use sha2::{Digest, Sha256};
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path()).unwrap();
    let key = stray("incoming/owner-1/old-photo");
    let body = b"bytes written by an older vetted".to_vec();
    let etag = hex::encode(Sha256::digest(&body));
    let trailer = format!(
        r#"{{"size":{},"etag":"\"{etag}\"","content_type":"image/png"}}"#,
        body.len()
    );
    let mut file = body.clone();
    file.extend_from_slice(trailer.as_bytes());
    file.extend_from_slice(&(trailer.len() as u64).to_le_bytes());
    file.extend_from_slice(b"VETTOBJ1");
    let path = store.path_of(&key);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, file).unwrap();

    let meta = store.head(&key).await.unwrap();
    assert_eq!(meta.version.as_deref(), Some(etag.as_str()));
    assert_eq!(store.get_version(&key, &etag).await.unwrap(), body);
}

/// Quarantine retention on one machine: only quarantined objects written before the retention
/// period are deleted; newer ones and objects under other prefixes stay; a second run finds
/// nothing.
#[tokio::test]
async fn quarantined_objects_older_than_the_retention_are_deleted_and_nothing_else() {
    use std::time::{Duration, SystemTime};
    let dir = tempfile::tempdir().unwrap();
    let store = FsObjectStore::new(dir.path()).unwrap();
    let slot: vetted_core::SlotRef = "r1/logo".parse().unwrap();
    let key = |make: fn(&vetted_core::SlotRef, &vetted_core::UploadId) -> ObjectKey| {
        make(&slot, &vetted_core::UploadId::generate())
    };
    let (old, new, incoming) = (
        key(ObjectKey::quarantine),
        key(ObjectKey::quarantine),
        key(ObjectKey::incoming),
    );
    let forty_days_ago = SystemTime::now() - Duration::from_secs(40 * 86_400);
    for (key, age) in [
        (&old, Some(forty_days_ago)),
        (&new, None),
        (&incoming, Some(forty_days_ago)),
    ] {
        store
            .put(key, Bytes::from_static(b"x"), "application/octet-stream")
            .await
            .unwrap();
        if let Some(at) = age {
            std::fs::File::options()
                .write(true)
                .open(store.path_of(key))
                .unwrap()
                .set_modified(at)
                .unwrap();
        }
    }
    let retention = Duration::from_secs(30 * 86_400);
    assert_eq!(store.remove_quarantined_older_than(retention).unwrap(), 1);
    assert!(!store.path_of(&old).exists());
    assert!(store.path_of(&new).exists());
    assert!(
        store.path_of(&incoming).exists(),
        "only quarantine/ expires"
    );
    assert_eq!(store.remove_quarantined_older_than(retention).unwrap(), 0);
}
