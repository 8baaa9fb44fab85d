//! Property tests of the input rules: whatever is typed into the URL field or sent as an event
//! type, the parsers answer (never panic) and only ever accept what the rules allow.

use app::domain::{
    classify_ip, EventSet, EventType, TargetPolicy, WebhookDraft, WebhookInput, WebhookUrl,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr};

fn strict() -> TargetPolicy {
    TargetPolicy::STRICT
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn url_parsing_never_panics(s in ".{0,300}") {
        let _ = WebhookUrl::parse(&s, strict());
        let _ = WebhookUrl::parse(&s, TargetPolicy::INSECURE);
    }

    #[test]
    fn url_like_input_is_accepted_only_when_safe(
        scheme in prop::sample::select(vec!["https", "http", "ftp", "HTTPS", "javascript", "file"]),
        host in prop::sample::select(vec![
            "example.com", "hooks.example.com", "localhost", "a.localhost", "127.0.0.1", "10.0.0.1",
            "0x7f.1", "2130706433", "017700000001", "[::1]", "[::ffff:127.0.0.1]", "[fd00::1]",
            "169.254.169.254", "8.8.8.8", "xn--bcher-kva.example", "bücher.example", "", "user:pw@example.com",
        ]),
        port in prop::option::of(0u16..=65535),
        path in "[a-zA-Z0-9/_.~%-]{0,30}",
    ) {
        let url = match port {
            Some(p) => format!("{scheme}://{host}:{p}/{path}"),
            None => format!("{scheme}://{host}/{path}"),
        };
        if let Ok(ok) = WebhookUrl::parse(&url, strict()) {
            let parsed = url::Url::parse(ok.as_str()).unwrap();
            prop_assert_eq!(parsed.scheme(), "https");
            match parsed.host() {
                Some(url::Host::Ipv4(ip)) => prop_assert_eq!(classify_ip(IpAddr::V4(ip)), None),
                Some(url::Host::Ipv6(ip)) => prop_assert_eq!(classify_ip(IpAddr::V6(ip)), None),
                Some(url::Host::Domain(d)) => prop_assert!(d != "localhost" && !d.ends_with(".localhost")),
                None => prop_assert!(false, "accepted without a host: {}", ok.as_str()),
            }
            // Normalised once and for all.
            prop_assert_eq!(WebhookUrl::parse(ok.as_str(), strict()).unwrap(), ok);
        }
    }

    #[test]
    fn every_ipv4_spelling_is_judged_by_the_address(addr in any::<u32>()) {
        let ip = Ipv4Addr::from(addr);
        let allowed = classify_ip(IpAddr::V4(ip)).is_none();
        let o = ip.octets();
        for spelling in [
            ip.to_string(),
            addr.to_string(),
            format!("0x{addr:x}"),
            format!("0{:o}.0{:o}.0{:o}.0{:o}", o[0], o[1], o[2], o[3]),
            format!("0x{:x}.0x{:x}.0x{:x}.0x{:x}", o[0], o[1], o[2], o[3]),
        ] {
            let accepted = WebhookUrl::parse(&format!("https://{spelling}/hook"), strict()).is_ok();
            prop_assert_eq!(accepted, allowed, "{} ({})", spelling, ip);
        }
    }

    #[test]
    fn event_types_parse_exactly(s in "[a-z._]{0,24}") {
        let known = EventType::ALL.iter().any(|t| t.as_str() == s);
        prop_assert_eq!(EventType::parse(&s).is_ok(), known);
    }

    #[test]
    fn event_sets_round_trip(mask in 1u16..(1 << 12)) {
        let names: Vec<&str> = EventType::SUBSCRIBABLE
            .iter()
            .enumerate()
            .filter(|(i, _)| mask & (1 << i) != 0)
            .map(|(_, t)| t.as_str())
            .collect();
        let set = EventSet::parse(&names).unwrap();
        prop_assert_eq!(set.len(), names.len());
        prop_assert_eq!(EventSet::from_stored(&set.to_stored()), set);
        prop_assert_eq!(set.iter().map(EventType::as_str).collect::<Vec<_>>(), names);
    }

    #[test]
    fn the_form_rules_never_panic_and_name_only_real_fields(
        name in ".{0,120}",
        url in ".{0,80}",
        events in prop::collection::vec(".{0,20}", 0..4),
        timeout in ".{0,6}",
        retries in ".{0,6}",
        description in ".{0,1100}",
    ) {
        let input = WebhookInput { name, url, events, active: true, timeout_secs: timeout, retry_attempts: retries, description, ordered: false, format: String::new(), headers: String::new(), filter: String::new(), template: String::new(), content_type: String::new() };
        if let Err(e) = WebhookDraft::parse(&input, strict()) {
            prop_assert!(!e.is_empty());
            for (field, _) in &e.errors {
                prop_assert!(["name", "url", "events", "timeout_secs", "retry_attempts", "description"].contains(&field.as_str()), "{}", field);
            }
            prop_assert_eq!(WebhookInput::from_echo(&e), input);
        }
    }
}
