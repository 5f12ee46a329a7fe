//! Syslog messages (RFC 3164 and RFC 5424, with or without `<PRI>`) as
//! the lines of the `syslog` log source. Pure: parsing and formatting; the
//! socket is the runtime's (`runtime/syslog.rs`).

use super::format::json_escape;

const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4",
    "local5", "local6", "local7",
];
const SEVERITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warning", "notice", "info", "debug",
];

/// One message, its parts borrowed from the datagram.
#[derive(Debug, PartialEq, Eq)]
pub struct Message<'a> {
    pub facility: &'static str,
    pub severity: &'static str,
    /// The program: RFC 3164's TAG, RFC 5424's APP-NAME.
    pub tag: Option<&'a str>,
    pub pid: Option<&'a str>,
    pub text: &'a str,
}

/// Parses a datagram; anything unrecognised is the text (user.notice, the
/// default of RFC 3164, when there is no `<PRI>`).
pub fn parse(data: &str) -> Message<'_> {
    let data = data.trim_end_matches(['\n', '\0', '\r']);
    let (pri, rest) = priority(data);
    let mut m = Message {
        facility: FACILITIES[(pri >> 3) as usize],
        severity: SEVERITIES[(pri & 7) as usize],
        tag: None,
        pid: None,
        text: rest,
    };
    if let Some(r) = rest.strip_prefix("1 ") {
        rfc5424(r, &mut m);
    } else {
        rfc3164(rest, &mut m);
    }
    m
}

fn priority(data: &str) -> (u8, &str) {
    if let Some(r) = data.strip_prefix('<')
        && let Some(end) = r.find('>')
        && (1..=3).contains(&end)
        && let Ok(p) = r[..end].parse::<u8>()
        && p <= 191
    {
        return (p, &r[end + 1..]);
    }
    (13, data)
}

/// `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [SD] MSG`.
fn rfc5424<'a>(r: &'a str, m: &mut Message<'a>) {
    let mut parts = r.splitn(6, ' ');
    let (_ts, _host) = (parts.next(), parts.next());
    let (app, procid, _msgid) = (parts.next(), parts.next(), parts.next());
    let nil = |v: Option<&'a str>| v.filter(|v| *v != "-");
    m.tag = nil(app);
    m.pid = nil(procid);
    let mut rest = parts.next().unwrap_or("");
    if let Some(r) = rest.strip_prefix('-') {
        rest = r;
    } else {
        // Structured data: [id k="v" ...][...], quotes may hold `]`.
        while rest.starts_with('[') {
            let mut quoted = false;
            let mut escaped = false;
            let mut end = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    _ if escaped => escaped = false,
                    '\\' => escaped = true,
                    '"' => quoted = !quoted,
                    ']' if !quoted => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            rest = &rest[end..];
        }
    }
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    m.text = rest.strip_prefix('\u{feff}').unwrap_or(rest);
}

/// `[TIMESTAMP] [HOSTNAME] TAG[PID]: MSG` (glibc's `syslog(3)` sends no
/// hostname; `logger` and relays may).
fn rfc3164<'a>(r: &'a str, m: &mut Message<'a>) {
    let stamped = strip_timestamp(r);
    // A hostname comes only after a timestamp (as relays send it).
    let had_time = stamped.len() != r.len();
    let r = stamped;
    let mut words = r.splitn(3, ' ');
    let first = words.next().unwrap_or("");
    let second = words.next();
    let (tag, text) = if first.ends_with(':') {
        (
            first,
            r[first.len()..]
                .strip_prefix(' ')
                .unwrap_or(&r[first.len()..]),
        )
    } else if let Some(t) = second.filter(|t| had_time && t.ends_with(':') && is_tag(t)) {
        let after = first.len() + 1 + t.len();
        (t, r[after..].strip_prefix(' ').unwrap_or(&r[after..]))
    } else {
        m.text = r;
        return;
    };
    if !is_tag(tag) {
        m.text = r;
        return;
    }
    let tag = &tag[..tag.len() - 1];
    match tag.split_once('[') {
        Some((name, pid)) => {
            m.tag = Some(name);
            m.pid = Some(pid.trim_end_matches(']'));
        }
        None => m.tag = Some(tag),
    }
    m.text = text;
}

/// `NAME:` or `NAME[PID]:`, NAME without odd characters.
fn is_tag(t: &str) -> bool {
    let t = &t[..t.len() - 1];
    let name = t.split('[').next().unwrap_or("");
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@".contains(c))
}

/// `Mmm dd hh:mm:ss ` at the start, if there.
fn strip_timestamp(r: &str) -> &str {
    let b = r.as_bytes();
    let looks = b.len() >= 16
        && b[..3].iter().all(u8::is_ascii_alphabetic)
        && b[3] == b' '
        && b[6] == b' '
        && b[9] == b':'
        && b[12] == b':'
        && b[15] == b' ';
    if looks { &r[16..] } else { r }
}

