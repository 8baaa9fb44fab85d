//! Rules for the names people give things (webhooks, API keys, accounts): shown to other people
//! and in logs, so they must read as what they are.

/// Whether `c` is an invisible formatting character: Unicode general category `Cf` (Unicode 16),
/// such as the bidirectional overrides and isolates (U+202A–U+202E, U+2066–U+2069), which make
/// a name display differently from what it holds, and the zero-width characters
/// (U+200B–U+200F, U+2060–U+2064, U+FEFF), which make two different names look alike.
pub fn is_format_char(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Refuses a name holding a control character or an invisible formatting character, with a
/// message that names the character (`what` is "name", "e-mail address", …).
pub fn check_visible(value: &str, what: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        return Err(format!("The {what} cannot contain control characters."));
    }
    if let Some(c) = value.chars().find(|c| is_format_char(*c)) {
        return Err(format!(
            "The {what} contains an invisible formatting character (U+{:04X}), which can make it \
             display as something else. Remove it.",
            c as u32
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_zero_width_characters_are_refused() {
        for c in [
            '\u{202E}',
            '\u{202A}',
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{200E}',
            '\u{200F}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{00AD}',
            '\u{061C}',
            '\u{E0041}',
        ] {
            let name = format!("invoice{c}fdp.exe");
            let err = check_visible(&name, "name").unwrap_err();
            assert!(err.contains(&format!("U+{:04X}", c as u32)), "{c:?}: {err}");
        }
    }

    #[test]
    fn ordinary_names_in_any_script_pass() {
        for name in [
            "CRM sync",
            "Zoom → Slack",
            "Réservations été",
            "مزامنة الحجوزات",
            "予約の同期",
            "Sync 🚀",
            "a-b_c.d (prod) #1",
        ] {
            assert_eq!(check_visible(name, "name"), Ok(()), "{name}");
        }
    }

    #[test]
    fn control_characters_are_refused() {
        assert!(check_visible("a\u{0007}b", "name")
            .unwrap_err()
            .contains("control characters"));
        assert!(check_visible("a\nb", "name").is_err());
    }
}
