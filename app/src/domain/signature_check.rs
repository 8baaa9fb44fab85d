//! The signature checker of a delivery's page: given what a receiver computed, says whether it
//! is right and, if not, which of the usual mistakes explains it — by computing, on the server,
//! the value each mistake would have produced and comparing.
//!
//! The mistakes: a body re-serialised before hashing (parsed and written again: pretty, with
//! Python's separators or `\u` escapes, with sorted keys), the wrong form of the key (the whole
//! `whsec_…` string where the decoded bytes are needed, or the other way round), the right MAC
//! in the other encoding (hex vs base64), and the previous secret after a rotation.

use serde::{Deserialize, Serialize};

#[cfg(feature = "ssr")]
pub use compute::{diagnose, reserialisations, signed_content, Signed};

/// Which header the value was computed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scheme {
    /// `X-Webhook-Signature`: hex HMAC of the body, keyed with the whole `whsec_…` string.
    Seed,
    /// `webhook-signature` (Standard Webhooks): base64 HMAC of `id.timestamp.body`, keyed with
    /// the base64-decoded part after `whsec_`.
    Standard,
}

impl Scheme {
    pub fn parse(s: &str) -> Option<Scheme> {
        match s {
            "seed" | "x-webhook-signature" => Some(Scheme::Seed),
            "standard" | "webhook-signature" => Some(Scheme::Standard),
            _ => None,
        }
    }
}

/// What the pasted value is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    /// The right signature.
    Match,
    /// The HMAC of the body after it was parsed and serialised again.
    ReSerialised,
    /// Keyed with the other form of the secret (whole string vs decoded bytes).
    WrongKeyForm,
    /// The right MAC, in the other encoding (hex vs base64).
    HexVsBase64,
    /// Made with the secret before the last rotation.
    StaleSecret,
    /// None of the usual mistakes explains it.
    Unknown,
}

impl Verdict {
    pub fn code(self) -> &'static str {
        match self {
            Verdict::Match => "match",
            Verdict::ReSerialised => "reserialised",
            Verdict::WrongKeyForm => "wrong_key_form",
            Verdict::HexVsBase64 => "hex_vs_base64",
            Verdict::StaleSecret => "stale_secret",
            Verdict::Unknown => "unknown",
        }
    }

    pub fn from_code(s: &str) -> Option<Verdict> {
        [
            Verdict::Match,
            Verdict::ReSerialised,
            Verdict::WrongKeyForm,
            Verdict::HexVsBase64,
            Verdict::StaleSecret,
            Verdict::Unknown,
        ]
        .into_iter()
        .find(|v| v.code() == s)
    }

    /// The explanation shown for this verdict.
    pub fn message(self, scheme: Scheme) -> &'static str {
        match (self, scheme) {
            (Verdict::Match, _) => "✓ That is the right signature: your verification works.",
            (Verdict::ReSerialised, _) => "✗ Your server hashed a re-serialised body: it parsed the JSON and wrote it again (other spacing, key order or escapes) before computing the HMAC. Hash the raw bytes exactly as received, before parsing.",
            (Verdict::WrongKeyForm, Scheme::Seed) => "✗ Wrong form of the key: X-Webhook-Signature is keyed with the whole secret string as shown, whsec_ included — your server used the base64-decoded part.",
            (Verdict::WrongKeyForm, Scheme::Standard) => "✗ Wrong form of the key: webhook-signature is keyed with the base64-decoded bytes of the part after whsec_ — your server used the whole string.",
            (Verdict::HexVsBase64, Scheme::Seed) => "✗ Right MAC, wrong encoding: X-Webhook-Signature is lowercase hex — your server produced base64.",
            (Verdict::HexVsBase64, Scheme::Standard) => "✗ Right MAC, wrong encoding: webhook-signature carries base64 (after v1,) — your server produced hex.",
            (Verdict::StaleSecret, _) => "✗ Stale secret: this was computed with the secret before the last rotation. Update your server to the current secret.",
            (Verdict::Unknown, _) => "✗ No match, and none of the usual mistakes explains it: check that you use this webhook's secret, the exact body received and, for webhook-signature, the webhook-id and webhook-timestamp headers of the same request.",
        }
    }
}

