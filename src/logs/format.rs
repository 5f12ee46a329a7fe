//! Line framing and the three formats: `raw`, `prefix`, `json`.
//!
//! Boundary: bytes in, formatted bytes out; the time is passed in. No I/O.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::config::LogFormat;

/// Lines longer than this are split into parts (`prefix` and `json`).
pub const MAX_LINE: usize = 64 * 1024;

/// RFC 3339 UTC with milliseconds, e.g. `2026-11-26T11:40:00.123Z`.
pub fn rfc3339(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_millis()
    )
}

pub use crate::json::escape as json_escape;

/// The coloured, padded `NAME | ` of the `prefix` format.
fn make_prefix(name: &str, width: usize, colour: Option<u8>) -> Vec<u8> {
    let mut prefix = Vec::new();
    if let Some(c) = colour {
        prefix.extend_from_slice(format!("\x1b[{c}m").as_bytes());
    }
    prefix.extend_from_slice(format!("{name:<width$}").as_bytes());
    if colour.is_some() {
        prefix.extend_from_slice(b"\x1b[0m");
    }
    prefix.extend_from_slice(b" | ");
    prefix
}

/// Which of a process's output streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    Stdout,
    Stderr,
}

impl StreamKind {
    pub fn as_str(self) -> &'static str {
        match self {
            StreamKind::Stdout => "stdout",
            StreamKind::Stderr => "stderr",
        }
    }

    /// podinit's own fd for a console target of this stream.
    pub fn console_fd(self) -> i32 {
        match self {
            StreamKind::Stdout => 1,
            StreamKind::Stderr => 2,
        }
    }
}

/// Turns one stream's bytes into its target's format.
pub struct Framer {
    format: LogFormat,
    timestamps: bool,
    /// `prefix`: the colour of the name, if any.
    colour: Option<u8>,
    /// `prefix`: the coloured, padded `NAME | ` put before each line.
    prefix: Vec<u8>,
    /// An unterminated line carried over to the next chunk.
    partial: Vec<u8>,
    /// The time of the chunk being framed, formatted once for all its lines.
    stamp: String,
    /// The part of a json line between the time and the line, the same for all.
    json_middle: Vec<u8>,
}

impl Framer {
    pub fn new(
        format: LogFormat,
        timestamps: bool,
        name: &str,
        width: usize,
        colour: Option<u8>,
        stream: StreamKind,
    ) -> Framer {
        // Only what the format uses is made (a big pod has many framers).
        let prefix = if format == LogFormat::Prefix {
            make_prefix(name, width, colour)
        } else {
            Vec::new()
        };
        let mut json_middle = Vec::new();
        if format == LogFormat::Json {
            json_middle.extend_from_slice(b"\",\"process\":\"");
            json_escape(name, &mut json_middle);
            json_middle.extend_from_slice(b"\",\"stream\":\"");
            json_middle.extend_from_slice(stream.as_str().as_bytes());
            json_middle.extend_from_slice(b"\",\"line\":\"");
        }
        Framer {
            format,
            timestamps,
            colour,
            prefix,
            partial: Vec::new(),
            stamp: String::new(),
            json_middle,
        }
    }

    /// Pads the `prefix` name to a new width (names added by a reload).
    pub fn realign(&mut self, name: &str, width: usize) {
        if self.format == LogFormat::Prefix {
            self.prefix = make_prefix(name, width, self.colour);
        }
    }

    /// Whether bytes pass through unchanged (no line framing at all).
    pub fn is_passthrough(&self) -> bool {
        self.format == LogFormat::Raw && !self.timestamps
    }

