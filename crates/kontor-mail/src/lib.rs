//! Outgoing mail for Kontor (layer 3 adapter of the `kontor_domain::customer::Mailer` port).
//!
//! Two backends, chosen once from `mail.smtp_url` by [`from_settings`]:
//! - [`FileMailer`] (the embedded default): each mail becomes one RFC 5322 `.eml` file in a directory,
//!   `<data_dir>/mail/` by default, written under a temporary name and renamed, so a reader never sees
//!   half a file. Handy in development and tests: open the file, follow the link.
//! - [`SmtpMailer`]: SMTP through lettre on tokio with rustls (`smtps://` or STARTTLS; plain only to a
//!   relay on loopback).
//!
//! Mail bodies carry secrets such as password reset keys: nothing here logs a body, and `Debug` of the
//! mailers never shows credentials.

mod file;
mod message;
mod smtp;

pub use file::FileMailer;
pub use smtp::SmtpMailer;

use kontor_config::MailSettings;
use kontor_domain::customer::Mailer;
use std::path::Path;
use std::sync::Arc;

/// Why a mailer could not be set up from the configuration.
#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    /// `mail.from` is not a usable address.
    #[error("mail.from is not a valid sender address: {0}")]
    Sender(String),
    /// `mail.smtp_url` cannot be used; the message never contains the URL (it may hold a password).
    #[error("mail.smtp_url cannot be used: {0}")]
    SmtpUrl(String),
}

/// The mailer the configuration asks for: SMTP when `mail.smtp_url` is set, else `.eml` files in
/// `<data_dir>/mail/`.
pub fn from_settings(settings: &MailSettings, data_dir: &Path) -> Result<Arc<dyn Mailer>, MailSetupError> {
    if settings.smtp_url.trim().is_empty() {
        let mailer = FileMailer::new(data_dir.join("mail"), &settings.from)?;
        tracing::info!(directory = %mailer.directory().display(), "mail is written to files");
        Ok(Arc::new(mailer))
    } else {
        let mailer = SmtpMailer::new(&settings.smtp_url, &settings.from)?;
        tracing::info!(server = mailer.server(), "mail is sent over SMTP");
        Ok(Arc::new(mailer))
    }
}
