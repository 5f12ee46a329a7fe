//! Value syntaxes of the config file: durations, signals, `${NAME}` expansion.
//!
//! Pure functions from text to values; every error is a sentence that names
//! the offending text, so the caller only has to add file, line and key.

use std::time::Duration;

/// Parses `"250ms"`, `"10s"`, `"2m"`, `"1h"`, `"1m30s"`, `"1.5s"`.
/// (Integer seconds are handled by the caller, which sees the TOML type.)
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let s = text.trim();
    if s.is_empty() {
        return Err("empty duration; write e.g. \"500ms\", \"10s\" or \"2m\"".into());
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (num, tail) = rest.split_at(num_len);
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let value: f64 = num
            .parse()
            .map_err(|_| format!("bad duration {text:?}: expected a number before {unit:?}"))?;
        let scale = match unit.trim() {
            "ms" => 0.001,
            "s" => 1.0,
            "m" | "min" => 60.0,
            "h" => 3600.0,
            "" => {
                return Err(format!(
                    "bad duration {text:?}: a unit is needed (ms, s, m or h), or write a bare integer for seconds"
                ));
            }
            other => {
                return Err(format!(
                    "bad duration {text:?}: unknown unit {other:?} (use ms, s, m or h)"
                ));
            }
        };
        total += value * scale;
        rest = tail;
    }
    if !total.is_finite() || total > 365.0 * 86400.0 {
        return Err(format!("bad duration {text:?}: too long"));
    }
    Ok(Duration::from_micros((total * 1e6).round() as u64))
}

/// Formats a duration the way the config writes it (for `podinit check`).
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 {
        "0s".into()
    } else if ms % 60_000 == 0 && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms % 1000 == 0 {
        format!("{}s", ms / 1000)
    } else {
        format!("{ms}ms")
    }
}

const SIGNALS: &[(&str, i32)] = &[
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("POLL", libc::SIGPOLL),
    ("PWR", libc::SIGPWR),
    ("SYS", libc::SIGSYS),
];

/// Signals podinit never blocks nor forwards: faults of its own, which must
/// kill it loudly rather than hang, and those nobody can catch. SIGPIPE stays
/// ignored (Rust's default) so a closed console gives EPIPE, not a signal.
pub fn unblockable(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGKILL
            | libc::SIGSTOP
            | libc::SIGPIPE
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGABRT
            | libc::SIGTRAP
            | libc::SIGSYS
    )
}

/// Highest signal number on Linux (SIGRTMAX).
pub const SIG_MAX: i32 = 64;

/// Parses `"TERM"`, `"SIGTERM"`, `"term"`, `"15"`, `"RTMIN+3"`.
pub fn parse_signal(text: &str) -> Result<i32, String> {
    let s = text.trim();
    if let Ok(n) = s.parse::<i32>() {
        return if (1..=SIG_MAX).contains(&n) {
            Ok(n)
        } else {
            Err(format!(
                "bad signal {text:?}: numbers go from 1 to {SIG_MAX}"
            ))
        };
    }
    let upper = s.to_ascii_uppercase();
    let name = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some((_, n)) = SIGNALS.iter().find(|(sig, _)| *sig == name) {
        return Ok(*n);
    }
    let rt = |base: i32, off: &str, sign: i32| -> Option<i32> {
        let k: i32 = if off.is_empty() { 0 } else { off.parse().ok()? };
        let n = base + sign * k;
        (libc::SIGRTMIN()..=libc::SIGRTMAX())
            .contains(&n)
            .then_some(n)
    };
    let parsed = if let Some(off) = name.strip_prefix("RTMIN") {
        off.strip_prefix('+')
            .or(off.is_empty().then_some(""))
            .and_then(|o| rt(libc::SIGRTMIN(), o, 1))
    } else if let Some(off) = name.strip_prefix("RTMAX") {
        off.strip_prefix('-')
            .or(off.is_empty().then_some(""))
            .and_then(|o| rt(libc::SIGRTMAX(), o, -1))
    } else {
        None
    };
    parsed.ok_or_else(|| {
        format!("unknown signal {text:?}; use a name such as TERM, INT, QUIT, USR1 (with or without SIG) or a number")
    })
}

/// The short name of a signal number, e.g. `15` → `"TERM"`.
pub fn signal_name(n: i32) -> String {
    if let Some((name, _)) = SIGNALS
        .iter()
        .find(|(name, num)| *num == n && *name != "IOT" && *name != "POLL")
    {
        return (*name).to_string();
    }
    if (libc::SIGRTMIN()..=libc::SIGRTMAX()).contains(&n) {
        return format!("RTMIN+{}", n - libc::SIGRTMIN());
    }
    n.to_string()
}