    /// Formats `data`; complete lines go to `out`, the rest waits.
    pub fn feed(&mut self, data: &[u8], now: SystemTime, out: &mut Vec<u8>) {
        if self.is_passthrough() {
            out.extend_from_slice(data);
            return;
        }
        if self.timestamps || self.format == LogFormat::Json {
            self.stamp = rfc3339(now);
        }
        out.reserve(data.len() + data.len() / 4);
        let mut rest = data;
        while let Some(nl) = find_newline(rest) {
            if self.partial.is_empty() {
                self.emit_long(&rest[..nl], now, out);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&rest[..nl]);
                self.emit_long(&line, now, out);
            }
            rest = &rest[nl + 1..];
        }
        self.partial.extend_from_slice(rest);
        // A line that grows past the limit is written out in parts.
        while self.partial.len() > MAX_LINE {
            let part: Vec<u8> = self.partial.drain(..MAX_LINE).collect();
            self.emit(&part, true, now, out);
        }
    }

    /// Delivers an unterminated last line as a line (the process ended).
    pub fn finish(&mut self, now: SystemTime, out: &mut Vec<u8>) {
        if !self.partial.is_empty() {
            self.stamp = rfc3339(now);
            let line = std::mem::take(&mut self.partial);
            self.emit_long(&line, now, out);
        }
    }

    fn emit_long(&mut self, line: &[u8], now: SystemTime, out: &mut Vec<u8>) {
        let mut chunks = line.chunks(MAX_LINE).peekable();
        if chunks.peek().is_none() {
            self.emit(b"", false, now, out);
        }
        while let Some(c) = chunks.next() {
            self.emit(c, chunks.peek().is_some(), now, out);
        }
    }

    /// One line (or one part of a long line, `partial`).
    fn emit(&self, line: &[u8], partial: bool, _now: SystemTime, out: &mut Vec<u8>) {
        match self.format {
            LogFormat::Raw | LogFormat::Prefix => {
                if self.timestamps {
                    out.extend_from_slice(self.stamp.as_bytes());
                    out.push(b' ');
                }
                if self.format == LogFormat::Prefix {
                    out.extend_from_slice(&self.prefix);
                }
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            LogFormat::Json => {
                out.extend_from_slice(b"{\"time\":\"");
                out.extend_from_slice(self.stamp.as_bytes());
                // `","process":"NAME","stream":"S","line":"`, made once.
                out.extend_from_slice(&self.json_middle);
                if !needs_escape(line) {
                    // Plain printable ASCII, by far the common case: no escaping.
                    out.extend_from_slice(line);
                } else {
                    json_escape(&String::from_utf8_lossy(line), out);
                }
                out.push(b'"');
                if partial {
                    out.extend_from_slice(b",\"partial\":true");
                }
                out.extend_from_slice(b"}\n");
            }
        }
    }
}

/// The first `\n` in `hay`, a word at a time (lines are long, newlines rare).
pub fn find_newline(hay: &[u8]) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    const NL: u64 = LO * b'\n' as u64;
    let mut i = 0;
    while i + 8 <= hay.len() {
        let mut w = [0u8; 8];
        w.copy_from_slice(&hay[i..i + 8]);
        let x = u64::from_le_bytes(w) ^ NL;
        if (x.wrapping_sub(LO) & !x & HI) != 0 {
            break;
        }
        i += 8;
    }
    hay[i..].iter().position(|&b| b == b'\n').map(|p| p + i)
}

/// Whether a JSON string needs more than a copy of these bytes: a control
/// byte, `"`, `\\`, or anything not ASCII (checked for UTF-8), 8 at a time.
pub fn needs_escape(s: &[u8]) -> bool {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let has_zero = |x: u64| x.wrapping_sub(LO) & !x & HI;
    let mut chunks = s.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let x = u64::from_le_bytes(w);
        // A byte below 0x20 borrows into its high bit, which it did not have.
        let control = x.wrapping_sub(LO * 0x20) & !x & HI;
        let bad = control
            | (x & HI)
            | has_zero(x ^ (LO * b'"' as u64))
            | has_zero(x ^ (LO * b'\\' as u64));
        if bad != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| !(0x20..0x80).contains(&b) || b == b'"' || b == b'\\')
}

/// Finds a line containing `text` (the `log` readiness probe).
pub struct LineWatch {
    text: Vec<u8>,
    carry: Vec<u8>,
}

impl LineWatch {
    pub fn new(text: &str) -> LineWatch {
        LineWatch {
            text: text.as_bytes().to_vec(),
            carry: Vec::new(),
        }
    }

