//! The one JSON string escaper: status answers, events, `json` log lines,
//! syslog lines. Escapes what JSON requires (`"`, `\`, U+0000–U+001F, with
//! the short forms `\n`, `\r`, `\t`), and U+2028 / U+2029 too (they end a
//! line in JavaScript); bytes that are not UTF-8 become U+FFFD.

/// Appends `s` as the body of a JSON string (without quotes).
pub fn escape(s: &str, out: &mut Vec<u8>) {
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let short: &[u8] = match c {
            '"' => b"\\\"",
            '\\' => b"\\\\",
            '\n' => b"\\n",
            '\r' => b"\\r",
            '\t' => b"\\t",
            '\u{2028}' => b"\\u2028",
            '\u{2029}' => b"\\u2029",
            c if (c as u32) < 0x20 => b"",
            _ => continue,
        };
        out.extend_from_slice(&s.as_bytes()[start..i]);
        if short.is_empty() {
            out.extend_from_slice(format!("\\u{:04x}", c as u32).as_bytes());
        } else {
            out.extend_from_slice(short);
        }
        start = i + c.len_utf8();
    }
    out.extend_from_slice(&s.as_bytes()[start..]);
}

/// [`escape`] of bytes that may not be UTF-8.
pub fn escape_bytes(b: &[u8], out: &mut Vec<u8>) {
    escape(&String::from_utf8_lossy(b), out)
}

/// `s` as a quoted JSON string.
pub fn quoted(s: &str) -> String {
    let mut out = Vec::with_capacity(s.len() + 2);
    out.push(b'"');
    escape(s, &mut out);
    out.push(b'"');
    // Only ASCII was added to valid UTF-8.
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn esc(s: &str) -> String {
        let mut out = Vec::new();
        escape(s, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_what_json_and_javascript_need() {
        assert_eq!(esc("a\"b\\c"), "a\\\"b\\\\c");
        assert_eq!(esc("l1\nl2\r\tx"), "l1\\nl2\\r\\tx");
        assert_eq!(esc("\x00\x1b[2J\x1f"), "\\u0000\\u001b[2J\\u001f");
        assert_eq!(esc("sep\u{2028}par\u{2029}"), "sep\\u2028par\\u2029");
        assert_eq!(esc("é ✓ \x7f"), "é ✓ \x7f");
        assert_eq!(quoted("x\ny"), "\"x\\ny\"");
        let mut out = Vec::new();
        escape_bytes(b"caf\xe9\n", &mut out);
        assert_eq!(String::from_utf8(out).unwrap(), "caf\u{fffd}\\n");
    }
}
