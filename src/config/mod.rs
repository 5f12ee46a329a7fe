//! The config file: TOML text → a validated [`Config`].
//!
//! Boundary: reads text and an environment lookup, returns values or one
//! error that names the file, line and key. It never touches the process
//! table, the clock or the file system (except `load_file`, which only reads).

pub mod probe;
pub mod units;

use std::collections::HashMap;
use std::ops::Range;
use std::time::Duration;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::plan::{self, Plan};
pub use probe::{Probe, ProbeKind};
pub use units::{format_duration, signal_name};

/// Where a process's stdout or stderr goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// podinit's own stdout (for stdout) or stderr (for stderr).
    Console,
    Null,
    /// Appended to this file (already joined with `log_dir`).
    File(String),
    /// The stdin of process N.
    Process(usize),
    /// `stderr = "stdout"`: one pipe for both streams.
    Stdout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Prefix,
    Raw,
    Json,
}

impl LogFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            LogFormat::Prefix => "prefix",
            LogFormat::Raw => "raw",
            LogFormat::Json => "json",
        }
    }
}

/// When a process is started again after it exits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Restart {
    Always,
    OnFailure,
    Never,
}

impl Restart {
    pub fn as_str(self) -> &'static str {
        match self {
            Restart::Always => "always",
            Restart::OnFailure => "on-failure",
            Restart::Never => "never",
        }
    }
}

/// When a dependency counts as satisfied.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Condition {
    /// The dependency has been started (spawned successfully).
    Started,
    /// The dependency is ready (started, and its probe passed if it has one).
    Ready,
    /// The dependency (a oneshot) exited with one of its success codes.
    Completed,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Completed => "completed",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Dep {
    /// Index of the dependency in [`Config::procs`].
    pub on: usize,
    pub cond: Condition,
}

/// One process's effective settings, defaults applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcSpec {
    pub name: String,
    /// argv, `${NAME}` already expanded; the `-- COMMAND` process's as
    /// podinit got it (not necessarily UTF-8).
    pub argv: Vec<std::ffi::OsString>,
    pub main: bool,
    pub oneshot: bool,
    pub deps: Vec<Dep>,
    pub stop_signal: i32,
    pub stop_timeout: Duration,
    /// Variables added to podinit's environment, in file order, expanded.
    pub env: Vec<(String, String)>,
    pub success_codes: Vec<i32>,
    /// Signals podinit forwards to this process.
    pub forward_signals: Vec<i32>,
    /// The `-- COMMAND` process: it keeps podinit's stdin.
    pub from_command_line: bool,
    pub restart: Restart,
    pub restart_delay: Duration,
    pub restart_delay_max: Duration,
    /// Consecutive failed runs tolerated before `failed` (None: unlimited).
    pub max_restarts: Option<u32>,
    pub critical: bool,
    pub ready: Option<Probe>,
    pub health: Option<Probe>,
    /// Read at each start (a missing file is a failed start).
    pub env_file: Option<String>,
    pub user: Option<String>,
    pub group: Option<String>,
    pub working_dir: Option<String>,
    pub umask: Option<u32>,
    pub stdout: Target,
    pub stderr: Target,
    /// None: `prefix` on the console, `raw` elsewhere.
    pub log_format: Option<LogFormat>,
    pub log_timestamps: bool,
    /// Rotate file targets past this size (None: never).
    pub log_max_size: Option<u64>,
    pub log_max_files: u32,
    /// PR_SET_NO_NEW_PRIVS before exec: setuid binaries and file
    /// capabilities cannot raise its privileges.
    pub no_new_privs: bool,
}

impl ProcSpec {
    /// The same spec with every process index it holds (dependencies,
    /// `process:` targets) renumbered by `remap` (a reload's new index →
    /// the stable one).
    pub fn with_indices(&self, remap: &[usize]) -> ProcSpec {
        let mut new = self.clone();
        for d in &mut new.deps {
            d.on = remap[d.on];
        }
        for t in [&mut new.stdout, &mut new.stderr] {
            if let Target::Process(c) = t {
                *c = remap[*c];
            }
        }
        new
    }

