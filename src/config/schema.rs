//! The schema: what a validated config is made of, and its defaults.

use std::time::Duration;

use crate::plan::Plan;

use super::probe::Probe;
use super::schedule::Schedule;

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
    /// The dependency has been started (spawned successfully, and through
    /// its `post_start` hook if it has one).
    Started,
    /// The dependency is ready (started, and its probe passed if it has one).
    Ready,
    /// The dependency (a oneshot) exited with one of its success codes.
    Completed,
    /// One replica of the dependency's group is ready (`"any-ready"`).
    AnyReady,
}

impl Condition {
    pub fn as_str(self) -> &'static str {
        match self {
            Condition::Started => "started",
            Condition::Ready => "ready",
            Condition::Completed => "completed",
            Condition::AnyReady => "any-ready",
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
    /// Exit codes that restart it whatever `restart` says.
    pub restart_codes: Vec<i32>,
    /// Signals podinit forwards to this process.
    pub forward_signals: super::units::SignalSet,
    /// The `-- COMMAND` process: it keeps podinit's stdin.
    pub from_command_line: bool,
    /// `tty = true`: keeps podinit's stdio and terminal, as the `-- COMMAND`
    /// process does (one process at most).
    pub tty: bool,
    pub restart: Restart,
    pub restart_delay: Duration,
    pub restart_delay_max: Duration,
    /// Consecutive failed runs tolerated before `failed` (None: unlimited).
    pub max_restarts: Option<u32>,
    pub critical: bool,
    pub ready: Option<Box<Probe>>,
    pub health: Option<Box<Probe>>,
    /// Polled for its whole life: not ready after `failures`, ready again
    /// after `successes` (Kubernetes' readinessProbe).
    pub readiness: Option<Box<Probe>>,
    /// Run once it is spawned; dependents and readiness wait for it.
    pub post_start: Option<Box<super::probe::Hook>>,
    /// Run when it is to stop, before its stop signal.
    pub pre_stop: Option<Box<super::probe::Hook>>,
    /// `replicas = N` as configured (expanded into N specs by config).
    pub replicas: Option<u32>,
    /// A replica: its group's name and its number.
    pub replica: Option<(String, u32)>,
    /// `fd_store_max`: fds it may keep in podinit's fd store (FDSTORE=1).
    pub fd_store_max: usize,
    /// Sockets podinit binds and passes to every run (fds from 3).
    pub listen: Vec<super::listen::Listen>,
    /// `start = "manual"`: not started with the pod, only by `podinit start`.
    pub manual_start: bool,
    /// `start = "on-demand"`: started at the first connection or datagram
    /// on one of its `listen` sockets; back to waiting after a clean exit.
    pub on_demand: bool,
    /// Files whose changes restart it.
    pub watch: Option<Box<super::watch::Watch>>,
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
    /// Bytes of its latest output kept for `podinit logs` (0: none).
    pub log_buffer: u64,
    /// sd_notify `WATCHDOG=1` expected at least this often (None: no watchdog).
    pub watchdog: Option<Duration>,
    /// PR_SET_NO_NEW_PRIVS before exec: setuid binaries and file
    /// capabilities cannot raise its privileges.
    pub no_new_privs: bool,
    /// `schedule`: a oneshot run at these times (None: once, at start).
    pub schedule: Option<Box<Schedule>>,
    /// Limits, scheduling, capabilities and cgroup limits.
    pub resources: Box<super::resources::Resources>,
}

impl ProcSpec {
    /// The same spec with every process index it holds (dependencies,
    /// `process:` targets) renumbered by `remap` (a reload's new index →
    /// the stable one).
    /// It has podinit's stdio (and, interactively, the terminal): the
    /// `-- COMMAND` process, or one with `tty = true`.
    pub fn keeps_terminal(&self) -> bool {
        self.from_command_line || self.tty
    }

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
    /// `/readyz`, `/livez` and `/metrics` on this address (None: off).
    pub http: Option<std::net::SocketAddr>,
    /// The `/dev/log` receiver (None: off).
    pub syslog: Option<Syslog>,
    /// Drop-in mode as tini (`podinit -- CMD`, no config, no
    /// `--stop-timeout`): every catchable signal is forwarded to the
    /// command each time, and podinit starts no stop timer of its own.
    pub forward_only: bool,
    /// `cgroups`: whether each process gets a cgroup of its own.
    pub cgroups: CgroupMode,
    /// `pod_ends = "all-mains"`: the pod ends when every main has ended
    /// for good (a Kubernetes Pod completing), not at the first.
    pub all_mains: bool,
}

/// `[podinit] cgroups`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CgroupMode {
    /// A cgroup per process where the container allows it; a limit key
    /// that cannot be enforced is an error at start.
    Auto,
    /// The same, but a limit that cannot be enforced is one warning.
    BestEffort,
    /// No cgroups of podinit's.
    Off,
}

/// `[podinit] syslog`: a datagram socket whose messages are the lines of a
/// built-in log source named `syslog`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Syslog {
    pub path: String,
    /// Its output settings, as a process's (`name` = "syslog"; only the
    /// output keys are used).
    pub output: ProcSpec,
}

/// The name of the syslog log source.
pub const SYSLOG_NAME: &str = "syslog";

/// A validated pod: processes in file order, and their start/stop plan.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The files it came from, for messages (`None`: command line only).
    pub source: Option<String>,
    /// The lookup to read again on `reload` (files and directories).
    pub specs: Vec<String>,
    /// With a `schedule`: which local time cron times follow (for `check`).
    pub time_zone: Option<String>,
    /// With more than one file: each effective setting (dotted key) and the
    /// `FILE:LINE` that set it.
    pub provenance: Vec<(String, String)>,
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

/// A config error, already formatted as `FILE:LINE: KEY: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

pub const DEFAULT_LOG_MAX_FILES: u32 = 5;
pub const DEFAULT_LOG_BUFFER: u64 = 64 << 10;
