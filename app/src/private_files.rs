//! Data files readable by their owner only: `vetted serve` and `vetted token` create every
//! file 0600 and every directory 0700, whatever the shell's umask.
//!
//! The data directory holds the database (upload records, webhook secrets, restaurants), the
//! uploaded and published images and the dev signing key; none of it is for other users of
//! the machine. Setting the process umask covers every file any part creates (SQLite's
//! journal and WAL included) without each part having to remember.

use std::path::Path;

/// Makes every file and directory this process creates from now on private to its user.
pub fn create_private_files_from_now_on() {
    #[cfg(unix)]
    {
        use rustix::fs::Mode;
        rustix::process::umask(Mode::from_raw_mode(0o077));
    }
}

/// A warning for a data directory that others may read, made by an earlier version or by
/// hand: it is left as it is (it may be shared on purpose), but said.
pub fn warn_if_shared(dir: &Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(dir)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(
                dir = %dir.display(),
                mode = format_args!("{:o}", meta.permissions().mode() & 0o777),
                "the data directory can be read by other users; `chmod -R go-rwx` it unless \
                 that is meant"
            );
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
}
