//! The scheduling product's own id of an account (the operator API's `{external_id}`).

/// 1 to 128 characters of ASCII letters, digits and `-_.:@`: safe in a URL path as it is,
/// compared exactly (case matters, as in the product's own database).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExternalId(String);

impl ExternalId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(input: &str) -> Result<ExternalId, String> {
        if input.is_empty() {
            return Err("The account's external id is empty.".into());
        }
        if input.len() > Self::MAX_LEN {
            return Err(format!(
                "An external id has at most {} characters.",
                Self::MAX_LEN
            ));
        }
        if let Some(c) = input
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || "-_.:@".contains(*c)))
        {
            return Err(format!(
                "An external id is made of ASCII letters, digits and - _ . : @ (found {c:?})."
            ));
        }
        Ok(ExternalId(input.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ExternalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::ExternalId;

    #[test]
    fn external_ids_are_path_safe() {
        for ok in ["cus_123", "a", "org:42", "user@example.com", "A-b.C_d"] {
            assert_eq!(ExternalId::parse(ok).unwrap().as_str(), ok);
        }
        for bad in ["", "a/b", "a b", "ü", "a%2Fb", "..\\x", &"x".repeat(129)] {
            assert!(ExternalId::parse(bad).is_err(), "{bad:?}");
        }
    }
}
