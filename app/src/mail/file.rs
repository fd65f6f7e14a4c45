//! `FileMailer`: owner emails as `.eml` files in a directory (`{data}/outbox-mail/`), for
//! `vetted serve` without SMTP settings. Any mail program opens them.
//!
//! Each file is written under a temporary name and renamed, so a reader never sees half a
//! message.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use lettre::message::Mailbox;
use vetted_core::ports::{BackendError, Email, MailError, Mailer};
use vetted_core::{Clock, SystemClock};

pub struct FileMailer {
    dir: PathBuf,
    from: Mailbox,
}

impl FileMailer {
    pub fn new(dir: &Path, from: Mailbox) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir)
            .map_err(|e| anyhow::anyhow!("creating {}: {e}", dir.display()))?;
        Ok(Self {
            dir: dir.to_owned(),
            from,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let bytes = super::message(&self.from, email)?.formatted();
        let mut random = [0u8; 6];
        getrandom::fill(&mut random)
            .map_err(|e| MailError::Backend(BackendError::retryable("mail.file", e.to_string())))?;
        let name = format!(
            "{}-{}.eml",
            SystemClock.now().unix_millis(),
            hex::encode(random)
        );
        let (dir, path) = (self.dir.clone(), self.dir.join(&name));
        tokio::task::spawn_blocking(move || {
            let mut tmp = tempfile::NamedTempFile::new_in(&dir)?;
            std::io::Write::write_all(&mut tmp, &bytes)?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok::<_, std::io::Error>(())
        })
        .await
        .map_err(|e| MailError::Backend(BackendError::retryable("mail.file", e)))?
        .map_err(|e| MailError::Backend(BackendError::retryable("mail.file", e)))?;
        Ok(())
    }
}
