//! Building one plain-text RFC 5322 message from a [`Mail`], shared by both backends.

use crate::MailSetupError;
use kontor_domain::customer::{Mail, MailError};
use lettre::Message;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;

/// The parsed sender, checked once when a mailer is built.
pub(crate) fn sender(from: &str) -> Result<Mailbox, MailSetupError> {
    from.trim()
        .parse::<Mailbox>()
        .map_err(|error| MailSetupError::Sender(error.to_string()))
}

/// A UTF-8 plain-text message from `from` to the mail's recipient.
pub(crate) fn build(from: &Mailbox, mail: &Mail) -> Result<Message, MailError> {
    let to = mail
        .to
        .trim()
        .parse::<Mailbox>()
        .map_err(|error| MailError::Address(error.to_string()))?;
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(mail.subject.as_str())
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body.clone())
        .map_err(|error| MailError::Message(error.to_string()))
}
