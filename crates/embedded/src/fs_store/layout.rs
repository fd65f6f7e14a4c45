//! Where an object key lives under the store's root: a path that can never leave it.

use std::io;
use std::path::{Path, PathBuf};

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use sha2::{Digest, Sha256};
use vetted_core::ObjectKey;

/// Everything but `A-Z a-z 0-9 - _` is encoded: `.`, `%` and `~` included, so the encoder
/// never produces `.`, `..`, a separator, or the `~` and `.obj` forms used below.
const ENCODED: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_');

/// Longest encoded segment kept readable; longer ones are hashed (file names stop at 255 bytes).
pub const MAX_COMPONENT: usize = 200;

const OBJECT_SUFFIX: &str = ".obj";

/// One key segment as one path component.
fn component(segment: &str) -> String {
    if segment.is_empty() {
        return "~".to_owned();
    }
    let encoded = utf8_percent_encode(segment, ENCODED).to_string();
    if encoded.len() > MAX_COMPONENT {
        format!("~{}", hex::encode(Sha256::digest(segment.as_bytes())))
    } else {
        encoded
    }
}

/// The file under `root` that holds `key`.
pub fn object_path(root: &Path, key: &ObjectKey) -> PathBuf {
    let mut path = root.to_path_buf();
    let mut segments = key.as_str().split('/').peekable();
    while let Some(segment) = segments.next() {
        if segments.peek().is_some() {
            path.push(component(segment));
        } else {
            path.push(format!("{}{OBJECT_SUFFIX}", component(segment)));
        }
    }
    path
}

/// Whether a directory entry is a temporary file of an unfinished write.
fn is_temp(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// Walks the tree under `root` and removes every temporary file; returns how many.
pub(super) fn remove_temp_files(root: &Path) -> io::Result<usize> {
    let mut removed = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && entry.file_name().to_str().is_some_and(is_temp) {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

/// Removes the objects under the key prefix `quarantine/` whose file was last written before
/// `cutoff`; answers how many. Safe to run at any time and to interrupt: each object is one
/// file, removed whole.
pub(super) fn remove_quarantined_before(
    root: &Path,
    cutoff: std::time::SystemTime,
) -> io::Result<usize> {
    let top = root.join(component("quarantine"));
    let mut removed = 0;
    let mut pending = vec![top];
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in entries {
            let entry = entry?;
            let kind = entry.file_type()?;
            let is_object = entry
                .file_name()
                .to_str()
                .is_some_and(|name| name.ends_with(OBJECT_SUFFIX) && !is_temp(name));
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && is_object && entry.metadata()?.modified()? < cutoff {
                std::fs::remove_file(entry.path())?;
                removed += 1;
            }
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;
    use std::path::Component;

    use super::*;

    fn key(raw: &str) -> ObjectKey {
        ObjectKey::from_notification(raw)
            .or_else(|_| ObjectKey::parse(raw))
            .unwrap()
    }

    fn relative(raw: &str) -> PathBuf {
        let root = Path::new("/store");
        object_path(root, &key(raw))
            .strip_prefix(root)
            .unwrap()
            .to_path_buf()
    }

    #[test]
    fn safe_segments_stay_readable() {
        assert_eq!(
            relative("incoming/owner-1/0190f0c2-aaaa-7bbb-8ccc-0123456789ab"),
            Path::new("incoming/owner-1/0190f0c2-aaaa-7bbb-8ccc-0123456789ab.obj")
        );
    }

    #[test]
    fn no_key_yields_a_dot_component_or_leaves_the_root() {
        let hostile = [
            "incoming/..",
            "incoming/../..",
            "incoming/../../etc/passwd",
            "incoming/./x",
            "incoming//x",
            "incoming/x/",
            "incoming/x/.",
            "incoming/.../x",
            "incoming/..\\..\\x",
            "incoming/%2e%2e/x",
            "incoming/~/x",
            "incoming/x.obj/y",
            "incoming/a b/c+d",
            "incoming/é/x",
        ];
        for raw in hostile {
            let path = relative(raw);
            for part in path.components() {
                let Component::Normal(name) = part else {
                    panic!("{raw:?} maps to {path:?}, which has a {part:?} component");
                };
                let name = name.to_str().unwrap();
                assert!(
                    !name.is_empty() && !name.starts_with('.'),
                    "{raw:?}: {name:?}"
                );
                assert!(!name.contains(['/', '\\']), "{raw:?}: {name:?}");
            }
            assert_eq!(path.components().count(), raw.split('/').count(), "{raw:?}");
        }
    }

    #[test]
    fn distinct_keys_never_share_a_path() {
        let keys = [
            "incoming/x",
            "incoming/x/",
            "incoming//x",
            "incoming/./x",
            "incoming/x/.",
            "incoming/x.obj",
            "incoming/x/y",
            "incoming/x%2Fy",
            "incoming/x/y.obj",
            "incoming/~",
            "incoming/",
            "incoming/%7E",
            "incoming/X",
        ];
        let paths: HashSet<PathBuf> = keys.iter().map(|k| relative(k)).collect();
        assert_eq!(paths.len(), keys.len());
    }

    #[test]
    fn objects_and_directories_of_the_same_name_coexist() {
        let file = relative("incoming/x");
        let inside = relative("incoming/x/y");
        assert_eq!(inside.parent().unwrap(), Path::new("incoming/x"));
        assert_ne!(file, Path::new("incoming/x"));
    }

    #[test]
    fn long_segments_are_hashed_to_a_short_name() {
        let long = format!("incoming/{}", "é".repeat(500));
        let path = relative(&long);
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(name.len() <= MAX_COMPONENT + 4, "{} bytes", name.len());
        assert!(name.starts_with('~'));
        let other = relative(&format!("incoming/{}", "é".repeat(499)));
        assert_ne!(path, other);
    }

    #[test]
    fn temporary_files_are_never_object_files() {
        assert!(is_temp(".abc123.tmp"));
        for raw in ["incoming/.x.tmp", "incoming/x.tmp", "incoming/.tmp"] {
            let path = relative(raw);
            let name = path.file_name().unwrap().to_str().unwrap();
            assert!(
                !is_temp(name),
                "{raw:?} maps to a temporary-looking {name:?}"
            );
        }
    }
}
