//! The DNS resolver of the delivery client: every address a webhook's host resolves to is
//! checked against the target policy, and the connection is made to a checked address only
//! (reqwest connects to what this returns; nothing resolves the name a second time).

use app::domain::{check_resolved, TargetPolicy};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct GuardedResolver {
    pub policy: TargetPolicy,
}

/// A name with an address the target policy refuses: nothing is connected to. The delivery
/// client's errors carry it as their source, so an attempt is classified by finding it there
/// (`AttemptError::from_reqwest`), not by reading the error's text.
#[derive(Debug, thiserror::Error)]
#[error("blocked: {0}")]
pub struct Blocked(pub String);

/// A name that does not resolve (the system resolver's own error is the source).
#[derive(Debug, thiserror::Error)]
#[error("cannot resolve {host}")]
pub struct LookupFailed {
    pub host: String,
    #[source]
    pub source: std::io::Error,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|source| LookupFailed {
                    host: host.clone(),
                    source,
                })?
                .collect();
            let ips: Vec<_> = addrs.iter().map(SocketAddr::ip).collect();
            if let Err(reason) = check_resolved(&host, &ips, policy) {
                return Err(Box::new(Blocked(reason)) as Box<dyn std::error::Error + Send + Sync>);
            }
            let addrs: Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    #[tokio::test]
    async fn a_name_of_this_machine_is_refused_before_any_connection() {
        let strict = GuardedResolver {
            policy: TargetPolicy::STRICT,
        };
        let err = match strict.resolve(Name::from_str("localhost").unwrap()).await {
            Ok(_) => panic!("localhost was allowed"),
            Err(e) => e.to_string(),
        };
        assert!(err.starts_with("blocked: localhost resolves to"), "{err}");
        let insecure = GuardedResolver {
            policy: TargetPolicy::INSECURE,
        };
        let addrs: Vec<SocketAddr> = insecure
            .resolve(Name::from_str("localhost").unwrap())
            .await
            .unwrap()
            .collect();
        assert!(addrs.iter().all(|a| a.ip().is_loopback()));
    }
}