    /// Whether a line seen so far (complete or not) contains the text.
    pub fn feed(&mut self, data: &[u8]) -> bool {
        for piece in data.split_inclusive(|&b| b == b'\n') {
            self.carry.extend_from_slice(piece);
            if contains(&self.carry, &self.text) {
                return true;
            }
            if piece.ends_with(b"\n") {
                self.carry.clear();
            } else if self.carry.len() > MAX_LINE {
                let keep = self.carry.split_off(self.carry.len() - self.text.len());
                self.carry = keep;
            }
        }
        false
    }
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn t() -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(1_795_866_123_456)
    }

    fn run(f: &mut Framer, chunks: &[&[u8]], finish: bool) -> String {
        let mut out = Vec::new();
        for c in chunks {
            f.feed(c, t(), &mut out);
        }
        if finish {
            f.finish(t(), &mut out);
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(t()), "2026-11-28T11:42:03.456Z");
        assert_eq!(
            rfc3339(UNIX_EPOCH + Duration::from_secs(951_782_400)),
            "2000-02-29T00:00:00.000Z"
        );
    }

    #[test]
    fn prefix_frames_lines_across_chunks() {
        let mut f = Framer::new(LogFormat::Prefix, false, "db", 5, None, StreamKind::Stdout);
        let s = run(&mut f, &[b"hel", b"lo\nwor", b"ld\n\nlast"], true);
        assert_eq!(s, "db    | hello\ndb    | world\ndb    | \ndb    | last\n");
        let mut f = Framer::new(
            LogFormat::Prefix,
            true,
            "a",
            1,
            Some(32),
            StreamKind::Stdout,
        );
        assert_eq!(
            run(&mut f, &[b"x\n"], false),
            "2026-11-28T11:42:03.456Z \x1b[32ma\x1b[0m | x\n"
        );
    }

    #[test]
    fn raw_passes_bytes_through() {
        let mut f = Framer::new(LogFormat::Raw, false, "a", 1, None, StreamKind::Stdout);
        assert!(f.is_passthrough());
        assert_eq!(run(&mut f, &[b"no newline"], true), "no newline");
        let mut f = Framer::new(LogFormat::Raw, true, "a", 1, None, StreamKind::Stdout);
        assert_eq!(
            run(&mut f, &[b"a\nb"], true),
            "2026-11-28T11:42:03.456Z a\n2026-11-28T11:42:03.456Z b\n"
        );
    }

    #[test]
    fn json_escapes_and_replaces_bad_utf8() {
        let mut f = Framer::new(LogFormat::Json, false, "we\"b", 1, None, StreamKind::Stderr);
        let s = run(&mut f, &[b"tab\there \"q\" \\ \x01 \xff end\n"], false);
        assert_eq!(
            s,
            "{\"time\":\"2026-11-28T11:42:03.456Z\",\"process\":\"we\\\"b\",\"stream\":\"stderr\",\"line\":\"tab\\there \\\"q\\\" \\\\ \\u0001 \u{fffd} end\"}\n"
        );
    }

    #[test]
    fn long_lines_are_split_into_marked_parts() {
        let mut f = Framer::new(LogFormat::Json, false, "a", 1, None, StreamKind::Stdout);
        let long = vec![b'x'; MAX_LINE * 2 + 10];
        let mut input = long.clone();
        input.push(b'\n');
        let s = run(&mut f, &[&input[..1000], &input[1000..]], false);
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[0].ends_with(",\"partial\":true}") && lines[1].ends_with(",\"partial\":true}")
        );
        assert!(!lines[2].contains("partial"));
        let total: usize = lines.iter().map(|l| l.matches('x').count()).sum();
        assert_eq!(total, long.len(), "no byte lost");
        let mut f = Framer::new(LogFormat::Prefix, false, "a", 1, None, StreamKind::Stdout);
        let s = run(&mut f, &[&input], false);
        assert_eq!(s.lines().count(), 3);
        assert_eq!(s.matches('x').count(), long.len());
    }

    #[test]
    fn escape_detection_matches_the_slow_rule() {
        let slow = |s: &[u8]| {
            s.iter()
                .any(|&b| !(0x20..0x80).contains(&b) || b == b'"' || b == b'\\')
        };
        let mut samples: Vec<Vec<u8>> = vec![b"plain ascii text, long enough".to_vec(), Vec::new()];
        for b in 0u8..=255 {
            for at in [0, 3, 7, 8, 13] {
                let mut v = b"abcdefghijklmnop".to_vec();
                v[at] = b;
                samples.push(v);
            }
        }
        for s in samples {
            assert_eq!(needs_escape(&s), slow(&s), "{s:?}");
        }
    }

    #[test]
    fn newline_search() {
        for len in 0..40 {
            for at in 0..len {
                let mut v = vec![b'a'; len];
                v[at] = b'\n';
                assert_eq!(find_newline(&v), Some(at));
            }
            assert_eq!(find_newline(&vec![0x8a; len]), None);
        }
    }

    #[test]
    fn line_watch() {
        let mut w = LineWatch::new("ready to serve");
        assert!(!w.feed(b"starting\nready to "));
        assert!(w.feed(b"serve on :80\n"));
        let mut w = LineWatch::new("ok");
        assert!(!w.feed(b"o\nk\n"), "not across lines");
    }
}