    /// The format of a stream going to `target`.
    pub fn format_for(&self, target: &Target) -> LogFormat {
        match (self.log_format, target) {
            (Some(f), _) => f,
            (None, Target::Console) => LogFormat::Prefix,
            (None, _) => LogFormat::Raw,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Global {
    pub shutdown_timeout: Duration,
    pub log_dir: String,
    /// None: disabled (`control_socket = ""`).
    pub control_socket: Option<String>,
}

/// `control_socket` when the config does not say: `/run/podinit.sock` as
/// root; otherwise `$XDG_RUNTIME_DIR/podinit.sock`, else a directory of
/// podinit's own (`podinit-UID`, made 0700, refused if another user owns
/// it) in `/run` when podinit may write there (a Kubernetes `emptyDir`),
/// else in `$TMPDIR` or `/tmp`. Never a bare name in a shared directory,
/// which another user could take first.
pub fn default_control_socket(env: EnvLookup) -> String {
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    let run_writable = uid != 0 && crate::sys::writable_dir(std::path::Path::new("/run"));
    default_control_socket_as(uid, run_writable, env)
}

pub fn default_control_socket_as(uid: u32, run_writable: bool, env: EnvLookup) -> String {
    if uid == 0 {
        return "/run/podinit.sock".into();
    }
    if let Some(d) = env("XDG_RUNTIME_DIR").filter(|v| v.starts_with('/')) {
        return format!("{}/podinit.sock", d.trim_end_matches('/'));
    }
    if run_writable {
        return format!("/run/podinit-{uid}/podinit.sock");
    }
    let tmp = env("TMPDIR").filter(|t| t.starts_with('/'));
    let tmp = tmp.as_deref().unwrap_or("/tmp").trim_end_matches('/');
    format!("{tmp}/podinit-{uid}/podinit.sock")
}

/// `log_dir` when the config does not say: the container place as root, a
/// place of the user's own otherwise (`$XDG_STATE_HOME/podinit`, else
/// `$HOME/.local/state/podinit`). Never a shared directory such as /tmp,
/// where another user could read the logs or plant files: without an
/// absolute `XDG_STATE_HOME` or a `HOME` other than `/`, there is no default
/// (empty), and a relative `file:` target is a config error.
pub fn default_log_dir(env: EnvLookup) -> String {
    // SAFETY: geteuid cannot fail.
    default_log_dir_as(unsafe { libc::geteuid() }, env)
}

pub fn default_log_dir_as(uid: u32, env: EnvLookup) -> String {
    if uid == 0 {
        return "/var/log/podinit".into();
    }
    let usable = |v: String| -> Option<String> {
        let v = v.trim_end_matches('/').to_string();
        (v.starts_with('/') && !v.is_empty()).then_some(v)
    };
    if let Some(x) = env("XDG_STATE_HOME").and_then(usable) {
        return format!("{x}/podinit");
    }
    match env("HOME").and_then(usable) {
        Some(h) => format!("{h}/.local/state/podinit"),
        None => String::new(),
    }
}

/// The control socket a config file names, read leniently: the client
/// verbs must find a running podinit even when the file has since been
/// broken (the server validates on `reload`). None: disabled.
pub fn control_socket_of(path: &str, env: EnvLookup) -> Option<String> {
    let default = Some(default_control_socket(env));
    let Ok(text) = std::fs::read_to_string(path) else {
        return default;
    };
    let Ok(doc) = DeTable::parse(&text) else {
        return default;
    };
    let Some(podinit) = doc
        .get_ref()
        .iter()
        .find(|(k, _)| k.get_ref() == "podinit")
        .map(|(_, v)| v)
    else {
        return default;
    };
    let DeValue::Table(t) = podinit.get_ref() else {
        return default;
    };
    match t
        .iter()
        .find(|(k, _)| k.get_ref() == "control_socket")
        .map(|(_, v)| v.get_ref())
    {
        Some(DeValue::String(s)) if s.is_empty() => None,
        Some(DeValue::String(s)) => units::expand_vars(s, env).ok().or(default),
        _ => default,
    }
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

/// A validated pod: processes in file order, and their start/stop plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// Where the config came from, for messages (`None`: command line only).
    pub source: Option<String>,
    pub global: Global,
    pub procs: Vec<ProcSpec>,
    pub plan: Plan,
    /// Per process with `user` or `group`: where that key is (`FILE:LINE: KEY:`).
    pub identity_at: Vec<(usize, String)>,
}

pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// 5 s: a one-level pod's worst case (stop_timeout + the stray sweep's
/// grace) then fits docker stop's 10 s.
pub const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_RESTART_DELAY: Duration = Duration::from_millis(200);
pub const DEFAULT_RESTART_DELAY_MAX: Duration = Duration::from_secs(10);
/// The name of the process that `podinit -- COMMAND` adds.
pub const COMMAND_NAME: &str = "main";

/// Signals podinit handles itself and never forwards: shutdown and reload
/// requests, its own SIGCHLD, signals only the kernel sends on a fault of
/// podinit itself, and those a process cannot catch.
pub fn forwardable(sig: i32) -> bool {
    (1..=units::SIG_MAX).contains(&sig)
        && !units::unblockable(sig)
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
pub fn all_forwardable() -> Vec<i32> {
    (1..=units::SIG_MAX).filter(|&s| forwardable(s)).collect()
}

/// A config error, already formatted as `FILE:LINE: KEY: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Keys of the SPEC that this version does not implement yet: rejected with
/// a message that says so, rather than silently ignored.
const NOT_YET: &[&str] = &[];

const PROCESS_KEYS: &[&str] = &[
    "command",
    "main",
    "oneshot",
    "depends_on",
    "stop_signal",
    "stop_timeout",
    "env",
    "success_codes",
    "forward_signals",
    "restart",
    "restart_delay",
    "restart_delay_max",
    "max_restarts",
    "critical",
    "ready",
    "health",
    "env_file",
    "user",
    "group",
    "working_dir",
    "umask",
    "stdout",
    "stderr",
    "log_format",
    "log_timestamps",
    "log_max_size",
    "log_max_files",
    "no_new_privs",
];

const GLOBAL_KEYS: &[&str] = &["shutdown_timeout", "control_socket", "log_dir"];

type Val<'i> = Spanned<DeValue<'i>>;
/// A table entry: key name, key span, value.
type Entry<'v, 'i> = (&'v str, Range<usize>, Item<'v, 'i>);

struct Ctx<'a> {
    file: &'a str,
    text: &'a str,
    /// Where each process's `user` (else `group`) key is, as
    /// `FILE:LINE: KEY:`, for the identity check of [`load_file`].
    identity_at: std::cell::RefCell<Vec<(usize, String)>>,
}

impl Ctx<'_> {
    fn line(&self, span: &Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text.as_bytes()[..end]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    fn err(&self, span: &Range<usize>, key: &str, msg: impl std::fmt::Display) -> ConfigError {
        ConfigError(format!("{}:{}: {key}: {msg}", self.file, self.line(span)))
    }
}

fn type_name(v: &DeValue) -> &'static str {
    match v {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

fn as_int(v: &Val) -> Option<i64> {
    match v.get_ref() {
        DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
        _ => None,
    }
}

/// A located value: where it is and under which dotted key.
struct Item<'v, 'i> {
    key: String,
    val: &'v Val<'i>,
}

impl<'v, 'i> Item<'v, 'i> {
    fn span(&self) -> Range<usize> {
        self.val.span()
    }

    fn bad(&self, cx: &Ctx, msg: impl std::fmt::Display) -> ConfigError {
        cx.err(&self.span(), &self.key, msg)
    }

    fn wrong_type(&self, cx: &Ctx, want: &str) -> ConfigError {
        self.bad(
            cx,
            format!("expected {want}, found {}", type_name(self.val.get_ref())),
        )
    }

    fn string(&self, cx: &Ctx) -> Result<&'v str, ConfigError> {
        match self.val.get_ref() {
            DeValue::String(s) => Ok(s.as_ref()),
            _ => Err(self.wrong_type(cx, "a string")),
        }
    }

    fn boolean(&self, cx: &Ctx) -> Result<bool, ConfigError> {
        match self.val.get_ref() {
            DeValue::Boolean(b) => Ok(*b),
            _ => Err(self.wrong_type(cx, "true or false")),
        }
    }

    fn duration(&self, cx: &Ctx) -> Result<Duration, ConfigError> {
        match self.val.get_ref() {
            DeValue::String(s) => units::parse_duration(s).map_err(|e| self.bad(cx, e)),
            DeValue::Integer(_) => match as_int(self.val) {
                Some(n) if n >= 0 => Ok(Duration::from_secs(n as u64)),
                _ => Err(self.bad(cx, "a duration cannot be negative")),
            },
            _ => Err(self.wrong_type(cx, "a duration such as \"10s\" or integer seconds")),
        }
    }

    fn signal(&self, cx: &Ctx) -> Result<i32, ConfigError> {
        match self.val.get_ref() {
            DeValue::String(s) => units::parse_signal(s).map_err(|e| self.bad(cx, e)),
            DeValue::Integer(_) => {
                let n = as_int(self.val).unwrap_or(0);
                units::parse_signal(&n.to_string()).map_err(|e| self.bad(cx, e))
            }
            _ => Err(self.wrong_type(cx, "a signal name such as \"TERM\" or a number")),
        }
    }

    fn array(&self, cx: &Ctx) -> Result<Vec<Item<'v, 'i>>, ConfigError> {
        match self.val.get_ref() {
            DeValue::Array(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| Item {
                    key: format!("{}[{i}]", self.key),
                    val: v,
                })
                .collect()),
            _ => Err(self.wrong_type(cx, "an array")),
        }
    }

    /// Entries of a table value, in file order.
    fn table(&self, cx: &Ctx) -> Result<Vec<Entry<'v, 'i>>, ConfigError> {
        match self.val.get_ref() {
            DeValue::Table(t) => Ok(entries(t, &self.key)),
            _ => Err(self.wrong_type(cx, "a table")),
        }
    }
}

/// The entries of a table in the order they appear in the file.
fn entries<'v, 'i>(t: &'v DeTable<'i>, prefix: &str) -> Vec<Entry<'v, 'i>> {
    let mut v: Vec<_> = t
        .iter()
        .map(|(k, val)| {
            let name: &str = k.get_ref().as_ref();
            let key = if prefix.is_empty() {
                name.to_string()
            } else {
                format!("{prefix}.{name}")
            };
            (name, k.span(), Item { key, val })
        })
        .collect();
    v.sort_by_key(|(_, span, _)| span.start);
    v
}

fn check_keys(
    cx: &Ctx,
    items: &[(&str, Range<usize>, Item)],
    allowed: &[&str],
) -> Result<(), ConfigError> {
    for (name, span, item) in items {
        if allowed.contains(name) {
            continue;
        }
        if NOT_YET.contains(name) {
            return Err(cx.err(
                span,
                &item.key,
                "this key of the podinit config format is not supported by this version yet",
            ));
        }
        let mut msg = format!("unknown key; expected one of: {}", allowed.join(", "));
        if let Some(close) = allowed.iter().find(|a| similar(a, name)) {
            msg = format!("unknown key; did you mean `{close}`?");
        }
        return Err(cx.err(span, &item.key, msg));
    }
    Ok(())
}

/// A cheap "did you mean": same letters but one edit, or a different case/separator.
fn similar(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.to_ascii_lowercase().replace('-', "_");
    if norm(a) == norm(b) {
        return true;
    }
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    if a.len().abs_diff(b.len()) > 1 {
        return false;
    }
    // Levenshtein distance ≤ 1.
    let (mut i, mut j, mut edits) = (0, 0, 0);
    while i < a.len() && j < b.len() {
        if a[i] == b[j] {
            i += 1;
            j += 1;
            continue;
        }
        edits += 1;
        if edits > 1 {
            return false;
        }
        match a.len().cmp(&b.len()) {
            std::cmp::Ordering::Greater => i += 1,
            std::cmp::Ordering::Less => j += 1,
            std::cmp::Ordering::Equal => {
                i += 1;
                j += 1;
            }
        }
    }
    edits + (a.len() - i) + (b.len() - j) <= 1
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && !name.starts_with(['.', '-'])
}

/// How the environment of podinit is seen by the loader (injected for tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads and validates a config file.
pub fn load_file(
    path: &str,
    command: Option<Vec<std::ffi::OsString>>,
    env: EnvLookup,
) -> Result<Config, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("{path}: cannot read the config file: {e}")))?;
    let cfg = parse(&text, path, command, env)?;
    check_identities(&cfg)?;
    Ok(cfg)
}

