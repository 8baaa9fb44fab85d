//! A small SMTP server on loopback for the alert tests: enough of the protocol for lettre
//! (220, EHLO/HELO → 250, MAIL/RCPT → 250, DATA → 354, `.` → 250, RSET/NOOP → 250, QUIT →
//! 221). It keeps every message it accepted; in refusing mode it answers `451` to `MAIL
//! FROM`, and it refuses (`550`) any recipient whose address contains `refused`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The message as sent (headers and body, dot-stuffing undone, a quoted-printable body
    /// decoded).
    pub data: String,
}

impl Mail {
    /// The `Subject:` header's value (lettre writes plain ASCII subjects as they are, others
    /// RFC 2047-encoded; the tests compare what they can read).
    pub fn subject(&self) -> String {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: "))
            .unwrap_or_default()
            .to_string()
    }
}

#[derive(Clone, Default)]
pub struct SmtpSink {
    pub url: String,
    mails: Arc<Mutex<Vec<Mail>>>,
    refusing: Arc<AtomicBool>,
    /// Conversations that reached `MAIL FROM` (accepted or not).
    tries: Arc<Mutex<usize>>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let sink = SmtpSink {
            url: format!("smtp://{}", listener.local_addr().unwrap()),
            ..Default::default()
        };
        let s = sink.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let s = s.clone();
                tokio::spawn(async move {
                    let _ = s.converse(stream).await;
                });
            }
        });
        sink
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    pub fn tries(&self) -> usize {
        *self.tries.lock().unwrap()
    }

    pub fn refuse(&self, on: bool) {
        self.refusing.store(on, Ordering::SeqCst);
    }

    async fn converse(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read).lines();
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut from = String::new();
        let mut to = Vec::new();
        while let Some(line) = lines.next_line().await? {
            let upper = line.to_ascii_uppercase();
            let answer: &[u8] = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
                b"250 sink.test\r\n"
            } else if upper.starts_with("MAIL FROM:") {
                *self.tries.lock().unwrap() += 1;
                if self.refusing.load(Ordering::SeqCst) {
                    b"451 4.3.0 try again later\r\n"
                } else {
                    from = line[10..].trim().to_string();
                    to.clear();
                    b"250 OK\r\n"
                }
            } else if upper.starts_with("RCPT TO:") {
                let rcpt = line[8..].trim().trim_matches(['<', '>']).to_string();
                if rcpt.contains("refused") {
                    b"550 5.1.1 no such user\r\n"
                } else {
                    to.push(rcpt);
                    b"250 OK\r\n"
                }
            } else if upper == "DATA" {
                write.write_all(b"354 end with .\r\n").await?;
                let mut data = String::new();
                while let Some(l) = lines.next_line().await? {
                    if l == "." {
                        break;
                    }
                    data.push_str(l.strip_prefix('.').unwrap_or(&l));
                    data.push('\n');
                }
                self.mails.lock().unwrap().push(Mail {
                    from: from.clone(),
                    to: std::mem::take(&mut to),
                    data: decode_body(&data),
                });
                b"250 OK queued\r\n"
            } else if upper == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                b"250 OK\r\n"
            };
            write.write_all(answer).await?;
        }
        Ok(())
    }
}

/// Undoes a quoted-printable body (soft line breaks, `=XX`); the headers stay as they are.
fn decode_body(data: &str) -> String {
    let Some((head, body)) = data.split_once("\n\n") else {
        return data.to_string();
    };
    if !head
        .to_ascii_lowercase()
        .contains("content-transfer-encoding: quoted-printable")
    {
        return data.to_string();
    }
    let joined = body.replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() + 1 {
            if let Some(b) = std::str::from_utf8(&bytes[i + 1..(i + 3).min(bytes.len())])
                .ok()
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    format!("{head}\n\n{}", String::from_utf8_lossy(&out))
}
