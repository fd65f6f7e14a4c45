//! The data directory the real binary makes is its user's alone: every file 0600 and every
//! directory 0700 (issue: "data files are created 0600 and directories 0700"), whatever the
//! umask of the shell that started it. This test's own umask is the usual 022, under which
//! SQLite would make its files 0644 if `vetted` did not set its own.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::support::client::Api;
use crate::support::process::{Server, token};

#[tokio::test]
async fn the_data_directory_and_everything_in_it_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let owner = token(&data, "owner-files", "owner").await;
    let server = Server::spawn(&data, &[]).await;
    // One request through the API, so that the database has been written, not just opened.
    let answer = Api::new()
        .http()
        .get(format!("{}/api/uploads", server.base))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let mut shared = Vec::new();
    let mut seen = 0;
    walk(&data, &mut |path, mode| {
        seen += 1;
        if mode & 0o077 != 0 {
            shared.push(format!("{} is {mode:o}", path.display()));
        }
    });
    assert!(seen >= 4, "only {seen} entries under {}", data.display());
    assert!(
        shared.is_empty(),
        "readable by others:\n{}",
        shared.join("\n")
    );
}

/// Calls `visit` with the permission bits of `root` and of everything under it.
fn walk(root: &Path, visit: &mut dyn FnMut(&Path, u32)) {
    let meta = std::fs::symlink_metadata(root).unwrap();
    visit(root, meta.permissions().mode() & 0o777);
    if meta.is_dir() {
        for entry in std::fs::read_dir(root).unwrap() {
            walk(&entry.unwrap().path(), visit);
        }
    }
}
