//! Why an attempt failed, as a type: the kind stored in `attempts.error_kind` (and shown on the
//! delivery page), whether it is tried again, and the message for people.
//!
//! Transport errors are classified from what reqwest, hyper, rustls and the address guard say
//! about themselves — reqwest's `is_timeout()` / `is_connect()` / `is_redirect()`, the error
//! types and `std::io::ErrorKind`s found by walking `source()` — never from their text.

use std::error::Error as StdError;
use std::io;

use app::queue::AttemptErrorKind;

use super::resolver::{Blocked, LookupFailed};

/// One failed attempt. The strings carried are the human message (the innermost error's text
/// for transport errors, as stored in `attempts.error_message`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptError {
    /// No complete answer within the webhook's timeout (or no connection within the client's
    /// connect timeout).
    Timeout(String),
    /// The host name does not resolve.
    Dns(String),
    /// The TLS handshake failed (certificate, protocol, a peer that is not TLS).
    Tls(String),
    /// No connection: refused, unreachable.
    Connect(String),
    /// Refused before any connection: the SSRF guard (a private or special address, an
    /// `http://` URL that the policy no longer allows) or an unusable signing secret.
    Blocked(String),
    /// A `3xx` answer: redirects are not followed.
    Redirect(String),
    /// Any other answer outside `2xx`.
    Status(u16),
    /// The connection broke while sending or reading.
    Io(String),
}

impl AttemptError {
    /// The kind, as stored in `attempts.error_kind` (an [`AttemptErrorKind`]).
    pub fn kind(&self) -> AttemptErrorKind {
        match self {
            AttemptError::Timeout(_) => AttemptErrorKind::Timeout,
            AttemptError::Dns(_) => AttemptErrorKind::Dns,
            AttemptError::Tls(_) => AttemptErrorKind::Tls,
            AttemptError::Connect(_) => AttemptErrorKind::Connect,
            AttemptError::Blocked(_) => AttemptErrorKind::Blocked,
            AttemptError::Redirect(_) => AttemptErrorKind::Redirect,
            AttemptError::Status(_) => AttemptErrorKind::Status,
            AttemptError::Io(_) => AttemptErrorKind::Io,
        }
    }

    /// The kind's name, as stored and counted in `skw_attempts_total`.
    pub fn as_str(&self) -> &'static str {
        self.kind().as_str()
    }

    /// Whether the delivery is tried again (while it has tries left). Every failure is: a
    /// receiver's `4xx` or a refused address can be a passing mistake that its owner fixes
    /// (the URL, the DNS record, the policy) before the next try.
    pub fn is_retryable(&self) -> bool {
        match self {
            // 410 Gone: the receiver asks for no more deliveries (the webhook is paused too).
            AttemptError::Status(410) => false,
            AttemptError::Timeout(_)
            | AttemptError::Dns(_)
            | AttemptError::Tls(_)
            | AttemptError::Connect(_)
            | AttemptError::Blocked(_)
            | AttemptError::Redirect(_)
            | AttemptError::Status(_)
            | AttemptError::Io(_) => true,
        }
    }

    /// The message for people (`attempts.error_message`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// What an answer's status means: `None` for a `2xx` (a success).
    pub fn from_status(status: u16) -> Option<AttemptError> {
        match status {
            200..=299 => None,
            300..=399 => Some(AttemptError::Redirect(format!(
                "HTTP {status}: redirects are not followed"
            ))),
            _ => Some(AttemptError::Status(status)),
        }
    }

    /// The answer did not come in time (the attempt's own deadline).
    pub fn timed_out(after: std::time::Duration) -> AttemptError {
        AttemptError::Timeout(format!("no complete answer within {} s", after.as_secs()))
    }

    /// Names a transport error by what failed. The first that applies: a timeout, the
    /// address guard's refusal, a name that does not resolve, a TLS failure, no connection, a
    /// redirect, an error status, else a broken exchange (`io`).
    pub fn from_reqwest(e: &reqwest::Error) -> AttemptError {
        let detail = innermost(e).to_string();
        if e.is_timeout() {
            return AttemptError::Timeout(detail);
        }
        if let Some(blocked) = find::<Blocked>(e) {
            return AttemptError::Blocked(blocked.to_string());
        }
        if find::<LookupFailed>(e).is_some() {
            return AttemptError::Dns(detail);
        }
        if e.is_connect() && is_tls_failure(e) {
            return AttemptError::Tls(detail);
        }
        if e.is_connect() || has_io_kind(e, is_connect_kind) {
            return AttemptError::Connect(detail);
        }
        if e.is_redirect() {
            return AttemptError::Redirect(detail);
        }
        if let Some(status) = e.status() {
            return AttemptError::Status(status.as_u16());
        }
        AttemptError::Io(detail)
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Status(code) => write!(f, "HTTP {code}"),
            AttemptError::Timeout(m)
            | AttemptError::Dns(m)
            | AttemptError::Tls(m)
            | AttemptError::Connect(m)
            | AttemptError::Blocked(m)
            | AttemptError::Redirect(m)
            | AttemptError::Io(m) => f.write_str(m),
        }
    }
}

