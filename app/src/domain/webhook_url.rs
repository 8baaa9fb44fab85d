use serde::{Deserialize, Serialize};
use url::{Host, Url};

use super::TargetPolicy;

/// A webhook's target: an absolute `https://` URL (or `http://` under the insecure policy) whose
/// host, if written as an address, is a public one. Host names are checked again, address by
/// address, when the dispatcher resolves them.
///
/// Parsing follows the WHATWG URL standard, so `https://0x7f.1/` and `https://2130706433/` are
/// read as the IPv4 address they spell, and international names become punycode.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookUrl(String);

pub const MAX_URL_LEN: usize = 2048;

impl WebhookUrl {
    pub fn parse(input: &str, policy: TargetPolicy) -> Result<WebhookUrl, String> {
        let input = input.trim();
        if input.is_empty() {
            return Err("Enter the URL of your endpoint.".into());
        }
        if input.len() > MAX_URL_LEN {
            return Err(format!(
                "The URL is too long ({MAX_URL_LEN} characters at most)."
            ));
        }
        let url = Url::parse(input).map_err(|e| match e {
            url::ParseError::RelativeUrlWithoutBase => {
                "Enter a full URL starting with https://, like https://example.com/webhooks."
                    .to_string()
            }
            other => format!("That is not a valid URL ({other})."),
        })?;
        match url.scheme() {
            "https" => {}
            "http" if policy.allow_insecure => {}
            "http" => {
                return Err("The URL must start with https:// (plain http is not allowed).".into())
            }
            other => return Err(format!("The URL must start with https://, not {other}:.")),
        }
        match url.host() {
            None => {
                return Err("The URL needs a host name, like https://example.com/webhooks.".into())
            }
            Some(Host::Ipv4(ip)) => policy.check_ip(ip.into())?,
            Some(Host::Ipv6(ip)) => policy.check_ip(ip.into())?,
            Some(Host::Domain(name)) => {
                let name = name.trim_end_matches('.');
                if (name == "localhost" || name.ends_with(".localhost")) && !policy.allow_insecure {
                    return Err(
                        "localhost is this machine; webhooks go to public addresses only.".into(),
                    );
                }
            }
        }
        let mut url = url;
        url.set_fragment(None);
        Ok(WebhookUrl(url.into()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STRICT: TargetPolicy = TargetPolicy::STRICT;
    const INSECURE: TargetPolicy = TargetPolicy::INSECURE;

    #[test]
    fn https_urls_are_accepted_and_normalised() {
        let u = WebhookUrl::parse(" https://Hooks.Example.com/in?x=1#frag ", STRICT).unwrap();
        assert_eq!(u.as_str(), "https://hooks.example.com/in?x=1");
        let idn = WebhookUrl::parse("https://bücher.example/hook", STRICT).unwrap();
        assert_eq!(idn.as_str(), "https://xn--bcher-kva.example/hook");
    }

    #[test]
    fn non_https_and_malformed_urls_are_refused() {
        for bad in [
            "",
            "example.com/hook",
            "ftp://example.com/",
            "http://example.com/",
            "https://",
            "javascript:alert(1)",
        ] {
            assert!(
                WebhookUrl::parse(bad, STRICT).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(WebhookUrl::parse("http://example.com/", INSECURE).is_ok());
    }

    #[test]
    fn address_spellings_are_normalised_before_the_check() {
        for bad in [
            "https://127.0.0.1/",
            "https://2130706433/",
            "https://0x7f.0.0.1/",
            "https://0177.0.0.1/",
            "https://[::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://10.0.0.8/",
            "https://169.254.169.254/latest/meta-data/",
            "https://[fd00::1]/",
        ] {
            assert!(
                WebhookUrl::parse(bad, STRICT).is_err(),
                "{bad:?} was accepted"
            );
        }
        assert!(WebhookUrl::parse("http://127.0.0.1:8080/hook", INSECURE).is_ok());
        assert!(WebhookUrl::parse("https://10.0.0.8/", INSECURE).is_err());
        assert!(WebhookUrl::parse("https://8.8.8.8/", STRICT).is_ok());
    }
}