/// Every `user` / `group` can be had: podinit is root, or the identity is
/// its own already. Otherwise the pod would start half-way and fail there.
fn check_identities(cfg: &Config) -> Result<(), ConfigError> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        return Ok(()); // root resolves names at each start (126 if unknown)
    }
    for (idx, at) in &cfg.identity_at {
        let p = &cfg.procs[*idx];
        crate::users::lookup(p.user.as_deref(), p.group.as_deref())
            .and_then(|id| crate::users::switch_needed(&id))
            .map_err(|e| ConfigError(format!("{at} {e}")))?;
    }
    Ok(())
}

/// The pod of `podinit -- COMMAND` without a config file.
pub fn command_only(argv: Vec<std::ffi::OsString>) -> Config {
    let procs = vec![command_proc(argv, Vec::new(), DEFAULT_STOP_TIMEOUT)];
    // One process without dependencies: its plan is that one level.
    let plan = plan::levels(&dependency_lists(&procs)).unwrap_or(Plan {
        levels: vec![vec![0]],
    });
    Config {
        source: None,
        global: Global {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            log_dir: default_log_dir(&|k| std::env::var(k).ok()),
            control_socket: Some(default_control_socket(&|k| std::env::var(k).ok())),
        },
        procs,
        plan,
        identity_at: Vec::new(),
    }
}