/// Expands `${NAME}` and `${NAME:-default}` from `lookup`; `$$` is a literal `$`.
/// A `$` not followed by `{` or `$` stays as it is. An unset variable without
/// a default is an error that names it.
pub fn expand_vars(text: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    expand(text, lookup, false)
}

/// Marks a secret's path in an expanded `env` value: NUL, which no value
/// may otherwise hold, then the path, then NUL again.
const SECRET_MARK: char = '\0';

/// [`expand_vars`] for an `env` value, where `${file:PATH}` is a secret:
/// kept as a mark (see [`secret_pieces`]) that the start replaces with the
/// file's content, read anew at each start and never printed by `check`.
pub fn expand_env_value(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    expand(text, lookup, true)
}

/// One part of an expanded `env` value.
#[derive(Debug, PartialEq)]
pub enum Piece<'a> {
    Text(&'a str),
    /// `${file:PATH}`: the content of PATH, its trailing newline stripped.
    File(&'a str),
}

/// The parts of an expanded `env` value, in order.
pub fn secret_pieces(value: &str) -> Vec<Piece<'_>> {
    value
        .split(SECRET_MARK)
        .enumerate()
        .filter(|(_, s)| !s.is_empty())
        .map(|(i, s)| {
            if i % 2 == 1 {
                Piece::File(s)
            } else {
                Piece::Text(s)
            }
        })
        .collect()
}

/// Whether an expanded value holds a `${file:...}` secret.
pub fn has_secret(value: &str) -> bool {
    value.contains(SECRET_MARK)
}

/// An expanded `env` value as `check` shows it: secrets as `${file:PATH}`.
pub fn show_env_value(value: &str) -> String {
    secret_pieces(value)
        .iter()
        .map(|p| match p {
            Piece::Text(t) => t.to_string(),
            Piece::File(f) => format!("${{file:{f}}}"),
        })
        .collect()
}

/// `${NAME}`, `${NAME:-default}` and `${file:PATH}` in one value.
/// Long on purpose: a single pass over the bytes, each form an arm of one match.
fn expand(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    secrets: bool,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(pos) = rest.find('$') {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(body) = after.strip_prefix('{') {
            let end = body
                .find('}')
                .ok_or_else(|| format!("unclosed \"${{\" in {text:?}"))?;
            let inner = &body[..end];
            if let Some(path) = inner.strip_prefix("file:") {
                if !secrets {
                    return Err(format!(
                        "${{file:...}} may be used only in an `env` value, not in {text:?}"
                    ));
                }
                if !path.starts_with('/') || path.contains(SECRET_MARK) {
                    return Err(format!(
                        "${{file:{path}}}: the path of a secret must be absolute, as in ${{file:/run/secrets/db_password}}"
                    ));
                }
                out.push(SECRET_MARK);
                out.push_str(path);
                out.push(SECRET_MARK);
                rest = &body[end + 1..];
                continue;
            }
            let (name, default) = match inner.split_once(":-") {
                Some((n, d)) => (n, Some(d)),
                None => (inner, None),
            };
            let valid = !name.is_empty()
                && !name.starts_with(|c: char| c.is_ascii_digit())
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!("bad variable name {name:?} in {text:?}"));
            }
            match (
                lookup(name).filter(|v| !v.is_empty() || default.is_none()),
                default,
            ) {
                (Some(v), _) => out.push_str(&v),
                (None, Some(d)) => out.push_str(d),
                (None, None) => {
                    return Err(format!(
                        "variable {name} is not set (write ${{{name}:-}} to allow an empty value)"
                    ));
                }
            }
            rest = &body[end + 1..];
        } else {
            out.push('$');
            rest = after;
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Sizes: `"512KiB"`, `"10MiB"`, `"1GiB"`, `"100KB"`, `"100B"`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let s = text.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad size {text:?}; write e.g. \"10MiB\""))?;
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "K" => 1 << 10,
        "MiB" | "M" => 1 << 20,
        "GiB" | "G" => 1 << 30,
        "KB" => 1000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "bad size {text:?}: unknown unit {other:?} (B, KiB, MiB, GiB, KB, MB, GB)"
            ));
        }
    };
    n.checked_mul(scale)
        .ok_or_else(|| format!("bad size {text:?}: too large"))
}

