//! The DNS resolver of the delivery client: every address a webhook's host resolves to is
//! checked against the target policy, and the connection is made to a checked address only
//! (reqwest connects to what this returns; nothing resolves the name a second time).

use app::domain::TargetPolicy;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;

#[derive(Clone, Debug)]
pub struct GuardedResolver {
    pub policy: TargetPolicy,
}

/// A name whose every address is refused.
#[derive(Debug, thiserror::Error)]
#[error("blocked: {0}")]
pub struct Blocked(pub String);

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = addrs
                .into_iter()
                .filter(|a| match policy.check_ip(a.ip()) {
                    Ok(()) => true,
                    Err(reason) => {
                        refusal.get_or_insert(reason);
                        false
                    }
                })
                .collect();
            if let Some(reason) = refusal {
                // One bad address is enough to refuse: a name that mixes public and private
                // addresses is a rebinding attempt or a misconfiguration.
                return Err(Box::new(Blocked(format!("{host} resolves to {reason}"))) as _);
            }
            let addrs: Addrs = Box::new(allowed.into_iter());
            Ok(addrs)
        })
    }
}