fn command_proc(argv: Vec<std::ffi::OsString>, deps: Vec<Dep>, stop_timeout: Duration) -> ProcSpec {
    ProcSpec {
        name: COMMAND_NAME.into(),
        argv,
        main: true,
        oneshot: false,
        deps,
        stop_signal: libc::SIGTERM,
        stop_timeout,
        env: Vec::new(),
        success_codes: vec![0],
        forward_signals: all_forwardable(),
        from_command_line: true,
        restart: Restart::Never,
        restart_delay: DEFAULT_RESTART_DELAY,
        restart_delay_max: DEFAULT_RESTART_DELAY_MAX,
        max_restarts: None,
        critical: false,
        ready: None,
        health: None,
        env_file: None,
        user: None,
        group: None,
        working_dir: None,
        umask: None,
        stdout: Target::Console,
        stderr: Target::Console,
        log_format: None,
        log_timestamps: false,
        log_max_size: None,
        log_max_files: DEFAULT_LOG_MAX_FILES,
        no_new_privs: false,
    }
}

pub const DEFAULT_LOG_MAX_FILES: u32 = 5;

/// Parses and validates config text. `file` names it in messages; `command`
/// is the `-- COMMAND` of the command line, added as process `main`.
pub fn parse(
    text: &str,
    file: &str,
    command: Option<Vec<std::ffi::OsString>>,
    env: EnvLookup,
) -> Result<Config, ConfigError> {
    let cx = Ctx {
        file,
        text,
        identity_at: Default::default(),
    };
    let doc = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim();
        // toml says only "duplicate key": name it, as every error does.
        let what = text.get(span.clone()).unwrap_or("").trim();
        let msg = if msg.starts_with("duplicate") && !what.is_empty() {
            format!(
                "{msg} `{what}`: it is already defined above (a key, or a [table], may appear once)"
            )
        } else {
            msg.to_string()
        };
        ConfigError(format!("{file}:{}: invalid TOML: {msg}", cx.line(&span)))
    })?;
    let top = entries(doc.get_ref(), "");
    check_keys(&cx, &top, &["podinit", "defaults", "process"])?;
    let get = |name: &str| top.iter().find(|(n, _, _)| *n == name).map(|(_, _, i)| i);

    // [podinit]
    let mut global = Global {
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        log_dir: default_log_dir(env),
        control_socket: Some(default_control_socket(env)),
    };
    if let Some(item) = get("podinit") {
        let items = item.table(&cx)?;
        check_keys(&cx, &items, GLOBAL_KEYS)?;
        for (name, _, item) in &items {
            match *name {
                "shutdown_timeout" => global.shutdown_timeout = item.duration(&cx)?,
                "control_socket" => {
                    let v = item.string(&cx)?;
                    global.control_socket = if v.is_empty() {
                        None
                    } else {
                        Some(units::expand_vars(v, env).map_err(|e| item.bad(&cx, e))?)
                    };
                }
                "log_dir" => {
                    let v = item.string(&cx)?;
                    if v.is_empty() {
                        return Err(item.bad(&cx, "must not be empty"));
                    }
                    global.log_dir = units::expand_vars(v, env).map_err(|e| item.bad(&cx, e))?;
                }
                _ => {
                    item.string(&cx)?;
                }
            }
        }
    }

    // [defaults]
    let defaults = match get("defaults") {
        Some(item) => {
            let items = item.table(&cx)?;
            check_keys(&cx, &items, PROCESS_KEYS)?;
            items
        }
        None => Vec::new(),
    };

    // [process.NAME]: names first, so that depends_on can refer forward.
    let procs_items = match get("process") {
        Some(item) => item.table(&cx)?,
        None => Vec::new(),
    };
    let mut index = HashMap::new();
    for (i, (name, span, item)) in procs_items.iter().enumerate() {
        if !valid_name(name) {
            return Err(cx.err(
                span,
                &item.key,
                "a process name may use letters, digits, '_', '-' and '.' (up to 64, not starting with '.' or '-', which the verbs would take for an option)",
            ));
        }
        if command.is_some() && *name == COMMAND_NAME {
            return Err(cx.err(
                span,
                &item.key,
                "the name `main` is taken by the command given after `--`; rename this process",
            ));
        }
        index.insert(name.to_string(), i);
    }

    let mut kinds = Vec::new(); // (oneshot) per process, needed for default conditions
    let mut tables = Vec::new();
    for (_, _, item) in &procs_items {
        let items = item.table(&cx)?;
        check_keys(&cx, &items, PROCESS_KEYS)?;
        let oneshot = match lookup(&items, &defaults, "oneshot") {
            Some(i) => i.boolean(&cx)?,
            None => false,
        };
        kinds.push(oneshot);
        tables.push(items);
    }

    let mut procs = Vec::new();
    for (i, ((name, span, item), items)) in procs_items.iter().zip(&tables).enumerate() {
        procs.push(process(
            &cx,
            name,
            span,
            item,
            items,
            &defaults,
            &index,
            &kinds,
            i,
            env,
            &global.log_dir,
        )?);
    }

    if let Some(argv) = command {
        if argv.is_empty() {
            return Err(ConfigError("the command after `--` is empty".into()));
        }
        let deps = (0..procs.len())
            .map(|on| Dep {
                on,
                cond: if kinds[on] {
                    Condition::Completed
                } else {
                    Condition::Ready
                },
            })
            .collect();
        let stop_timeout = match lookup(&[], &defaults, "stop_timeout") {
            Some(i) => i.duration(&cx)?,
            None => DEFAULT_STOP_TIMEOUT,
        };
        procs.push(command_proc(argv, deps, stop_timeout));
    }

    if procs.is_empty() {
        return Err(ConfigError(format!(
            "{file}: the config defines no process; add a [process.NAME] table or give a command after `--`"
        )));
    }

    // Default forwarding: to the mains, or to everyone when there is no main.
    let any_main = procs.iter().any(|p| p.main);
    for (i, p) in procs.iter_mut().enumerate() {
        let explicit = tables
            .get(i)
            .and_then(|items| lookup(items, &defaults, "forward_signals"))
            .is_some();
        if !explicit && (p.main || !any_main) {
            p.forward_signals = all_forwardable();
        }
    }

    // A producer depends on its consumer being started: the consumer starts
    // first and stops last.
    for p in procs.iter_mut() {
        for t in [p.stdout.clone(), p.stderr.clone()] {
            if let Target::Process(on) = t
                && !p.deps.iter().any(|d| d.on == on)
            {
                p.deps.push(Dep {
                    on,
                    cond: Condition::Started,
                });
            }
        }
    }

    let plan = plan::levels(&dependency_lists(&procs)).map_err(|cycle| {
        let first = cycle[0];
        let (_, span, item) = &procs_items[first];
        let names: Vec<&str> = cycle.iter().map(|&i| procs[i].name.as_str()).collect();
        cx.err(
            span,
            &format!("{}.depends_on", item.key),
            format!("dependency cycle: {} -> {}", names.join(" -> "), names[0]),
        )
    })?;

    Ok(Config {
        source: Some(file.to_string()),
        global,
        procs,
        plan,
        identity_at: cx.identity_at.take(),
    })
}

