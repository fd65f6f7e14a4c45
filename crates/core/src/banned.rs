//! The banned-content list: SHA-256 digests of files an admin has refused for good.
//!
//! A file whose digest is listed is rejected as `banned_content` before any moderator sees it:
//! by intake when the record already holds the digest (the client pinned it, or the store
//! reported it), else by the sanitize step, which hashes every byte it reads. The list applies
//! whatever a slot's `known_content` setting says. Admins manage it through
//! `/api/admin/banned`; each change is an audit entry.

use serde::{Deserialize, Serialize};

use crate::audit::MAX_NOTE_BYTES;
use crate::checksum::ContentSha256;
use crate::time::Timestamp;

/// One banned digest: why, who listed it, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BannedEntry {
    pub sha256: ContentSha256,
    /// Why, in the admin's words; at most [`MAX_NOTE_BYTES`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// The admin's user id.
    pub by: String,
    pub at: Timestamp,
}

impl BannedEntry {
    /// An entry, its note cut to [`MAX_NOTE_BYTES`] at a character boundary.
    pub fn new(sha256: ContentSha256, note: Option<&str>, by: &str, at: Timestamp) -> Self {
        let note = note.map(|note| {
            let mut end = note.len().min(MAX_NOTE_BYTES);
            while !note.is_char_boundary(end) {
                end -= 1;
            }
            note[..end].to_owned()
        });
        Self {
            sha256,
            note,
            by: by.to_owned(),
            at,
        }
    }
}
