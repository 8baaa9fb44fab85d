//! Alert e-mail over SMTP (lettre, tokio, rustls): the transport from `SKW_SMTP_URL` and the
//! message of one incident.

use lettre::message::{header::ContentType, Mailbox};
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Each SMTP command's deadline: a server that stops answering fails the try, it does not
/// hold the alert loop.
pub const SMTP_TIMEOUT: Duration = Duration::from_secs(10);

pub type Transport = AsyncSmtpTransport<Tokio1Executor>;

/// The transport builder of an `smtp://` / `smtps://` URL (lettre's reading of it).
pub fn transport(url: &str) -> Result<AsyncSmtpTransportBuilder, lettre::transport::smtp::Error> {
    Ok(Transport::from_url(url)?.timeout(Some(SMTP_TIMEOUT)))
}

/// A sender like `SchedulingKit <alerts@example.com>` or `alerts@example.com`.
pub fn mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim()
        .parse::<Mailbox>()
        .map_err(|e| format!("`{s}` is not an e-mail address: {e}"))
}

/// Why an e-mail could not be sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("the message could not be built: {0}")]
    Build(String),
    #[error("SMTP: {0}")]
    Smtp(#[from] lettre::transport::smtp::Error),
    #[error("SMTP: no answer within {0:?}")]
    Timeout(Duration),
}

/// Sends one alert to `to` (the account's users).
pub async fn send(
    transport: &Transport,
    from: &Mailbox,
    to: &[String],
    text: &app::alerts::outbox::AlertText,
) -> Result<(), MailError> {
    let mut builder = Message::builder().from(from.clone()).subject(&text.subject);
    for r in to {
        builder = builder.to(mailbox(r).map_err(MailError::Build)?);
    }
    let message = builder
        .header(ContentType::TEXT_PLAIN)
        .body(text.body.clone())
        .map_err(|e| MailError::Build(e.to_string()))?;
    // Each command has its own deadline; the whole conversation gets a few of them.
    let whole = SMTP_TIMEOUT * 3;
    match tokio::time::timeout(whole, transport.send(message)).await {
        Ok(sent) => sent.map(drop).map_err(MailError::from),
        Err(_) => Err(MailError::Timeout(whole)),
    }
}
