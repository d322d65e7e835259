//! Outgoing e-mail over SMTP (through `lettre`), for alerts such as "a notice arrived in
//! your mailbox". The server never blocks a request on it: callers queue what to send and a
//! worker hands it to the configured SMTP server.

use std::time::Duration;

use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Mailbox, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailConfig, MailTls};

/// Why an e-mail could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// An address (the sender or the recipient) is not an e-mail address.
    #[error("{0:?} is not a usable e-mail address")]
    Address(String),
    /// The SMTP server cannot be used as configured.
    #[error("the SMTP server cannot be used: {0}")]
    Config(String),
    /// The message could not be put together.
    #[error("cannot build the message: {0}")]
    Message(String),
    /// The SMTP server refused the message or could not be reached.
    #[error("SMTP delivery failed: {0}")]
    Smtp(String),
}

/// A plain-text e-mail to one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient's address.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The text.
    pub body: String,
}

/// An SMTP sender built from the `[mail]` section.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    server: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mailer")
            .field("server", &self.server)
            .field("from", &self.from.to_string())
            .finish_non_exhaustive()
    }
}

impl Mailer {
    /// A mailer for `config`, or `None` when no SMTP server is configured.
    pub fn new(config: &MailConfig) -> Result<Option<Self>, MailError> {
        if !config.is_enabled() {
            return Ok(None);
        }
        let host = config.smtp_host.trim();
        let from: Mailbox = config
            .from
            .parse()
            .map_err(|_| MailError::Address(config.from.clone()))?;
        let builder = match config.tls {
            MailTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host),
            MailTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(host)
                .map_err(|e| MailError::Config(e.to_string()))?,
            MailTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(host)
                .map_err(|e| MailError::Config(e.to_string()))?,
        };
        let mut builder = builder
            .port(config.smtp_port)
            .timeout(Some(Duration::from_secs(config.timeout_secs.max(1))));
        if let Some(user) = &config.username {
            let password = config
                .password
                .as_ref()
                .map(|p| p.expose().to_owned())
                .unwrap_or_default();
            builder = builder.credentials(Credentials::new(user.clone(), password));
        }
        Ok(Some(Self {
            transport: builder.build(),
            from,
            server: format!("{host}:{}", config.smtp_port),
        }))
    }

    /// Sends `email`; the text goes base64-encoded as UTF-8 plain text.
    pub async fn send(&self, email: &Email) -> Result<(), MailError> {
        let to: Mailbox = email
            .to
            .parse()
            .map_err(|_| MailError::Address(email.to.clone()))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .singlepart(
                SinglePart::builder()
                    .header(ContentType::TEXT_PLAIN)
                    .header(ContentTransferEncoding::Base64)
                    .body(email.body.clone()),
            )
            .map_err(|e| MailError::Message(e.to_string()))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| MailError::Smtp(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_host_means_no_mailer() {
        assert!(Mailer::new(&MailConfig::default()).unwrap().is_none());
    }

    #[test]
    fn a_bad_sender_is_named() {
        let config = MailConfig {
            smtp_host: "127.0.0.1".into(),
            from: "nobody".into(),
            ..MailConfig::default()
        };
        let err = Mailer::new(&config).unwrap_err();
        assert!(err.to_string().contains("nobody"), "{err}");
    }
}
