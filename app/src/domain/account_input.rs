use serde::{Deserialize, Serialize};

/// A login e-mail address: trimmed and lower-cased, so that `Jane@X.com` and `jane@x.com` are
/// one account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(input: &str) -> Result<Email, String> {
        let email = input.trim().to_lowercase();
        if email.is_empty() {
            return Err("Enter your e-mail address.".into());
        }
        if email.chars().count() > 254 {
            return Err("That e-mail address is too long (254 characters at most).".into());
        }
        if email.chars().any(super::is_format_char) {
            // The e-mail is the account's name on every page: it must read as what it is.
            super::check_visible(&email, "e-mail address")?;
        }
        let valid = match email.split_once('@') {
            Some((local, domain)) => {
                !local.is_empty()
                    && !domain.is_empty()
                    && !domain.contains('@')
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.')
                    && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            }
            None => false,
        };
        if !valid {
            return Err("Enter an e-mail address like name@example.com.".into());
        }
        Ok(Email(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 8 to 1024 characters (long passphrases welcome; the cap bounds hashing cost).
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_LEN: usize = 8;
    pub const MAX_LEN: usize = 1024;

    pub fn parse(input: &str) -> Result<Password, String> {
        let n = input.chars().count();
        if n < Self::MIN_LEN {
            return Err(format!(
                "Use at least {} characters for your password.",
                Self::MIN_LEN
            ));
        }
        if n > Self::MAX_LEN {
            return Err(format!(
                "Use at most {} characters for your password.",
                Self::MAX_LEN
            ));
        }
        Ok(Password(input.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("  Jane@Example.COM ").unwrap().as_str(),
            "jane@example.com"
        );
        for bad in [
            "",
            "jane",
            "jane@",
            "@example.com",
            "jane@example",
            "ja ne@example.com",
            "a@b@c.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} was accepted");
        }
        let err = Email::parse("jane\u{202E}moc.elpmaxe@example.com").unwrap_err();
        assert!(err.contains("U+202E"), "{err}");
        assert!(Email::parse("ja\u{200B}ne@example.com").is_err());
    }

    #[test]
    fn passwords_have_bounds_and_never_print() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(1025)).is_err());
        let p = Password::parse("correct horse").unwrap();
        assert_eq!(format!("{p:?}"), "Password(***)");
    }
}
