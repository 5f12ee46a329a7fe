//! The `ready` and `health` probe tables.

use std::time::Duration;

use toml::de::DeValue;

use super::ConfigError;
use super::read::{Ctx, Item, as_int, check_keys};

/// What a probe checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProbeKind {
    /// Runs argv; exit 0 passes.
    Exec(Vec<String>),
    /// Connects to host:port.
    Tcp { host: String, port: u16 },
    /// GET path; a status of 200–399 passes.
    Http {
        host: String,
        port: u16,
        path: String,
    },
    /// The path exists.
    File(String),
    /// A line of the process's output contains the text (readiness only).
    Log(String),
    /// The process writes a newline to fd N (readiness only).
    NotifyFd(i32),
    /// `READY=1` on `$NOTIFY_SOCKET`, as systemd does (readiness only).
    SdNotify,
}

impl ProbeKind {
    /// Probes podinit runs on a schedule, as opposed to ones the process triggers.
    pub fn is_polled(&self) -> bool {
        matches!(
            self,
            ProbeKind::Exec(_)
                | ProbeKind::Tcp { .. }
                | ProbeKind::Http { .. }
                | ProbeKind::File(_)
        )
    }

    pub fn describe(&self) -> String {
        match self {
            ProbeKind::Exec(argv) => format!("exec {argv:?}"),
            ProbeKind::Tcp { host, port } => format!("tcp {host}:{port}"),
            ProbeKind::Http { host, port, path } => format!("http://{host}:{port}{path}"),
            ProbeKind::File(p) => format!("file {p}"),
            ProbeKind::Log(t) => format!("log line containing {t:?}"),
            ProbeKind::NotifyFd(n) => format!("newline on fd {n}"),
            ProbeKind::SdNotify => "sd_notify READY=1".into(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub kind: ProbeKind,
    pub interval: Duration,
    pub timeout: Duration,
    pub initial_delay: Duration,
    /// Consecutive failures that restart the process: health, or a
    /// readiness probe before it first passes (0: never — the default of
    /// `ready`, which then retries for ever).
    pub failures: u32,
    /// `headers` of an `http` probe or hook, sent with its request.
    pub headers: Vec<(String, String)>,
    /// Consecutive passes that make a `readiness` probe's process ready
    /// again after it was not (Kubernetes' successThreshold).
    pub successes: u32,
}

pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(1);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
pub const DEFAULT_FAILURES: u32 = 3;

pub(super) const KINDS: &[&str] = &[
    "exec",
    "tcp",
    "http",
    "file",
    "log",
    "notify_fd",
    "sd_notify",
];

/// Parses `host:port` (IPv6 as `[::1]:80`).
pub fn host_port(s: &str) -> Result<(String, u16), String> {
    let (host, port) = s
        .rsplit_once(':')
        .ok_or_else(|| format!("{s:?} needs a port, as in \"localhost:8080\""))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(format!("{s:?} needs a host, as in \"localhost:8080\""));
    }
    let port: u16 = port
        .parse()
        .ok()
        .filter(|&p| p > 0)
        .ok_or_else(|| format!("bad port in {s:?}"))?;
    Ok((host.to_string(), port))
}

fn http_url(s: &str) -> Result<(String, u16, String), String> {
    let rest = s.strip_prefix("http://").ok_or_else(|| {
        format!("{s:?} must start with http:// (https is not supported by probes)")
    })?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| !p.contains(']'))
    {
        host_port(authority)?
    } else {
        (
            authority
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            80,
        )
    };
    if host.is_empty() {
        return Err(format!("{s:?} has no host"));
    }
    Ok((host, port, path))
}

/// Which key a probe table is under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Ready,
    Health,
    /// `post_start` or `pre_stop`: run once, its result only waited for.
    Hook,
    /// `readiness`: polled for the process's life (Kubernetes' readinessProbe).
    Readiness,
}

/// A `post_start` or `pre_stop` hook (Kubernetes' container lifecycle
/// hooks): a command, a request or a pause, run once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Hook {
    /// `exec`, `http` or `tcp`, given up after `probe.timeout`.
    Run(Probe),
    /// `sleep`: a pause of this long (podinit runs nothing).
    Sleep(std::time::Duration),
}

/// How long a hook may take unless its `timeout` says otherwise
/// (Kubernetes' default grace period).
pub const DEFAULT_HOOK_TIMEOUT: Duration = Duration::from_secs(30);

/// The kinds a hook takes.
pub(super) const HOOK_KINDS: &[&str] = &["exec", "http", "tcp", "sleep"];