/// Signals podinit handles itself and never forwards: shutdown and reload
/// requests, its own SIGCHLD, signals only the kernel sends on a fault of
/// podinit itself, and those a process cannot catch.
pub fn forwardable(sig: i32) -> bool {
    (1..=SIG_MAX).contains(&sig)
        && !unblockable(sig)
        && !matches!(
            sig,
            libc::SIGTERM
                | libc::SIGINT
                | libc::SIGQUIT
                | libc::SIGHUP
                | libc::SIGCHLD
                | libc::SIGTTIN
                | libc::SIGTTOU
        )
}

/// Every signal that is forwarded by default.
pub fn all_forwardable() -> SignalSet {
    (1..=SIG_MAX).filter(|&s| forwardable(s)).collect()
}

/// A set of signals 1 to 64, as one word (a pod of thousands of processes
/// keeps one per process).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SignalSet(u64);

impl SignalSet {
    pub fn contains(&self, sig: &i32) -> bool {
        (1..=SIG_MAX).contains(sig) && self.0 & (1 << (sig - 1)) != 0
    }

    pub fn push(&mut self, sig: i32) {
        if (1..=SIG_MAX).contains(&sig) {
            self.0 |= 1 << (sig - 1);
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    /// The signals, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = i32> + '_ {
        (1..=SIG_MAX).filter(|s| self.contains(s))
    }
}

impl FromIterator<i32> for SignalSet {
    fn from_iter<I: IntoIterator<Item = i32>>(it: I) -> SignalSet {
        let mut set = SignalSet::default();
        for s in it {
            set.push(s);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("10s").unwrap(), Duration::from_secs(10));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1m30s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        for bad in ["", "10", "ten", "10x", "s", "1..2s", "-1s"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_duration("10x").unwrap_err().contains("\"x\""));
    }

    #[test]
    fn duration_round_trip() {
        for s in ["0s", "250ms", "10s", "2m", "1500ms"] {
            assert_eq!(format_duration(parse_duration(s).unwrap()), s);
        }
    }

    #[test]
    fn signals() {
        assert_eq!(parse_signal("TERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("SIGTERM").unwrap(), libc::SIGTERM);
        assert_eq!(parse_signal("sigint").unwrap(), libc::SIGINT);
        assert_eq!(parse_signal("9").unwrap(), 9);
        assert_eq!(parse_signal("RTMIN").unwrap(), libc::SIGRTMIN());
        assert_eq!(parse_signal("RTMIN+2").unwrap(), libc::SIGRTMIN() + 2);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
        for bad in ["", "0", "65", "TERMINATE", "RTMIN+99", "SIG"] {
            assert!(parse_signal(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(signal_name(15), "TERM");
        assert_eq!(signal_name(29), "IO");
        assert_eq!(signal_name(6), "ABRT");
        assert_eq!(signal_name(libc::SIGRTMIN() + 1), "RTMIN+1");
    }

    #[test]
    fn expansion() {
        let env = |k: &str| match k {
            "A" => Some("x y".to_string()),
            "EMPTY" => Some(String::new()),
            _ => None,
        };
        assert_eq!(expand_vars("a${A}b", &env).unwrap(), "ax yb");
        assert_eq!(expand_vars("$$A $A", &env).unwrap(), "$A $A");
        assert_eq!(expand_vars("${B:-dflt}", &env).unwrap(), "dflt");
        assert_eq!(expand_vars("${EMPTY:-d}", &env).unwrap(), "d");
        assert!(
            expand_vars("${file:/s}", &env)
                .unwrap_err()
                .contains("only in an `env`")
        );
        let v = expand_env_value("u:${file:/run/s/pw}@${A}", &env).unwrap();
        assert!(has_secret(&v));
        assert_eq!(
            secret_pieces(&v),
            vec![
                Piece::Text("u:"),
                Piece::File("/run/s/pw"),
                Piece::Text("@x y")
            ]
        );
        assert_eq!(show_env_value(&v), "u:${file:/run/s/pw}@x y");
        assert!(
            expand_env_value("${file:rel}", &env)
                .unwrap_err()
                .contains("absolute")
        );
        assert!(!has_secret(&expand_env_value("$${file:/x}", &env).unwrap()));
        assert_eq!(expand_vars("${EMPTY}", &env).unwrap(), "");
        assert!(
            expand_vars("${B}", &env)
                .unwrap_err()
                .contains("B is not set")
        );
        assert!(expand_vars("${A", &env).is_err());
        assert!(expand_vars("${1A}", &env).is_err());
    }
}
