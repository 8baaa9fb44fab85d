//! Which network addresses a webhook may be sent to (the SSRF guard's address rules).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Whether targets on this machine (loopback) and plain `http://` are allowed. Off in
/// production; `SKW_ALLOW_INSECURE_TARGETS=1` turns it on for local development and tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TargetPolicy {
    pub allow_insecure: bool,
    /// Resolve a webhook's host name when it is saved, to refuse names of private addresses
    /// at once (every send checks again anyway). Off in tests, which must not query DNS.
    pub resolve_on_save: bool,
}

impl Default for TargetPolicy {
    fn default() -> Self {
        TargetPolicy::STRICT
    }
}

impl TargetPolicy {
    pub const STRICT: TargetPolicy = TargetPolicy {
        allow_insecure: false,
        resolve_on_save: true,
    };
    pub const INSECURE: TargetPolicy = TargetPolicy {
        allow_insecure: true,
        resolve_on_save: true,
    };

    /// `Err(reason)` when a webhook may not be sent to this address.
    pub fn check_ip(self, ip: IpAddr) -> Result<(), String> {
        match classify_ip(ip) {
            None => Ok(()),
            Some("loopback") if self.allow_insecure => Ok(()),
            Some("loopback") => Err(format!(
                "{ip} is a loopback address (this machine); webhooks go to public addresses only."
            )),
            Some(kind) => Err(format!(
                "{ip} is a {kind} address; webhooks go to public addresses only."
            )),
        }
    }
}

/// Checks every address a host name resolved to: one refused address is enough to refuse the
/// name (a name mixing public and private addresses is a rebinding attempt or a mistake).
pub fn check_resolved(host: &str, addrs: &[IpAddr], policy: TargetPolicy) -> Result<(), String> {
    for ip in addrs {
        policy
            .check_ip(*ip)
            .map_err(|reason| format!("{host} resolves to {reason}"))?;
    }
    Ok(())
}

/// `None` for a public unicast address, otherwise the kind of special-purpose range it is in.
pub fn classify_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

fn in_v4(ip: Ipv4Addr, net: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(net)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> Option<&'static str> {
    const RANGES: &[([u8; 4], u32, &str)] = &[
        ([169, 254, 169, 254], 32, "cloud metadata"),
        ([127, 0, 0, 0], 8, "loopback"),
        ([0, 0, 0, 0], 8, "reserved (\"this network\")"),
        ([10, 0, 0, 0], 8, "private"),
        ([172, 16, 0, 0], 12, "private"),
        ([192, 168, 0, 0], 16, "private"),
        ([100, 64, 0, 0], 10, "carrier-grade NAT (shared)"),
        ([169, 254, 0, 0], 16, "link-local"),
        ([192, 0, 0, 0], 24, "IETF protocol assignment"),
        ([192, 0, 2, 0], 24, "documentation"),
        ([198, 51, 100, 0], 24, "documentation"),
        ([203, 0, 113, 0], 24, "documentation"),
        ([192, 88, 99, 0], 24, "6to4 relay anycast"),
        ([198, 18, 0, 0], 15, "benchmarking"),
        ([224, 0, 0, 0], 4, "multicast"),
        ([255, 255, 255, 255], 32, "broadcast"),
        ([240, 0, 0, 0], 4, "reserved"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v4(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

fn in_v6(ip: Ipv6Addr, net: [u16; 8], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u128::MAX << (128 - prefix)
    };
    (u128::from(ip) & mask) == (u128::from(Ipv6Addr::from(net)) & mask)
}

fn classify_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        return Some("unspecified");
    }
    if ip.is_loopback() {
        return Some("loopback");
    }
    let embedded_v4 = |ip: Ipv6Addr| {
        let o = ip.octets();
        Ipv4Addr::new(o[12], o[13], o[14], o[15])
    };
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) carry an IPv4 address that is
    // what is really reached: judge that one.
    if in_v6(ip, [0, 0, 0, 0, 0, 0xffff, 0, 0], 96)
        || in_v6(ip, [0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96)
    {
        return classify_v4(embedded_v4(ip));
    }
    const RANGES: &[([u16; 8], u32, &str)] = &[
        ([0, 0, 0, 0, 0, 0, 0, 0], 96, "IPv4-compatible (deprecated)"),
        ([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, "NAT64 local-use"),
        ([0x100, 0, 0, 0, 0, 0, 0, 0], 64, "discard-only"),
        ([0x2001, 0x0db8, 0, 0, 0, 0, 0, 0], 32, "documentation"),
        (
            [0x2001, 0, 0, 0, 0, 0, 0, 0],
            23,
            "IETF protocol assignment",
        ),
        ([0x2002, 0, 0, 0, 0, 0, 0, 0], 16, "6to4"),
        ([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20, "documentation"),
        ([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, "unique-local (private)"),
        ([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, "link-local"),
        ([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, "site-local (deprecated)"),
        ([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, "multicast"),
    ];
    RANGES
        .iter()
        .find(|(net, prefix, _)| in_v6(ip, *net, *prefix))
        .map(|(_, _, kind)| *kind)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(s: &str) -> Option<&'static str> {
        classify_ip(s.parse().unwrap())
    }

    #[test]
    fn special_ranges_are_recognised() {
        let cases = [
            ("127.0.0.1", "loopback"),
            ("127.255.0.9", "loopback"),
            ("10.1.2.3", "private"),
            ("172.31.255.255", "private"),
            ("192.168.0.1", "private"),
            ("100.64.0.1", "carrier-grade NAT (shared)"),
            ("169.254.169.254", "cloud metadata"),
            ("169.254.1.1", "link-local"),
            ("0.0.0.0", "reserved (\"this network\")"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("240.0.0.1", "reserved"),
            ("192.0.2.10", "documentation"),
            ("198.18.0.1", "benchmarking"),
            ("::1", "loopback"),
            ("::", "unspecified"),
            ("::ffff:127.0.0.1", "loopback"),
            ("::ffff:10.0.0.1", "private"),
            ("::ffff:169.254.169.254", "cloud metadata"),
            ("::10.0.0.1", "IPv4-compatible (deprecated)"),
            ("64:ff9b::a00:1", "private"),
            ("fd00:ec2::254", "unique-local (private)"),
            ("fe80::1", "link-local"),
            ("ff02::1", "multicast"),
            ("2001:db8::1", "documentation"),
        ];
        for (ip, expected) in cases {
            assert_eq!(kind(ip), Some(expected), "{ip}");
        }
    }

    #[test]
    fn public_addresses_pass() {
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert_eq!(kind(ip), None, "{ip}");
        }
    }

    #[test]
    fn one_bad_address_refuses_a_name() {
        let public: IpAddr = "8.8.8.8".parse().unwrap();
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(check_resolved("ok.example", &[public], TargetPolicy::STRICT).is_ok());
        let err =
            check_resolved("mixed.example", &[public, private], TargetPolicy::STRICT).unwrap_err();
        assert!(err.contains("mixed.example resolves to 10.0.0.1"), "{err}");
    }

    #[test]
    fn loopback_depends_on_the_policy() {
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(TargetPolicy::STRICT.check_ip(lo).is_err());
        assert!(TargetPolicy::INSECURE.check_ip(lo).is_ok());
        let private: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(TargetPolicy::INSECURE.check_ip(private).is_err());
    }
}