/// Each process's dependencies as plain indices, for [`plan::levels`].
pub fn dependency_lists(procs: &[ProcSpec]) -> Vec<Vec<usize>> {
    procs
        .iter()
        .map(|p| p.deps.iter().map(|d| d.on).collect())
        .collect()
}

/// A key of a process table, else of `[defaults]`.
fn lookup<'a, 'v, 'i>(
    items: &'a [Entry<'v, 'i>],
    defaults: &'a [Entry<'v, 'i>],
    key: &str,
) -> Option<&'a Item<'v, 'i>> {
    items
        .iter()
        .chain(defaults.iter())
        .find(|(n, _, _)| *n == key)
        .map(|(_, _, i)| i)
}

#[allow(clippy::too_many_arguments)]
fn process(
    cx: &Ctx,
    name: &str,
    span: &Range<usize>,
    table: &Item,
    items: &[Entry],
    defaults: &[Entry],
    index: &HashMap<String, usize>,
    oneshot: &[bool],
    me: usize,
    env: EnvLookup,
    log_dir: &str,
) -> Result<ProcSpec, ConfigError> {
    let get = |key: &str| lookup(items, defaults, key);

    // env first: command expansion sees it.
    let mut vars: Vec<(String, String)> = Vec::new();
    if let Some(item) = get("env") {
        for (k, kspan, v) in item.table(cx)? {
            let valid = !k.is_empty()
                && !k.contains('=')
                && !k.contains('\0')
                && !k.starts_with(|c: char| c.is_ascii_digit());
            if !valid {
                return Err(cx.err(&kspan, &v.key, "not a valid environment variable name"));
            }
            let raw = match v.val.get_ref() {
                DeValue::String(s) => s.to_string(),
                DeValue::Integer(_) | DeValue::Float(_) | DeValue::Boolean(_) => {
                    match v.val.get_ref() {
                        DeValue::Boolean(b) => b.to_string(),
                        DeValue::Integer(i) => {
                            as_int(v.val).map_or_else(|| i.as_str().to_string(), |n| n.to_string())
                        }
                        DeValue::Float(f) => f.as_str().to_string(),
                        _ => unreachable!(),
                    }
                }
                _ => return Err(v.wrong_type(cx, "a string")),
            };
            let value = units::expand_vars(&raw, env).map_err(|e| v.bad(cx, e))?;
            if value.contains('\0') {
                return Err(v.bad(cx, "a value cannot contain a NUL byte"));
            }
            vars.retain(|(n, _)| n != k);
            vars.push((k.to_string(), value));
        }
    }
    let lookup_cmd = |n: &str| -> Option<String> {
        vars.iter()
            .rev()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .or_else(|| env(n))
    };

    let argv = match items.iter().find(|(n, _, _)| *n == "command") {
        None => {
            return Err(cx.err(span, &table.key, "`command` is missing"));
        }
        Some((_, _, item)) => {
            let words: Vec<(String, &Item)> = match item.val.get_ref() {
                DeValue::String(s) => shlex::split(s)
                    .ok_or_else(|| item.bad(cx, "unbalanced quotes or a trailing backslash"))?
                    .into_iter()
                    .map(|w| (w, item))
                    .collect(),
                DeValue::Array(_) => {
                    let mut out = Vec::new();
                    for el in item.array(cx)? {
                        out.push((el.string(cx)?.to_string(), item));
                    }
                    out
                }
                _ => return Err(item.wrong_type(cx, "an argv array or a command string")),
            };
            if words.is_empty() || words[0].0.is_empty() {
                return Err(item.bad(cx, "the command is empty"));
            }
            let mut argv = Vec::new();
            for (w, it) in words {
                let w = units::expand_vars(&w, &lookup_cmd).map_err(|e| it.bad(cx, e))?;
                if w.contains('\0') {
                    return Err(it.bad(cx, "an argument cannot contain a NUL byte"));
                }
                argv.push(w.into());
            }
            argv
        }
    };

    let main = get("main")
        .map(|i| i.boolean(cx))
        .transpose()?
        .unwrap_or(false);
    let is_oneshot = oneshot[me];
    let stop_signal = get("stop_signal")
        .map(|i| i.signal(cx))
        .transpose()?
        .unwrap_or(libc::SIGTERM);
    let stop_timeout = get("stop_timeout")
        .map(|i| i.duration(cx))
        .transpose()?
        .unwrap_or(DEFAULT_STOP_TIMEOUT);

    let mut success_codes = vec![0];
    if let Some(item) = get("success_codes") {
        success_codes.clear();
        for el in item.array(cx)? {
            match as_int(el.val) {
                Some(n) if (0..=255).contains(&n) => success_codes.push(n as i32),
                Some(_) => return Err(el.bad(cx, "an exit status goes from 0 to 255")),
                None => return Err(el.wrong_type(cx, "an integer exit status")),
            }
        }
    }

    let mut forward_signals = Vec::new();
    if let Some(item) = get("forward_signals") {
        for el in item.array(cx)? {
            let sig = el.signal(cx)?;
            if !forwardable(sig) {
                return Err(el.bad(
                    cx,
                    format!(
                        "SIG{} is handled by podinit itself and cannot be forwarded",
                        signal_name(sig)
                    ),
                ));
            }
            forward_signals.push(sig);
        }
    }

    let mut deps: Vec<Dep> = Vec::new();
    if let Some(item) = get("depends_on") {
        let mut add = |dep_name: &str, dspan: &Range<usize>, key: &str, cond: Option<Condition>| {
            let Some(&on) = index.get(dep_name) else {
                let known: Vec<&str> = {
                    let mut k: Vec<&str> = index.keys().map(|s| s.as_str()).collect();
                    k.sort();
                    k
                };
                return Err(cx.err(
                    dspan,
                    key,
                    format!(
                        "unknown process {dep_name:?} (defined: {})",
                        known.join(", ")
                    ),
                ));
            };
            if on == me {
                return Err(cx.err(dspan, key, format!("dependency cycle: {name} -> {name}")));
            }
            let cond = cond.unwrap_or(if oneshot[on] {
                Condition::Completed
            } else {
                Condition::Ready
            });
            if cond == Condition::Completed && !oneshot[on] {
                return Err(cx.err(
                    dspan,
                    key,
                    format!("{dep_name:?} is not a oneshot, so it never becomes `completed`; use \"started\" or \"ready\", or set oneshot = true on it"),
                ));
            }
            if deps.iter().any(|d| d.on == on) {
                return Err(cx.err(dspan, key, format!("{dep_name:?} is listed twice")));
            }
            deps.push(Dep { on, cond });
            Ok(())
        };
        match item.val.get_ref() {
            DeValue::Array(_) => {
                for el in item.array(cx)? {
                    let n = el.string(cx)?;
                    add(n, &el.span(), &el.key, None)?;
                }
            }
            DeValue::Table(_) => {
                for (n, nspan, v) in item.table(cx)? {
                    let cond = match v.string(cx)? {
                        "started" => Condition::Started,
                        "ready" => Condition::Ready,
                        "completed" => Condition::Completed,
                        other => {
                            return Err(v.bad(
                                cx,
                                format!("unknown condition {other:?}; expected \"started\", \"ready\" or \"completed\""),
                            ));
                        }
                    };
                    add(n, &nspan, &v.key, Some(cond))?;
                }
            }
            _ => {
                return Err(item.wrong_type(cx, "an array of names or a table of name = condition"));
            }
        }
    }

    let restart = match get("restart") {
        Some(i) => {
            match i.string(cx)? {
                "always" => Restart::Always,
                "on-failure" => Restart::OnFailure,
                "never" => Restart::Never,
                other => {
                    return Err(i.bad(
                    cx,
                    format!("unknown policy {other:?}; expected \"always\", \"on-failure\" or \"never\""),
                ));
                }
            }
        }
        None if main || is_oneshot => Restart::Never,
        None => Restart::Always,
    };
    let restart_delay = get("restart_delay")
        .map(|i| i.duration(cx))
        .transpose()?
        .unwrap_or(DEFAULT_RESTART_DELAY);
    let restart_delay_max = match get("restart_delay_max") {
        Some(i) => {
            let d = i.duration(cx)?;
            if d < restart_delay {
                return Err(i.bad(cx, "must not be less than restart_delay"));
            }
            d
        }
        None => DEFAULT_RESTART_DELAY_MAX.max(restart_delay),
    };
    let max_restarts = match get("max_restarts") {
        Some(i) => match as_int(i.val) {
            Some(n) if (0..=u32::MAX as i64).contains(&n) => Some(n as u32),
            _ => return Err(i.bad(cx, "expected a whole number (0 or more)")),
        },
        None => None,
    };
    let critical = get("critical")
        .map(|i| i.boolean(cx))
        .transpose()?
        .unwrap_or(false);
    let ready = get("ready")
        .map(|i| probe::parse(cx, i, false))
        .transpose()?;
    let health = get("health")
        .map(|i| probe::parse(cx, i, true))
        .transpose()?;
    let opt_string = |key: &str| -> Result<Option<String>, ConfigError> {
        match get(key) {
            None => Ok(None),
            Some(i) => {
                let v = i.string(cx)?;
                if v.is_empty() || v.contains('\0') {
                    return Err(i.bad(cx, "must not be empty"));
                }
                units::expand_vars(v, env)
                    .map(Some)
                    .map_err(|e| i.bad(cx, e))
            }
        }
    };
    let env_file = opt_string("env_file")?;
    let working_dir = opt_string("working_dir")?;
    let id = |key: &str| -> Result<Option<String>, ConfigError> {
        match get(key) {
            None => Ok(None),
            Some(i) => match i.val.get_ref() {
                DeValue::Integer(_) => match as_int(i.val) {
                    Some(n) if (0..u32::MAX as i64).contains(&n) => Ok(Some(n.to_string())),
                    _ => Err(i.bad(cx, "not a valid id")),
                },
                _ => opt_string(key),
            },
        }
    };
    let user = id("user")?;
    let group = id("group")?;
    if let Some(i) = get("user").or_else(|| get("group")) {
        let at = i.bad(cx, "").0.trim_end().to_string();
        cx.identity_at.borrow_mut().push((me, at));
    }
    let umask = match get("umask") {
        None => None,
        Some(i) => {
            let n = match i.val.get_ref() {
                DeValue::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8).ok(),
                DeValue::Integer(_) => as_int(i.val).and_then(|n| u32::try_from(n).ok()),
                _ => None,
            };
            match n {
                Some(n) if n <= 0o777 => Some(n),
                _ => return Err(i.bad(cx, "expected an octal mode such as \"022\" or 0o022")),
            }
        }
    };

    let target = |key: &str| -> Result<Target, ConfigError> {
        let Some(i) = get(key) else {
            return Ok(Target::Console);
        };
        let v = i.string(cx)?;
        Ok(match v {
            "console" => Target::Console,
            "null" => Target::Null,
            "stdout" if key == "stderr" => Target::Stdout,
            _ if v.starts_with("file:") => {
                let path = units::expand_vars(&v[5..], env).map_err(|e| i.bad(cx, e))?;
                if path.is_empty() || path.ends_with('/') {
                    return Err(i.bad(cx, "`file:` needs a file name, as in \"file:app.log\""));
                }
                Target::File(if path.starts_with('/') {
                    path
                } else if log_dir.is_empty() {
                    return Err(i.bad(
                        cx,
                        format!(
                            "{path:?} is relative to log_dir, which has no default here (podinit is not root and \
                             has no usable $XDG_STATE_HOME or $HOME); set [podinit] log_dir or give an absolute path"
                        ),
                    ));
                } else {
                    format!("{}/{path}", log_dir.trim_end_matches('/'))
                })
            }
            _ if v.starts_with("process:") => {
                let other = &v[8..];
                let Some(&on) = index.get(other) else {
                    return Err(i.bad(cx, format!("unknown process {other:?}")));
                };
                if on == me {
                    return Err(i.bad(cx, "a process cannot write to its own stdin"));
                }
                Target::Process(on)
            }
            _ => {
                let also = if key == "stderr" { ", \"stdout\"" } else { "" };
                return Err(i.bad(
                    cx,
                    format!("unknown target {v:?}; expected \"console\", \"null\", \"file:PATH\", \"process:NAME\"{also}"),
                ));
            }
        })
    };
    let stdout = target("stdout")?;
    let stderr = target("stderr")?;
    let log_format = match get("log_format") {
        None => None,
        Some(i) => Some(match i.string(cx)? {
            "prefix" => LogFormat::Prefix,
            "raw" => LogFormat::Raw,
            "json" => LogFormat::Json,
            other => {
                return Err(i.bad(
                    cx,
                    format!("unknown format {other:?}; expected \"prefix\", \"raw\" or \"json\""),
                ));
            }
        }),
    };
    let log_timestamps = get("log_timestamps")
        .map(|i| i.boolean(cx))
        .transpose()?
        .unwrap_or(false);
    let log_max_size = match get("log_max_size") {
        None => None,
        Some(i) => {
            let n = match i.val.get_ref() {
                DeValue::String(s) => parse_size(s).map_err(|e| i.bad(cx, e))?,
                DeValue::Integer(_) => as_int(i.val)
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| i.bad(cx, "a size cannot be negative"))?,
                _ => return Err(i.wrong_type(cx, "a size such as \"10MiB\" or integer bytes")),
            };
            if n < 1024 {
                return Err(i.bad(cx, "rotating below 1KiB makes no sense"));
            }
            Some(n)
        }
    };
    let log_max_files = match get("log_max_files") {
        None => DEFAULT_LOG_MAX_FILES,
        Some(i) => match as_int(i.val) {
            Some(n) if (1..=1000).contains(&n) => n as u32,
            _ => return Err(i.bad(cx, "expected a whole number from 1 to 1000")),
        },
    };

    Ok(ProcSpec {
        name: name.to_string(),
        argv,
        main,
        oneshot: is_oneshot,
        deps,
        stop_signal,
        stop_timeout,
        env: vars,
        success_codes,
        forward_signals,
        from_command_line: false,
        restart,
        restart_delay,
        restart_delay_max,
        max_restarts,
        critical,
        ready,
        health,
        env_file,
        user,
        group,
        working_dir,
        umask,
        stdout,
        stderr,
        log_format,
        log_timestamps,
        log_max_size,
        log_max_files,
        no_new_privs: get("no_new_privs")
            .map(|i| i.boolean(cx))
            .transpose()?
            .unwrap_or(false),
    })
}

