//! [`SmtpMailer`]: SMTP via lettre on tokio with rustls.
//!
//! URL forms (lettre's, with one safety rule added): `smtps://user:pass@host:465` (TLS from the start),
//! `smtp://user:pass@host:587?tls=required` (STARTTLS), `smtp://host:25?tls=opportunistic`. A plain
//! `smtp://` URL without `tls` means STARTTLS required, unless the host is on loopback (a local relay),
//! so credentials and reset keys never cross a network in the clear by accident.

use crate::{MailSetupError, message};
use async_trait::async_trait;
use kontor_domain::customer::{Mail, MailError, Mailer};
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::fmt;

/// Sends each mail over one pooled SMTP transport.
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for logs; never the credentials.
    server: String,
}

impl fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl SmtpMailer {
    /// Builds the transport from `mail.smtp_url` and the sender `mail.from`. Nothing connects yet.
    pub fn new(smtp_url: &str, from: &str) -> Result<Self, MailSetupError> {
        let from = message::sender(from)?;
        let parsed =
            url::Url::parse(smtp_url.trim()).map_err(|error| MailSetupError::SmtpUrl(format!("not a URL: {error}")))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(MailSetupError::SmtpUrl("the scheme must be smtp or smtps".to_owned()));
        }
        let host = parsed
            .host_str()
            .ok_or_else(|| MailSetupError::SmtpUrl("the host is missing".to_owned()))?
            .to_owned();
        let url = with_default_tls(parsed);
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
            .map_err(|error| MailSetupError::SmtpUrl(error.to_string()))?
            .build();
        let port = url.port().map_or_else(String::new, |port| format!(":{port}"));
        Ok(Self {
            transport,
            from,
            server: format!("{host}{port}"),
        })
    }

    /// `host[:port]` of the server, for logs.
    pub fn server(&self) -> &str {
        &self.server
    }
}

/// Adds `tls=required` to a plain `smtp://` URL without a `tls` parameter whose host is not loopback.
fn with_default_tls(mut url: url::Url) -> url::Url {
    let has_tls = url.query_pairs().any(|(key, _)| key == "tls");
    let loopback = matches!(url.host_str(), Some("127.0.0.1" | "localhost" | "[::1]" | "::1"));
    if url.scheme() == "smtp" && !has_tls && !loopback {
        url.query_pairs_mut().append_pair("tls", "required");
    }
    url
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = message::build(&self.from, mail)?;
        self.transport
            .send(message)
            .await
            .map_err(|error| MailError::Transport(error.to_string()))?;
        tracing::debug!(server = %self.server, subject = %mail.subject, "mail sent");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_smtp_to_a_remote_host_requires_starttls() {
        let remote = with_default_tls(url::Url::parse("smtp://user:pw@mail.example.com:587").expect("url"));
        assert_eq!(remote.query(), Some("tls=required"));
        let explicit = with_default_tls(url::Url::parse("smtp://mail.example.com?tls=opportunistic").expect("url"));
        assert_eq!(explicit.query(), Some("tls=opportunistic"));
        let local = with_default_tls(url::Url::parse("smtp://127.0.0.1:2525").expect("url"));
        assert_eq!(local.query(), None);
        let wrapped = with_default_tls(url::Url::parse("smtps://mail.example.com").expect("url"));
        assert_eq!(wrapped.query(), None);
    }

    #[test]
    fn debug_output_hides_credentials() {
        let mailer =
            SmtpMailer::new("smtps://shop:hunter2@mail.example.com:465", "Shop <shop@example.com>").expect("builds");
        let shown = format!("{mailer:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert_eq!(mailer.server(), "mail.example.com:465");
    }

    #[test]
    fn unusable_urls_and_senders_are_refused() {
        assert!(matches!(
            SmtpMailer::new("http://mail.example.com", "shop@example.com"),
            Err(MailSetupError::SmtpUrl(_))
        ));
        assert!(matches!(
            SmtpMailer::new("smtp://mail.example.com", "not an address"),
            Err(MailSetupError::Sender(_))
        ));
        let error = SmtpMailer::new("smtps://shop:hunter2@", "shop@example.com").expect_err("no host");
        assert!(!error.to_string().contains("hunter2"), "{error}");
    }
}