/// The error and everything it wraps. An `io::Error` that wraps another error hides it from
/// `source()` (it answers with the wrapped error's source), so what it wraps (`get_ref()`) is
/// walked too; the TLS connector nests its rustls error two `io::Error`s deep.
fn chain<'a>(e: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut out = Vec::new();
    let mut todo = vec![e];
    while let Some(err) = todo.pop() {
        out.push(err);
        if let Some(source) = err.source() {
            todo.push(source);
        }
        if let Some(inner) = err.downcast_ref::<io::Error>().and_then(|io| io.get_ref()) {
            todo.push(inner);
        }
    }
    out
}

fn find<'a, T: StdError + 'static>(e: &'a (dyn StdError + 'static)) -> Option<&'a T> {
    chain(e).into_iter().find_map(|err| err.downcast_ref::<T>())
}

fn innermost<'a>(e: &'a (dyn StdError + 'static)) -> &'a (dyn StdError + 'static) {
    let mut err = e;
    while let Some(next) = err.source() {
        err = next;
    }
    err
}

fn has_io_kind(e: &(dyn StdError + 'static), pred: fn(io::ErrorKind) -> bool) -> bool {
    chain(e).into_iter().any(|err| {
        err.downcast_ref::<io::Error>()
            .is_some_and(|io| pred(io.kind()))
    })
}

fn is_connect_kind(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::HostUnreachable
            | io::ErrorKind::NetworkUnreachable
            | io::ErrorKind::AddrNotAvailable
    )
}

/// A connection that failed in the TLS handshake: rustls refused it (a certificate, the
/// protocol, a peer that does not speak TLS), or the peer closed the connection before the
/// handshake finished (the TCP connection itself never ends that way).
fn is_tls_failure(e: &(dyn StdError + 'static)) -> bool {
    find::<rustls::Error>(e).is_some() || has_io_kind(e, |k| k == io::ErrorKind::UnexpectedEof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatcher::delivery_client;
    use app::domain::TargetPolicy;
    use sea_orm::Iterable;
    use std::time::Duration;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A loopback server that answers every connection with `answer` (after reading what
    /// comes first), or holds it open for ever when `answer` is `None`.
    async fn server(answer: Option<&'static [u8]>) -> std::net::SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 4096];
                    let _ = socket.read(&mut buf).await;
                    match answer {
                        Some(bytes) => {
                            let _ = socket.write_all(bytes).await;
                            let _ = socket.shutdown().await;
                        }
                        None => tokio::time::sleep(Duration::from_secs(60)).await,
                    }
                });
            }
        });
        addr
    }

    fn client() -> reqwest::Client {
        delivery_client(TargetPolicy::INSECURE, 4)
    }

    async fn error_of(client: &reqwest::Client, url: &str) -> reqwest::Error {
        match client
            .post(url)
            .timeout(Duration::from_millis(500))
            .send()
            .await
        {
            Ok(res) => panic!("{url} answered {}", res.status()),
            Err(e) => e,
        }
    }

    #[test]
    fn kinds_are_the_stored_strings() {
        let all = [
            AttemptError::Timeout(String::new()),
            AttemptError::Dns(String::new()),
            AttemptError::Tls(String::new()),
            AttemptError::Connect(String::new()),
            AttemptError::Blocked(String::new()),
            AttemptError::Redirect(String::new()),
            AttemptError::Status(500),
            AttemptError::Io(String::new()),
        ];
        let kinds: Vec<AttemptErrorKind> = all.iter().map(AttemptError::kind).collect();
        assert_eq!(kinds, AttemptErrorKind::iter().collect::<Vec<_>>());
        assert!(
            all.iter().all(AttemptError::is_retryable),
            "every failure is tried again while tries are left"
        );
        assert!(
            !AttemptError::Status(410).is_retryable(),
            "but 410 Gone, which asks for no more"
        );
    }

    #[test]
    fn statuses_are_successes_redirects_or_errors() {
        assert_eq!(AttemptError::from_status(204), None);
        let redirect = AttemptError::from_status(302).unwrap();
        assert_eq!(redirect.as_str(), "redirect");
        assert_eq!(redirect.message(), "HTTP 302: redirects are not followed");
        let status = AttemptError::from_status(503).unwrap();
        assert_eq!(status, AttemptError::Status(503));
        assert_eq!(
            (status.as_str(), status.message().as_str()),
            ("status", "HTTP 503")
        );
    }

    #[tokio::test]
    async fn a_closed_port_is_a_connect_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let e = error_of(&client(), &format!("http://127.0.0.1:{port}/")).await;
        let err = AttemptError::from_reqwest(&e);
        assert_eq!(err.as_str(), "connect", "{err:?} from {e:?}");
        assert!(!err.message().is_empty());
    }

    #[tokio::test]
    async fn a_receiver_that_never_answers_is_a_timeout() {
        let addr = server(None).await;
        let e = error_of(&client(), &format!("http://{addr}/")).await;
        assert_eq!(AttemptError::from_reqwest(&e).as_str(), "timeout", "{e:?}");
    }

    #[tokio::test]
    async fn a_redirect_is_a_redirect() {
        let addr = server(Some(
            b"HTTP/1.1 302 Found\r\nlocation: /elsewhere\r\ncontent-length: 0\r\n\r\n",
        ))
        .await;
        // The delivery client does not follow it: the answer itself is the redirect.
        let res = client()
            .post(format!("http://{addr}/"))
            .send()
            .await
            .unwrap();
        let err = AttemptError::from_status(res.status().as_u16()).unwrap();
        assert_eq!(err.as_str(), "redirect");
        // A client that refuses to follow redirects reports one as an error of that kind.
        let refusing = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::limited(0))
            .no_proxy()
            .build()
            .unwrap();
        let e = error_of(&refusing, &format!("http://{addr}/")).await;
        assert_eq!(AttemptError::from_reqwest(&e).as_str(), "redirect", "{e:?}");
    }

    #[tokio::test]
    async fn a_peer_that_does_not_speak_tls_is_a_tls_error() {
        let addr = server(Some(
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n",
        ))
        .await;
        let e = error_of(&client(), &format!("https://{addr}/")).await;
        assert_eq!(AttemptError::from_reqwest(&e).as_str(), "tls", "{e:?}");
        // Cut during the handshake.
        let addr = server(Some(b"")).await;
        let e = error_of(&client(), &format!("https://{addr}/")).await;
        assert_eq!(AttemptError::from_reqwest(&e).as_str(), "tls", "{e:?}");
    }

    #[tokio::test]
    async fn a_connection_closed_before_the_answer_is_an_io_error() {
        let addr = server(Some(b"")).await;
        let e = error_of(&client(), &format!("http://{addr}/")).await;
        assert_eq!(AttemptError::from_reqwest(&e).as_str(), "io", "{e:?}");
    }

    #[tokio::test]
    async fn the_guard_refusing_a_name_is_blocked() {
        let addr = server(Some(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")).await;
        let strict = delivery_client(TargetPolicy::STRICT, 4);
        let e = error_of(&strict, &format!("https://localhost:{}/", addr.port())).await;
        let err = AttemptError::from_reqwest(&e);
        assert_eq!(err.as_str(), "blocked", "{e:?}");
        assert!(
            err.message().starts_with("blocked: localhost resolves to"),
            "{err:?}"
        );
    }

    /// A resolver that fails the way the guarded one does when a name does not resolve
    /// (without asking any DNS server: tests stay on loopback).
    #[derive(Clone)]
    struct NoSuchName;
    impl reqwest::dns::Resolve for NoSuchName {
        fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
            let host = name.as_str().to_string();
            Box::pin(async move {
                Err(Box::new(LookupFailed {
                    host,
                    source: io::Error::other("Name or service not known"),
                }) as Box<dyn StdError + Send + Sync>)
            })
        }
    }

    #[tokio::test]
    async fn a_name_that_does_not_resolve_is_a_dns_error() {
        let client = reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(std::sync::Arc::new(NoSuchName))
            .build()
            .unwrap();
        let e = error_of(&client, "https://no-such-host.invalid/").await;
        let err = AttemptError::from_reqwest(&e);
        assert_eq!(err.as_str(), "dns", "{e:?}");
        assert_eq!(err.message(), "Name or service not known");
    }
}