/// The longest a shutdown can take: along the stop order, each level waits
/// for its slowest `stop_timeout`, then strays get the sweep's grace (the
/// longest `stop_timeout`); `shutdown_timeout` caps the whole.
pub fn worst_case_shutdown(cfg: &Config) -> Duration {
    let slowest = |ids: &[usize]| {
        ids.iter()
            .map(|&i| cfg.procs[i].stop_timeout)
            .max()
            .unwrap_or_default()
    };
    let levels: Duration = cfg.plan.levels.iter().map(|l| slowest(l)).sum();
    let all: Vec<usize> = (0..cfg.procs.len()).collect();
    (levels + slowest(&all)).min(cfg.global.shutdown_timeout)
}

/// What would fail at run time in this environment, found before anything
/// starts: log files podinit cannot write (their output would be kept in
/// memory, retried, and lost at exit) and a control socket it cannot bind.
/// `podinit check` prints these; the run logs them as warnings.
pub fn warnings(cfg: &Config) -> Vec<String> {
    let mut out = Vec::new();
    for p in &cfg.procs {
        for (key, target) in [("stdout", &p.stdout), ("stderr", &p.stderr)] {
            if let Target::File(path) = target
                && let Some(why) = crate::sys::write_problem(std::path::Path::new(path))
            {
                out.push(format!(
                    "process.{}.{key}: {why}; this output would be kept in memory, retried every second, and lost at exit (set [podinit] log_dir or the target)",
                    p.name
                ));
            }
        }
    }
    if let Some(sock) = &cfg.global.control_socket
        && let Some(why) = crate::sys::write_problem(std::path::Path::new(sock))
    {
        out.push(format!(
            "podinit.control_socket: {why}; `podinit status` and the other verbs would not reach the pod"
        ));
    }
    out
}