impl Hook {
    /// The probe to run, if it is not a pause.
    pub fn probe(&self) -> Option<&Probe> {
        match self {
            Hook::Run(p) => Some(p),
            Hook::Sleep(_) => None,
        }
    }

    /// How long it may take (a pause: its own length).
    pub fn timeout(&self) -> Duration {
        match self {
            Hook::Run(p) => p.timeout,
            Hook::Sleep(d) => *d,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Hook::Run(p) => format!(
                "{} (timeout {})",
                p.kind.describe(),
                super::format_duration(p.timeout)
            ),
            Hook::Sleep(d) => format!("sleep {}", super::format_duration(*d)),
        }
    }
}

/// Parses a `post_start` / `pre_stop` table: one of exec, http, tcp or
/// sleep, and `timeout` for the first three.
pub(super) fn parse_hook(cx: &Ctx, item: &Item) -> Result<Hook, ConfigError> {
    let entries = item.table(cx)?;
    let mut allowed = HOOK_KINDS.to_vec();
    allowed.extend(["timeout", "headers"]);
    check_keys(cx, &entries, &allowed)?;
    let one = || format!("a hook has exactly one of {}", HOOK_KINDS.join(", "));
    let kinds: Vec<_> = entries
        .iter()
        .filter(|(n, _, _)| !matches!(*n, "timeout" | "headers"))
        .collect();
    let [(name, _, v)] = kinds.as_slice() else {
        return Err(match kinds.get(1) {
            Some((_, _, v)) => v.bad(cx, one()),
            None => item.bad(cx, one()),
        });
    };
    let timeout = match entries.iter().find(|(n, _, _)| *n == "timeout") {
        Some((_, _, t)) if *name == "sleep" => {
            return Err(t.bad(cx, "a sleep hook takes no timeout: its length is its time"));
        }
        Some((_, _, t)) => {
            let d = t.duration(cx)?;
            if d.is_zero() {
                return Err(t.bad(cx, "must be more than 0"));
            }
            d
        }
        None => DEFAULT_HOOK_TIMEOUT,
    };
    if *name == "sleep" {
        return Ok(Hook::Sleep(v.duration(cx)?));
    }
    let kind = probe_kind(cx, name, v, Role::Hook)?;
    Ok(Hook::Run(Probe {
        successes: 1,
        headers: headers(cx, &entries, &kind)?,
        kind,
        interval: DEFAULT_INTERVAL,
        timeout,
        initial_delay: Duration::ZERO,
        failures: 1,
    }))
}

/// `headers = { Name = "value" }` of an http probe or hook: names as HTTP
/// tokens, values without line breaks (nothing can be smuggled in).
fn headers(
    cx: &Ctx,
    entries: &[super::read::Entry],
    kind: &ProbeKind,
) -> Result<Vec<(String, String)>, ConfigError> {
    let Some((_, _, h)) = entries.iter().find(|(n, _, _)| *n == "headers") else {
        return Ok(Vec::new());
    };
    if !matches!(kind, ProbeKind::Http { .. }) {
        return Err(h.bad(cx, "only an `http` probe or hook sends headers"));
    }
    let mut out = Vec::new();
    for (name, _, v) in h.table(cx)? {
        let ok = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !ok {
            return Err(v.bad(cx, format!("{name:?} is not an HTTP header name")));
        }
        let val = v.string(cx)?;
        if val.contains(['\r', '\n']) {
            return Err(v.bad(cx, "a header value cannot hold a line break"));
        }
        out.push((name.to_string(), val.to_string()));
    }
    Ok(out)
}

/// Parses a probe table.
pub(super) fn parse(cx: &Ctx, item: &Item, role: Role) -> Result<Probe, ConfigError> {
    let entries = item.table(cx)?;
    let mut allowed: Vec<&str> = KINDS.to_vec();
    allowed.extend([
        "interval",
        "timeout",
        "initial_delay",
        "failures",
        "headers",
    ]);
    if role == Role::Readiness {
        allowed.push("successes");
    }
    check_keys(cx, &entries, &allowed)?;
    let mut probe = Probe {
        successes: 1,
        headers: Vec::new(),
        kind: ProbeKind::SdNotify,
        interval: DEFAULT_INTERVAL,
        timeout: DEFAULT_TIMEOUT,
        initial_delay: Duration::ZERO,
        failures: if role == Role::Ready {
            0
        } else {
            DEFAULT_FAILURES
        },
    };
    let mut kind = None;
    for (name, _, v) in &entries {
        if *name == "headers" {
            continue; // read once the kind is known
        }
        if !setting(cx, &mut probe, name, v)? {
            if kind.is_some() {
                return Err(v.bad(
                    cx,
                    format!("a probe has exactly one of {}", KINDS.join(", ")),
                ));
            }
            kind = Some(probe_kind(cx, name, v, role)?);
        }
    }
    probe.kind =
        kind.ok_or_else(|| item.bad(cx, format!("a probe needs one of {}", KINDS.join(", "))))?;
    probe.headers = headers(cx, &entries, &probe.kind)?;
    Ok(probe)
}

