//! The `[mail]` (outgoing SMTP for alerts) and `[mailbox]` (citizen mailbox limits and
//! retention) sections.

use serde::{Deserialize, Serialize};

use super::Secret;

/// How the SMTP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailTls {
    /// Plain SMTP, upgraded with STARTTLS (required), usually on port 587.
    #[default]
    Starttls,
    /// TLS from the first byte (SMTPS), usually on port 465.
    Tls,
    /// No encryption: only for a relay on the same host or a test listener.
    None,
}

/// Outgoing e-mail: where alerts are handed over for delivery.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MailConfig {
    /// The SMTP server's host name; empty means no e-mail is sent (alerts are recorded as
    /// not configured).
    pub smtp_host: String,
    /// The SMTP server's port.
    pub smtp_port: u16,
    /// `starttls`, `tls` or `none`.
    pub tls: MailTls,
    /// The SMTP user name, if the server wants one.
    pub username: Option<String>,
    /// The SMTP password.
    pub password: Option<Secret>,
    /// The sender of every e-mail, e.g. `clave <no-reply@id.example>`.
    pub from: String,
    /// Seconds one SMTP conversation may take.
    pub timeout_secs: u64,
}

impl Default for MailConfig {
    fn default() -> Self {
        Self {
            smtp_host: String::new(),
            smtp_port: 587,
            tls: MailTls::Starttls,
            username: None,
            password: None,
            from: "clave <no-reply@localhost>".into(),
            timeout_secs: 10,
        }
    }
}

impl MailConfig {
    /// Whether an SMTP server is configured.
    pub fn is_enabled(&self) -> bool {
        !self.smtp_host.trim().is_empty()
    }
}

/// The citizen mailbox's limits and retention.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(default)]
pub struct MailboxConfig {
    /// The most attachments one notice may carry.
    pub max_attachments: usize,
    /// The largest attachment, in bytes (decoded).
    pub max_attachment_bytes: usize,
    /// The longest subject, in characters.
    pub max_subject_chars: usize,
    /// The longest body, in characters.
    pub max_body_chars: usize,
    /// How far ahead a notice may be scheduled, in days.
    pub max_schedule_days: i64,
    /// Days a notice is kept after its delivery; 0 keeps notices for ever. Deleting one is
    /// journaled with its digest and its proof of notification.
    pub retention_days: i64,
}

impl Default for MailboxConfig {
    fn default() -> Self {
        Self {
            max_attachments: 5,
            max_attachment_bytes: 1024 * 1024,
            max_subject_chars: 200,
            max_body_chars: 20_000,
            max_schedule_days: 365,
            retention_days: 0,
        }
    }
}

/// Problems with the two sections.
pub(super) fn problems(mail: &MailConfig, mailbox: &MailboxConfig) -> Vec<String> {
    let mut problems = Vec::new();
    if mail.is_enabled() {
        if mail.smtp_port == 0 {
            problems.push("mail.smtp_port must not be 0".into());
        }
        if !mail.from.contains('@') {
            problems.push(format!(
                "mail.from {:?} must be an e-mail address such as `clave <no-reply@id.example>`",
                mail.from
            ));
        }
        if mail.password.is_some() && mail.username.is_none() {
            problems.push("mail.password is set but mail.username is not".into());
        }
    }
    if mail.timeout_secs == 0 {
        problems.push("mail.timeout_secs must be at least 1".into());
    }
    if mailbox.max_attachments > 100 {
        problems.push("mailbox.max_attachments must be at most 100".into());
    }
    if mailbox.max_attachment_bytes == 0 || mailbox.max_attachment_bytes > 64 * 1024 * 1024 {
        problems.push("mailbox.max_attachment_bytes must be between 1 and 67108864".into());
    }
    if mailbox.max_subject_chars == 0 || mailbox.max_body_chars == 0 {
        problems.push("mailbox.max_subject_chars and max_body_chars must be at least 1".into());
    }
    if mailbox.max_schedule_days < 0 || mailbox.retention_days < 0 {
        problems.push("mailbox.max_schedule_days and retention_days must not be negative".into());
    }
    problems
}
