//! Which address a request comes from, for the per-address limits (server only).
//!
//! By default the TCP peer's address, which no client can forge. Behind a reverse proxy every
//! request's peer is the proxy, so an operator can name the header the proxy writes the
//! client's address into (`--trusted-proxy-header`); it is then believed from every peer, so
//! set it only when clients cannot reach the server except through that proxy.

use std::net::{IpAddr, SocketAddr};

use http::{HeaderMap, HeaderName};

#[derive(Clone, Debug, Default)]
pub struct ClientAddrPolicy {
    trusted_proxy_header: Option<HeaderName>,
}

impl ClientAddrPolicy {
    /// The peer's address only.
    pub fn peer_only() -> ClientAddrPolicy {
        ClientAddrPolicy::default()
    }

    /// Believes `header` (e.g. `x-forwarded-for`, `x-real-ip`, `forwarded`) when it holds an
    /// address. `None` or an empty name: the peer's address only.
    pub fn new(header: Option<&str>) -> Result<ClientAddrPolicy, String> {
        let trusted_proxy_header = match header.map(str::trim).filter(|h| !h.is_empty()) {
            None => None,
            Some(h) => Some(
                HeaderName::from_bytes(h.to_ascii_lowercase().as_bytes())
                    .map_err(|_| format!("`{h}` is not an HTTP header name"))?,
            ),
        };
        Ok(ClientAddrPolicy {
            trusted_proxy_header,
        })
    }

    pub fn trusted_proxy_header(&self) -> Option<&HeaderName> {
        self.trusted_proxy_header.as_ref()
    }

    /// The client's address: from the trusted header when one is set and holds an address (the
    /// right-most entry of a list, the one the proxy in front of us appended), else the peer's.
    pub fn client_ip(&self, headers: &HeaderMap, peer: Option<SocketAddr>) -> Option<IpAddr> {
        self.trusted_proxy_header
            .as_ref()
            .and_then(|name| from_header(name, headers))
            .or(peer.map(|p| p.ip()))
    }
}

fn from_header(name: &HeaderName, headers: &HeaderMap) -> Option<IpAddr> {
    // Several header lines are one list, in order.
    let last_line = headers.get_all(name).iter().next_back()?.to_str().ok()?;
    let last = last_line.rsplit(',').next()?.trim();
    let value = if name.as_str() == "forwarded" {
        // RFC 7239: `for=192.0.2.60;proto=https`, `for="[2001:db8::1]:4711"`.
        last.split(';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
            .map(|(_, v)| v.trim().trim_matches('"'))?
    } else {
        last
    };
    parse_address(value)
}

/// `192.0.2.1`, `192.0.2.1:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_address(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')?.strip_suffix(']')?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn peer() -> Option<SocketAddr> {
        Some("127.0.0.1:5000".parse().unwrap())
    }

    #[test]
    fn by_default_the_peer_is_the_client_whatever_the_headers_say() {
        let p = ClientAddrPolicy::peer_only();
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("x-real-ip", "203.0.113.9"),
        ]);
        assert_eq!(p.client_ip(&h, peer()), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(p.client_ip(&h, None), None);
        assert!(ClientAddrPolicy::new(Some("  "))
            .unwrap()
            .trusted_proxy_header()
            .is_none());
    }

    #[test]
    fn x_forwarded_for_takes_the_right_most_address() {
        let p = ClientAddrPolicy::new(Some("X-Forwarded-For")).unwrap();
        // The client may send any left part; the proxy appends what it saw.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 10.9.9.9,  203.0.113.9 ")]);
        assert_eq!(
            p.client_ip(&h, peer()),
            Some("203.0.113.9".parse().unwrap())
        );
        let h = headers(&[
            ("x-forwarded-for", "1.1.1.1"),
            ("x-forwarded-for", "198.51.100.4"),
        ]);
        assert_eq!(
            p.client_ip(&h, peer()),
            Some("198.51.100.4".parse().unwrap())
        );
        let h = headers(&[("x-forwarded-for", "[2001:db8::7]:443")]);
        assert_eq!(
            p.client_ip(&h, peer()),
            Some("2001:db8::7".parse().unwrap())
        );
    }

    #[test]
    fn a_missing_or_unreadable_header_falls_back_to_the_peer() {
        let p = ClientAddrPolicy::new(Some("x-real-ip")).unwrap();
        assert_eq!(
            p.client_ip(&headers(&[]), peer()),
            Some("127.0.0.1".parse().unwrap())
        );
        let h = headers(&[("x-real-ip", "not an address")]);
        assert_eq!(p.client_ip(&h, peer()), Some("127.0.0.1".parse().unwrap()));
        let h = headers(&[("x-real-ip", "192.0.2.33")]);
        assert_eq!(p.client_ip(&h, peer()), Some("192.0.2.33".parse().unwrap()));
    }

    #[test]
    fn forwarded_reads_the_last_for() {
        let p = ClientAddrPolicy::new(Some("forwarded")).unwrap();
        let h = headers(&[(
            "forwarded",
            "for=1.1.1.1, for=\"[2001:db8:cafe::17]:4711\";proto=https;by=10.0.0.1",
        )]);
        assert_eq!(
            p.client_ip(&h, peer()),
            Some("2001:db8:cafe::17".parse().unwrap())
        );
    }

    #[test]
    fn a_bad_header_name_is_refused() {
        assert!(ClientAddrPolicy::new(Some("x forwarded")).is_err());
        assert!(ClientAddrPolicy::new(Some("x-forwarded-for")).is_ok());
    }
}