/// A probe's timing setting (`interval`, `timeout`, `initial_delay`,
/// `failures`) into `probe`; false when `name` is not one.
fn setting(cx: &Ctx, probe: &mut Probe, name: &str, v: &Item) -> Result<bool, ConfigError> {
    match name {
        "interval" | "timeout" | "initial_delay" => {
            let d = v.duration(cx)?;
            if d.is_zero() && name != "initial_delay" {
                return Err(v.bad(cx, "must be more than 0"));
            }
            match name {
                "interval" => probe.interval = d,
                "timeout" => probe.timeout = d,
                _ => probe.initial_delay = d,
            }
        }
        "failures" | "successes" => {
            let n = match as_int(v.val) {
                Some(n) if (1..=1_000_000).contains(&n) => n as u32,
                _ => return Err(v.bad(cx, "expected a whole number of at least 1")),
            };
            if name == "failures" {
                probe.failures = n;
            } else {
                probe.successes = n;
            }
        }
        _ => return Ok(false),
    }
    Ok(true)
}

/// The kind key of a probe (`exec`, `tcp`, `http`, `file`, `log`,
/// `notify_fd`, `sd_notify`).
fn probe_kind(cx: &Ctx, name: &str, v: &Item, role: Role) -> Result<ProbeKind, ConfigError> {
    Ok(match name {
        "exec" => {
            let argv = match v.val.get_ref() {
                DeValue::String(s) => shlex::split(s)
                    .ok_or_else(|| v.bad(cx, "unbalanced quotes or a trailing backslash"))?,
                _ => v
                    .array(cx)?
                    .iter()
                    .map(|e| e.string(cx).map(str::to_string))
                    .collect::<Result<Vec<_>, _>>()?,
            };
            if argv.first().is_none_or(|a| a.is_empty()) {
                return Err(v.bad(cx, "the command is empty"));
            }
            ProbeKind::Exec(argv)
        }
        "tcp" => {
            let (host, port) = host_port(v.string(cx)?).map_err(|e| v.bad(cx, e))?;
            ProbeKind::Tcp { host, port }
        }
        "http" => {
            let (host, port, path) = http_url(v.string(cx)?).map_err(|e| v.bad(cx, e))?;
            ProbeKind::Http { host, port, path }
        }
        "file" => ProbeKind::File(v.string(cx)?.to_string()),
        "log" | "notify_fd" | "sd_notify" if matches!(role, Role::Health | Role::Readiness) => {
            return Err(v.bad(cx, "this probe works for `ready` only: it cannot tell when a process stops being ready or healthy"));
        }
        "log" => {
            let t = v.string(cx)?;
            if t.is_empty() {
                return Err(v.bad(cx, "the text is empty"));
            }
            ProbeKind::Log(t.to_string())
        }
        "notify_fd" => match as_int(v.val) {
            Some(n) if (3..=1023).contains(&n) => ProbeKind::NotifyFd(n as i32),
            _ => {
                return Err(v.bad(
                    cx,
                    "expected an fd number from 3 to 1023 (0–2 are stdin, stdout, stderr)",
                ));
            }
        },
        "sd_notify" => {
            if !v.boolean(cx)? {
                return Err(v.bad(
                    cx,
                    "only `sd_notify = true` makes sense; remove the probe instead",
                ));
            }
            ProbeKind::SdNotify
        }
        _ => unreachable!("checked by check_keys"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            host_port("localhost:8080").unwrap(),
            ("localhost".into(), 8080)
        );
        assert_eq!(host_port("[::1]:80").unwrap(), ("::1".into(), 80));
        assert!(host_port("localhost").is_err());
        assert!(host_port(":80").is_err());
        assert!(host_port("h:0").is_err());
        assert!(host_port("h:99999").is_err());
        assert_eq!(
            http_url("http://127.0.0.1:8080/healthz").unwrap(),
            ("127.0.0.1".into(), 8080, "/healthz".into())
        );
        assert_eq!(
            http_url("http://localhost").unwrap(),
            ("localhost".into(), 80, "/".into())
        );
        assert_eq!(
            http_url("http://[::1]/x").unwrap(),
            ("::1".into(), 80, "/x".into())
        );
        assert!(http_url("https://x/").is_err());
    }
}