/// Text from anyone who can write to the socket (it is 0666), made safe
/// for an operator's terminal: control characters but tab, and DEL,
/// become `\xNN` (`\` itself stays), so no sender can move the cursor,
/// clear the screen or retitle the window. A process's own output is
/// written as it is; a syslog sender is not one of the pod's processes.
fn escape_controls(text: &str, out: &mut Vec<u8>) {
    for &b in text.as_bytes() {
        if (b < 0x20 && b != b'\t') || b == 0x7f {
            out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
        } else {
            out.push(b);
        }
    }
}

/// The message as lines of the `syslog` source: `tag[pid]: text` (the
/// router adds the prefix or timestamps), or, `json`, whole JSON lines.
/// A message of several lines gives several lines.
pub fn format(m: &Message, json: bool, time: &str, out: &mut Vec<u8>) {
    for line in m.text.split('\n') {
        if !json {
            if let Some(t) = m.tag {
                escape_controls(t, out);
                if let Some(p) = m.pid {
                    out.push(b'[');
                    escape_controls(p, out);
                    out.push(b']');
                }
                out.extend_from_slice(b": ");
            }
            escape_controls(line, out);
            out.push(b'\n');
            continue;
        }
        out.extend_from_slice(b"{\"time\":\"");
        out.extend_from_slice(time.as_bytes());
        out.extend_from_slice(b"\",\"process\":\"syslog\",\"stream\":\"syslog\",\"facility\":\"");
        out.extend_from_slice(m.facility.as_bytes());
        out.extend_from_slice(b"\",\"severity\":\"");
        out.extend_from_slice(m.severity.as_bytes());
        out.extend_from_slice(b"\",\"tag\":");
        match m.tag {
            Some(t) => {
                out.push(b'"');
                json_escape(t, out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"pid\":");
        match m.pid.map(|p| (p, p.parse::<u32>())) {
            Some((_, Ok(n))) => out.extend_from_slice(n.to_string().as_bytes()),
            Some((p, Err(_))) => {
                out.push(b'"');
                json_escape(p, out);
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"line\":\"");
        json_escape(line, out);
        out.extend_from_slice(b"\"}\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_from_senders_are_escaped_on_the_console() {
        assert_eq!(
            line("<13>app: \x1b[2J\x1b]0;pwned\x07 tab\there\x7f", false),
            "app: \\x1b[2J\\x1b]0;pwned\\x07 tab\there\\x7f\n"
        );
        assert_eq!(line("<13>a\x1bb[1]: x", false), "a\\x1bb[1]: x\n");
        // JSON escapes them its own way.
        assert!(line("<13>app: \x1b[2J", true).contains("\\u001b[2J"));
    }

    fn line(data: &str, json: bool) -> String {
        let mut out = Vec::new();
        format(&parse(data), json, "T", &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rfc3164_as_glibc_logger_and_relays_send_it() {
        // glibc syslog(3): no hostname.
        let m = parse("<78>Dec  1 02:00:01 cron[42]: (root) CMD (run-parts)\n");
        assert_eq!(
            m,
            Message {
                facility: "cron",
                severity: "info",
                tag: Some("cron"),
                pid: Some("42"),
                text: "(root) CMD (run-parts)"
            }
        );
        // A hostname before the tag.
        let m = parse("<13>Dec  1 02:00:01 web1 app: hello world");
        assert_eq!((m.tag, m.pid, m.text), (Some("app"), None, "hello world"));
        // No header at all: user.notice, the whole text.
        let m = parse("just text: with a colon later");
        assert_eq!((m.facility, m.severity, m.tag), ("user", "notice", None));
        assert_eq!(m.text, "just text: with a colon later");
        // No timestamp, a tag.
        assert_eq!(line("<11>myd[7]: disk full", false), "myd[7]: disk full\n");
        assert_eq!(line("<11>myd: a\nb", false), "myd: a\nmyd: b\n");
    }

    #[test]
    fn rfc5424_with_and_without_structured_data() {
        let m = parse(
            "<165>1 2026-12-01T02:00:00.003Z host app 1234 ID47 [ex@32473 a=\"1]\" b=\"2\"][x y=\"z\"] \u{feff}An application event",
        );
        assert_eq!(
            m,
            Message {
                facility: "local4",
                severity: "notice",
                tag: Some("app"),
                pid: Some("1234"),
                text: "An application event"
            }
        );
        let m = parse("<14>1 - - - - - - plain");
        assert_eq!((m.tag, m.pid, m.text), (None, None, "plain"));
    }

    #[test]
    fn json_lines_carry_facility_severity_tag_and_pid() {
        assert_eq!(
            line("<78>cron[42]: say \"hi\"", true),
            "{\"time\":\"T\",\"process\":\"syslog\",\"stream\":\"syslog\",\"facility\":\"cron\",\"severity\":\"info\",\"tag\":\"cron\",\"pid\":42,\"line\":\"say \\\"hi\\\"\"}\n"
        );
        assert!(line("x", true).contains("\"tag\":null,\"pid\":null,\"line\":\"x\""));
    }

    #[test]
    fn odd_priorities_are_text() {
        assert_eq!(parse("<999>x").text, "<999>x");
        assert_eq!(parse("<>x").text, "<>x");
        assert_eq!(parse("<191>x").severity, "debug");
    }
}
