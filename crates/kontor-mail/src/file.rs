//! [`FileMailer`]: every mail as one `.eml` file in a directory.

use crate::{MailSetupError, message};
use async_trait::async_trait;
use kontor_domain::customer::{Mail, MailError, Mailer};
use lettre::message::Mailbox;
use std::fmt;
use std::path::{Path, PathBuf};

/// Writes each mail to `<directory>/<UTC time>-<uuid>.eml`; the directory is created on first use.
/// File names sort by time of sending.
pub struct FileMailer {
    directory: PathBuf,
    from: Mailbox,
}

impl fmt::Debug for FileMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileMailer")
            .field("directory", &self.directory)
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl FileMailer {
    /// A mailer writing into `directory` with sender `from` (`Kontor Shop <shop@localhost>`).
    pub fn new(directory: impl Into<PathBuf>, from: &str) -> Result<Self, MailSetupError> {
        Ok(Self {
            directory: directory.into(),
            from: message::sender(from)?,
        })
    }

    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

#[async_trait]
impl Mailer for FileMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = message::build(&self.from, mail)?;
        let transport = |error: std::io::Error| MailError::Transport(error.to_string());
        tokio::fs::create_dir_all(&self.directory).await.map_err(transport)?;
        let name = format!(
            "{}-{}",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%6fZ"),
            uuid::Uuid::new_v4().simple()
        );
        let partial = self.directory.join(format!(".{name}.eml.tmp"));
        let complete = self.directory.join(format!("{name}.eml"));
        tokio::fs::write(&partial, message.formatted())
            .await
            .map_err(transport)?;
        tokio::fs::rename(&partial, &complete).await.map_err(transport)?;
        tracing::debug!(file = %complete.display(), subject = %mail.subject, "mail written");
        Ok(())
    }
}
