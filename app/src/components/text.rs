//! Text that the framework would put into the page unescaped.
//!
//! Leptos' server rendering writes a `<textarea>`'s children and the `<title>` text as they
//! are (both are RCDATA elements, which the browser does decode), so user text there could
//! close the element and add markup. These helpers escape it; the browser decodes the
//! references back, so the page shows exactly the text that was stored.

/// `&`, `<` and `>` as character references.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// The `formatter` of the root `<Title>`: every page title is escaped in server rendering,
/// and left as it is in the browser, where it is set as `document.title` (plain text).
pub fn title_text(title: String) -> String {
    if cfg!(feature = "ssr") {
        escape_text(&title)
    } else {
        title
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_becomes_text() {
        assert_eq!(
            escape_text("</textarea><b>x & \"y\""),
            "&lt;/textarea&gt;&lt;b&gt;x &amp; \"y\""
        );
        assert_eq!(escape_text("plain"), "plain");
    }
}