/// The server's side: the candidate values and the comparison.
#[cfg(feature = "ssr")]
mod compute {
    use super::{Scheme, Verdict};
    use crate::domain::SigningSecret;
    use base64::Engine;
    use hmac::{Hmac, Mac};
    use sha2::Sha256;

    type HmacSha256 = Hmac<Sha256>;

    /// What one delivery's request was signed over.
    pub struct Signed<'a> {
        pub msg_id: &'a str,
        pub timestamp: i64,
        pub body: &'a [u8],
    }

    fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        let mut m = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
        for p in parts {
            m.update(p);
        }
        m.finalize().into_bytes().to_vec()
    }

    fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// The content a scheme signs for this body.
    fn content(scheme: Scheme, s: &Signed<'_>, body: &[u8]) -> Vec<u8> {
        match scheme {
            Scheme::Seed => body.to_vec(),
            Scheme::Standard => {
                let mut v = format!("{}.{}.", s.msg_id, s.timestamp).into_bytes();
                v.extend_from_slice(body);
                v
            }
        }
    }

    /// The exact content each scheme signs (for the page).
    pub fn signed_content(scheme: Scheme, s: &Signed<'_>) -> String {
        String::from_utf8_lossy(&content(scheme, s, s.body)).into_owned()
    }

    /// The MAC of `scheme`'s content under one secret: (right key form, other key form).
    fn macs(scheme: Scheme, secret: &SigningSecret, signed: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let whole = mac(secret.expose().as_bytes(), &[signed]);
        let decoded = mac(&secret.key_bytes(), &[signed]);
        match scheme {
            Scheme::Seed => (whole, decoded),
            Scheme::Standard => (decoded, whole),
        }
    }

    /// Both encodings of a MAC: (the scheme's, the other).
    fn encodings(scheme: Scheme, m: &[u8]) -> (String, String) {
        match scheme {
            Scheme::Seed => (hex::encode(m), b64(m)),
            Scheme::Standard => (b64(m), hex::encode(m)),
        }
    }

    /// What a receiver pasted, reduced to the MAC's text: trimmed, `sha256=` / `v1,` dropped; hex
    /// compared in lowercase.
    fn normalise(pasted: &str) -> String {
        let t = pasted.trim().trim_matches('"');
        let t = t.strip_prefix("v1,").unwrap_or(t);
        let t = t.strip_prefix("sha256=").unwrap_or(t);
        if !t.is_empty() && t.chars().all(|c| c.is_ascii_hexdigit()) {
            t.to_ascii_lowercase()
        } else {
            t.to_string()
        }
    }

    /// The body written again the usual ways a receiver might have (only those that differ from
    /// the raw bytes).
    pub fn reserialisations(body: &[u8]) -> Vec<Vec<u8>> {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return Vec::new();
        };
        let sorted = sort_keys(&value);
        let mut out: Vec<Vec<u8>> = Vec::new();
        for v in [&value, &sorted] {
            out.push(serde_json::to_vec(v).unwrap_or_default());
            out.push(serde_json::to_vec_pretty(v).unwrap_or_default());
            let python = python_dumps(v);
            out.push(ascii_escape(&python).into_bytes());
            out.push(python.into_bytes());
        }
        out.retain(|b| b.as_slice() != body);
        out.sort();
        out.dedup();
        out
    }

    fn sort_keys(v: &serde_json::Value) -> serde_json::Value {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sort_keys(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sort_keys).collect()),
            other => other.clone(),
        }
    }

    /// Python's `json.dumps` default separators (`", "` and `": "`), without `\u` escapes.
    fn python_dumps(v: &serde_json::Value) -> String {
        use serde_json::Value;
        match v {
            Value::Object(m) => {
                let items: Vec<String> = m
                    .iter()
                    .map(|(k, v)| {
                        format!(
                            "{}: {}",
                            serde_json::to_string(k).unwrap_or_default(),
                            python_dumps(v)
                        )
                    })
                    .collect();
                format!("{{{}}}", items.join(", "))
            }
            Value::Array(a) => {
                let items: Vec<String> = a.iter().map(python_dumps).collect();
                format!("[{}]", items.join(", "))
            }
            other => serde_json::to_string(other).unwrap_or_default(),
        }
    }

    /// Non-ASCII characters as `\uXXXX` (surrogate pairs beyond the BMP), as Python's default
    /// `ensure_ascii` writes them. Outside strings JSON has no non-ASCII text, so the whole text can
    /// be escaped at once.
    fn ascii_escape(s: &str) -> String {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
        out
    }

    /// Which mistake, if any, explains `pasted` for `scheme` on this request.
    pub fn diagnose(
        scheme: Scheme,
        pasted: &str,
        current: &SigningSecret,
        previous: Option<&SigningSecret>,
        signed: &Signed<'_>,
    ) -> Verdict {
        let got = normalise(pasted);
        if got.is_empty() {
            return Verdict::Unknown;
        }
        // Every entry of a pasted `webhook-signature` header counts.
        let entries: Vec<String> = pasted.split_whitespace().map(normalise).collect();
        let is = |want: &str| {
            let want = normalise(want);
            got == want || entries.contains(&want)
        };
        let raw = content(scheme, signed, signed.body);
        let (right, other_key) = macs(scheme, current, &raw);
        let (right_enc, other_enc) = encodings(scheme, &right);
        if is(&right_enc) {
            return Verdict::Match;
        }
        if is(&other_enc) {
            return Verdict::HexVsBase64;
        }
        let (k1, k2) = encodings(scheme, &other_key);
        if is(&k1) || is(&k2) {
            return Verdict::WrongKeyForm;
        }
        for body in reserialisations(signed.body) {
            let c = content(scheme, signed, &body);
            let (a, b) = macs(scheme, current, &c);
            let (a1, a2) = encodings(scheme, &a);
            let (b1, b2) = encodings(scheme, &b);
            if [a1, a2, b1, b2].iter().any(|v| is(v)) {
                return Verdict::ReSerialised;
            }
        }
        if let Some(prev) = previous {
            let (a, b) = macs(scheme, prev, &raw);
            let (a1, a2) = encodings(scheme, &a);
            let (b1, b2) = encodings(scheme, &b);
            if [a1, a2, b1, b2].iter().any(|v| is(v)) {
                return Verdict::StaleSecret;
            }
        }
        Verdict::Unknown
    }

    #[cfg(test)]
    mod tests {
        use super::super::*;
        use super::*;
        use crate::domain::signing::{seed_signature, standard_signature};

        fn setup() -> (SigningSecret, SigningSecret) {
            (
                SigningSecret::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap(),
                SigningSecret::parse("whsec_dGhlIHByZXZpb3VzIHNlY3JldCBrZXkgMTIzNA==").unwrap(),
            )
        }

        const BODY: &[u8] = r#"{"event":"booking.created","timestamp":"2025-01-15T10:30:00Z","data":{"id":123,"name":"Jos\u00e9","who":"Zoë"}}"#.as_bytes();

        fn signed() -> Signed<'static> {
            Signed {
                msg_id: "0193d2b6-0000-7000-8000-000000000001",
                timestamp: 1736937000,
                body: BODY,
            }
        }

        #[test]
        fn the_right_values_match() {
            let (cur, prev) = setup();
            let s = signed();
            let seed = seed_signature(&cur, BODY);
            assert_eq!(
                diagnose(Scheme::Seed, &seed, &cur, Some(&prev), &s),
                Verdict::Match
            );
            let std = standard_signature(&cur, s.msg_id, s.timestamp, BODY);
            assert_eq!(
                diagnose(Scheme::Standard, &std, &cur, Some(&prev), &s),
                Verdict::Match
            );
            // The whole header with two entries, and without the v1, prefix.
            let header = format!("{std} v1,AAAA");
            assert_eq!(
                diagnose(Scheme::Standard, &header, &cur, None, &s),
                Verdict::Match
            );
            assert_eq!(
                diagnose(Scheme::Standard, &std[3..], &cur, None, &s),
                Verdict::Match
            );
        }

        #[test]
        fn each_mistake_is_named() {
            let (cur, prev) = setup();
            let s = signed();
            let seed_mac = mac(cur.expose().as_bytes(), &[BODY]);
            // Hex vs base64.
            assert_eq!(
                diagnose(Scheme::Seed, &b64(&seed_mac), &cur, None, &s),
                Verdict::HexVsBase64
            );
            let std = standard_signature(&cur, s.msg_id, s.timestamp, BODY);
            let std_mac = base64::engine::general_purpose::STANDARD
                .decode(&std[3..])
                .unwrap();
            assert_eq!(
                diagnose(Scheme::Standard, &hex::encode(&std_mac), &cur, None, &s),
                Verdict::HexVsBase64
            );
            // Wrong key form: the decoded key for the seed scheme, the whole string for Standard.
            let wrong = hex::encode(mac(&cur.key_bytes(), &[BODY]));
            assert_eq!(
                diagnose(Scheme::Seed, &wrong, &cur, None, &s),
                Verdict::WrongKeyForm
            );
            let content = content(Scheme::Standard, &s, BODY);
            let wrong = format!("v1,{}", b64(&mac(cur.expose().as_bytes(), &[&content])));
            assert_eq!(
                diagnose(Scheme::Standard, &wrong, &cur, None, &s),
                Verdict::WrongKeyForm
            );
            // Re-serialised: pretty, and Python's json.dumps.
            let value: serde_json::Value = serde_json::from_slice(BODY).unwrap();
            let pretty = serde_json::to_vec_pretty(&value).unwrap();
            let v = seed_signature(&cur, &pretty);
            assert_eq!(
                diagnose(Scheme::Seed, &v, &cur, None, &s),
                Verdict::ReSerialised
            );
            let py = ascii_escape(&python_dumps(&value));
            assert!(py.contains(r#""who": "Zo\u00eb""#), "{py}");
            let v = standard_signature(&cur, s.msg_id, s.timestamp, py.as_bytes());
            assert_eq!(
                diagnose(Scheme::Standard, &v, &cur, None, &s),
                Verdict::ReSerialised
            );
            // Stale secret.
            let v = seed_signature(&prev, BODY);
            assert_eq!(
                diagnose(Scheme::Seed, &v, &cur, Some(&prev), &s),
                Verdict::StaleSecret
            );
            let v = standard_signature(&prev, s.msg_id, s.timestamp, BODY);
            assert_eq!(
                diagnose(Scheme::Standard, &v, &cur, Some(&prev), &s),
                Verdict::StaleSecret
            );
            // Anything else.
            assert_eq!(
                diagnose(Scheme::Seed, "abc", &cur, Some(&prev), &s),
                Verdict::Unknown
            );
            assert_eq!(
                diagnose(Scheme::Seed, "  ", &cur, Some(&prev), &s),
                Verdict::Unknown
            );
        }

        #[test]
        fn verdict_codes_round_trip() {
            for v in [
                Verdict::Match,
                Verdict::ReSerialised,
                Verdict::WrongKeyForm,
                Verdict::HexVsBase64,
                Verdict::StaleSecret,
                Verdict::Unknown,
            ] {
                assert_eq!(Verdict::from_code(v.code()), Some(v));
            }
        }
    }
}