/// docker stop's default grace period (`docker run --stop-timeout`).
const DOCKER_STOP_GRACE: Duration = Duration::from_secs(10);

/// `podinit check`: the plan and every process's effective settings.
pub fn describe(cfg: &Config) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let names = |ids: &[usize]| -> String {
        ids.iter()
            .map(|&i| cfg.procs[i].name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let _ = writeln!(
        out,
        "config: {}",
        cfg.source.as_deref().unwrap_or("(none: command line only)")
    );
    let _ = writeln!(
        out,
        "shutdown_timeout: {}",
        format_duration(cfg.global.shutdown_timeout)
    );
    let worst = worst_case_shutdown(cfg);
    let _ = writeln!(
        out,
        "worst-case shutdown: {}{}",
        format_duration(worst),
        if worst > DOCKER_STOP_GRACE {
            " (more than docker stop's 10s: raise it with --stop-timeout or stop_grace_period)"
        } else {
            ""
        }
    );
    let _ = writeln!(
        out,
        "log_dir: {}",
        if cfg.global.log_dir.is_empty() {
            "(none: podinit is not root and has no usable $XDG_STATE_HOME or $HOME)"
        } else {
            &cfg.global.log_dir
        }
    );
    let _ = writeln!(
        out,
        "control_socket: {}",
        cfg.global.control_socket.as_deref().unwrap_or("(disabled)")
    );
    let _ = writeln!(
        out,
        "start order (each line starts once the lines above are up; a line starts in parallel):"
    );
    for (n, level) in cfg.plan.levels.iter().enumerate() {
        let _ = writeln!(out, "  {}. {}", n + 1, names(level));
    }
    let _ = writeln!(out, "stop order (the reverse):");
    for (n, level) in cfg.plan.levels.iter().rev().enumerate() {
        let _ = writeln!(out, "  {}. {}", n + 1, names(level));
    }
    for p in &cfg.procs {
        let _ = writeln!(out, "\n[process.{}]", p.name);
        let _ = writeln!(out, "  command = {:?}", p.argv);
        let kind = if p.oneshot { "oneshot" } else { "long-running" };
        let _ = writeln!(out, "  kind = {kind}{}", if p.main { ", main" } else { "" });
        let deps: Vec<String> = p
            .deps
            .iter()
            .map(|d| format!("{} ({})", cfg.procs[d.on].name, d.cond.as_str()))
            .collect();
        let _ = writeln!(
            out,
            "  depends_on = {}",
            if deps.is_empty() {
                "(none)".into()
            } else {
                deps.join(", ")
            }
        );
        let _ = writeln!(out, "  stop_signal = SIG{}", signal_name(p.stop_signal));
        let _ = writeln!(out, "  stop_timeout = {}", format_duration(p.stop_timeout));
        let _ = writeln!(out, "  success_codes = {:?}", p.success_codes);
        let fwd: Vec<String> = p.forward_signals.iter().map(|&s| signal_name(s)).collect();
        let fwd = if p.forward_signals == all_forwardable() {
            "(all forwardable signals)".to_string()
        } else if fwd.is_empty() {
            "(none)".to_string()
        } else {
            fwd.join(", ")
        };
        let _ = writeln!(out, "  forward_signals = {fwd}");
        let _ = writeln!(
            out,
            "  restart = {} (delay {} doubling to {}, max_restarts {})",
            p.restart.as_str(),
            format_duration(p.restart_delay),
            format_duration(p.restart_delay_max),
            p.max_restarts
                .map_or("unlimited".to_string(), |n| n.to_string())
        );
        if p.critical {
            let _ = writeln!(out, "  critical = true");
        }
        for (key, probe) in [("ready", &p.ready), ("health", &p.health)] {
            if let Some(pr) = probe {
                let _ = write!(out, "  {key} = {}", pr.kind.describe());
                if pr.kind.is_polled() {
                    let _ = write!(
                        out,
                        " every {} (timeout {}, initial_delay {})",
                        format_duration(pr.interval),
                        format_duration(pr.timeout),
                        format_duration(pr.initial_delay)
                    );
                }
                if key == "health" {
                    let _ = write!(out, ", restart after {} failures", pr.failures);
                }
                let _ = writeln!(out);
            }
        }
        for (key, v) in [
            ("user", &p.user),
            ("group", &p.group),
            ("working_dir", &p.working_dir),
            ("env_file", &p.env_file),
        ] {
            if let Some(v) = v {
                let _ = writeln!(out, "  {key} = {v}");
            }
        }
        if let Some(m) = p.umask {
            let _ = writeln!(out, "  umask = {m:03o}");
        }
        let show = |t: &Target| match t {
            Target::Console => "console".to_string(),
            Target::Null => "null".to_string(),
            Target::File(f) => format!("file:{f}"),
            Target::Process(i) => format!("process:{}", cfg.procs[*i].name),
            Target::Stdout => "stdout (one pipe for both)".to_string(),
        };
        let err_fmt = if p.stderr == Target::Stdout {
            String::new()
        } else {
            format!(" ({})", p.format_for(&p.stderr).as_str())
        };
        let _ = writeln!(
            out,
            "  stdout = {} ({}), stderr = {}{err_fmt}",
            show(&p.stdout),
            p.format_for(&p.stdout).as_str(),
            show(&p.stderr),
        );
        if p.log_timestamps {
            let _ = writeln!(out, "  log_timestamps = true");
        }
        if p.no_new_privs {
            let _ = writeln!(out, "  no_new_privs = true");
        }
        if let Some(n) = p.log_max_size {
            let _ = writeln!(
                out,
                "  rotation: at {n} bytes, keeping {} files",
                p.log_max_files
            );
        }
        for (k, v) in &p.env {
            let _ = writeln!(out, "  env.{k} = {v:?}");
        }
    }
    out
}

#[cfg(test)]
mod tests;
