//! The supervisor: every decision of podinit, as a pure state machine.
//!
//! Events go in ([`Input`], with the current time), actions come out
//! ([`Action`]); [`Supervisor::next_deadline`] says when to call back if
//! nothing happens. Boundary: no syscalls, no clock reads, no I/O other than
//! log messages. The runtime executes the actions and feeds their results
//! back in (`Spawn` → `Spawned`/`SpawnFailed`, `Sweep` → `NoChildren` once the
//! process table is empty).

use std::time::{Duration, Instant};

use crate::config::{Condition, Config, ProcSpec, Restart, format_duration, signal_name};

pub type Pid = i32;

/// How a process ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitStatus {
    Code(i32),
    Signaled(i32),
}

impl ExitStatus {
    /// The status as a shell reports it: the code, or 128+N for signal N.
    pub fn shell_code(self) -> i32 {
        match self {
            ExitStatus::Code(c) => c,
            ExitStatus::Signaled(s) => 128 + s,
        }
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ExitStatus::Code(c) => write!(f, "exit status {c}"),
            ExitStatus::Signaled(s) => {
                write!(f, "killed by SIG{}, status {}", signal_name(s), 128 + s)
            }
        }
    }
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// It exited by itself with a code.
    Exit,
    /// A signal killed it (podinit's stop signal included).
    Signal,
    /// The kernel's OOM killer.
    Oom,
    /// Its health check failed: podinit stopped it to restart it.
    Liveness,
    /// It missed its watchdog deadline.
    Watchdog,
    /// `podinit stop` / `restart` (or a reload) asked for it.
    Operator,
    /// Its `post_start` hook failed: podinit stopped it to restart it.
    Hook,
}

impl ExitReason {
    pub const ALL: [ExitReason; 7] = [
        ExitReason::Exit,
        ExitReason::Signal,
        ExitReason::Oom,
        ExitReason::Liveness,
        ExitReason::Watchdog,
        ExitReason::Operator,
        ExitReason::Hook,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Exit => "exit",
            ExitReason::Signal => "signal",
            ExitReason::Oom => "oom",
            ExitReason::Liveness => "liveness",
            ExitReason::Watchdog => "watchdog",
            ExitReason::Operator => "operator",
            ExitReason::Hook => "post-start",
        }
    }
}

/// The states a user sees (README, "Operating a running pod": `status`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started: waiting for dependencies (or never started, in a shutdown).
    Waiting,
    /// Spawn requested, pid not known yet.
    Starting,
    /// Started, not ready yet (a readiness probe is pending).
    Running,
    /// Started and ready.
    Ready,
    /// Stop signal sent, not exited yet.
    Stopping,
    /// Ended with this status, for good.
    Exited(ExitStatus),
    /// A oneshot that ended with a success code.
    Completed,
    /// Waiting to be restarted.
    Backoff,
    /// Gave up: will never run again.
    Failed,
    /// A scheduled job between runs (`schedule`).
    Scheduled,
}

impl State {
    #[allow(dead_code)] // for `podinit status`
    pub fn name(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::Running => "running",
            State::Ready => "ready",
            State::Stopping => "stopping",
            State::Exited(_) => "exited",
            State::Completed => "completed",
            State::Backoff => "backoff",
            State::Failed => "failed",
            State::Scheduled => "scheduled",
        }
    }

    /// Ended and will not run again (in this version's policies).
    fn is_final(self) -> bool {
        matches!(self, State::Exited(_) | State::Completed | State::Failed)
    }
}

/// What happened. [`Supervisor::handle`] is the one way in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    /// The pod begins: the first processes to spawn.
    Start,
    /// A request of the control socket (refusals come back as
    /// `EventKind::Refused` events: their text is the answer).
    Control(Control),
    /// Process `pid`, about to be reported `Reaped` with SIGKILL, was
    /// killed by the kernel's OOM killer.
    OomKilled { pid: Pid },
    /// The config, read again and valid (after `Action::ReadConfig`).
    Reload(Box<Config>),
    /// Reading or validating it failed: nothing changes.
    ReloadFailed(String),
    /// The runtime spawned process `idx` as `pid` (its own process group).
    Spawned { idx: usize, pid: Pid },
    /// The command of `idx` could not be executed; counts as this status (126/127).
    SpawnFailed { idx: usize, status: ExitStatus },
    /// `waitpid` returned this pid (ours or an orphan's).
    Reaped { pid: Pid, status: ExitStatus },
    /// `waitpid` reported no children at all.
    NoChildren,
    /// podinit received a signal.
    Signal(i32),
    /// Time passed (a deadline given by `next_deadline` may be due).
    Tick,
    /// A probe started by `Action::Probe` finished.
    ProbeResult { id: u64, result: ProbeResult },
    /// Process `pid` said it is ready (notify_fd, a log line).
    Notified { pid: Pid },
    /// Process `idx` sent an sd_notify datagram (its sender checked).
    SdNotify { idx: usize, msg: SdMessage },
    /// A connection or datagram came on a socket of on-demand process `idx`.
    Demand { idx: usize },
    /// A file process `idx` watches changed (`path` as its glob sees it;
    /// None: the kernel dropped events, so anything may have changed).
    Changed { idx: usize, path: Option<String> },
}

/// A decision of the supervisor, as it returns them (see
/// [`Supervisor::take_events`]): the runtime logs each at its level, and
/// tests assert on them instead of on stderr.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    pub level: log::Level,
    pub kind: EventKind,
    /// The process it is about, if any.
    pub proc: Option<usize>,
    /// The message, as the log shows it.
    pub text: String,
}

/// What an [`Event`] is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    Started,
    Ready,
    NotReady,
    ProbeFailed,
    Unhealthy,
    Exited,
    Restarting,
    Completed,
    Failed,
    WillNotStart,
    Stopping,
    Stopped,
    Killed,
    Shutdown,
    Forced,
    Sweep,
    Exit,
    Reload,
    Operator,
    /// What the process says of itself (sd_notify STATUS, ERRNO, MAINPID).
    Status,
    /// A control request or reload that was refused: the text is the answer.
    Refused,
    /// A scheduled job's next time is set.
    Scheduled,
    /// A scheduled run was skipped (the last one is still going).
    Skipped,
    /// A child that is not one of the pod's was reaped.
    Orphan,
    /// A `post_start` or `pre_stop` hook ran (or failed).
    Hook,
    /// A watched file changed: a restart follows.
    Changed,
}

impl EventKind {
    /// Its name in `podinit events`.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Started => "started",
            EventKind::Ready => "ready",
            EventKind::NotReady => "not-ready",
            EventKind::ProbeFailed => "probe-failed",
            EventKind::Unhealthy => "unhealthy",
            EventKind::Exited => "exited",
            EventKind::Restarting => "restarting",
            EventKind::Completed => "completed",
            EventKind::Failed => "failed",
            EventKind::WillNotStart => "will-not-start",
            EventKind::Stopping => "stopping",
            EventKind::Stopped => "stopped",
            EventKind::Killed => "killed",
            EventKind::Shutdown => "shutdown",
            EventKind::Forced => "forced",
            EventKind::Sweep => "sweep",
            EventKind::Exit => "exit",
            EventKind::Reload => "reload",
            EventKind::Operator => "operator",
            EventKind::Status => "status",
            EventKind::Refused => "refused",
            EventKind::Scheduled => "scheduled",
            EventKind::Skipped => "skipped",
            EventKind::Orphan => "orphan",
            EventKind::Hook => "hook",
            EventKind::Changed => "changed",
        }
    }
}

/// Records a decision as an [`Event`].
macro_rules! note {
    ($self:ident, $level:ident, $kind:ident, $proc:expr, $($fmt:tt)+) => {
        $self.events.push(Event {
            level: log::Level::$level,
            kind: EventKind::$kind,
            proc: $proc,
            text: format!($($fmt)+),
        })
    };
}

/// How a probe went, and why: the reason is in the log and in `status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeResult {
    pub ok: bool,
    pub detail: String,
}

impl ProbeResult {
    pub fn pass(detail: impl Into<String>) -> ProbeResult {
        ProbeResult {
            ok: true,
            detail: detail.into(),
        }
    }

    pub fn fail(detail: impl Into<String>) -> ProbeResult {
        ProbeResult {
            ok: false,
            detail: detail.into(),
        }
    }
}

/// What the control socket asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Start(usize),
    Stop(usize),
    Restart(usize),
    /// `restart --rolling`: restart it once the one before in the queue is
    /// ready again (the first at once).
    Rolling(usize),
    Signal(usize, i32),
    /// Read the config again and apply it (as SIGHUP does).
    Reload,
}

/// Which probe (or hook) of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Ready,
    Health,
    /// Its `post_start` hook.
    PostStart,
    /// Its `pre_stop` hook.
    PreStop,
    /// Its `readiness` probe (polled for its whole life).
    Readiness,
}

/// What to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Spawn process `idx` in a new process group; answer with Spawned or SpawnFailed.
    Spawn(usize),
    /// Send `sig` to the process group `pid` and to descendants of `pid` that left it.
    SignalGroup { idx: usize, pid: Pid, sig: i32 },
    /// Send `sig` to `pid` only (forwarding).
    SignalProcess { idx: usize, pid: Pid, sig: i32 },
    /// Send `sig` to every process left in the container (as PID 1) or below
    /// podinit (as a subreaper); then reap and report NoChildren when empty.
    Sweep(i32),
    /// Run probe `role` of process `idx` (its pid given); answer with ProbeResult.
    Probe {
        id: u64,
        idx: usize,
        pid: Pid,
        role: Role,
    },
    /// Abandon probe `id` (timed out, or its process is gone); no result is expected.
    CancelProbe { id: u64 },
    /// Read the config file again; answer with Reload or ReloadFailed.
    ReadConfig,
    /// Process `idx` is new or its output settings may have changed: give
    /// it the log streams its spec asks for (before it is spawned).
    Rewire(usize),
    /// Close the fds process `idx` keeps in the fd store (it was stopped
    /// by the operator, or removed by a reload).
    DropFds(usize),
    /// Watch (`on`) or stop watching the `listen` sockets of on-demand
    /// process `idx`; a connection is answered with `Input::Demand`.
    ArmSockets { idx: usize, on: bool },
    /// Exit podinit with this status.
    Exit(i32),
}

/// Which signal and timeout a stop uses.
#[derive(Clone, Copy, Debug)]
enum StopWith {
    /// The spec's (in drop-in mode, the signal that asked for the shutdown).
    Spec,
    /// These, from the spec before a reload changed it.
    Old(i32, Duration),
}

/// The pod-wide phase.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Phase {
    /// Starting and supervising.
    Up,
    /// Stopping managed processes in reverse dependency order.
    Stopping { deadline: Instant },
    /// Managed processes are down; signalling whatever is left.
    Sweeping { kill_at: Instant, killed: bool },
    /// Exit decided.
    Done,
}

/// A process's live bookkeeping.
#[derive(Clone, Debug)]
pub struct Proc {
    pub state: State,
    pub pid: Option<Pid>,
    pub started_at: Option<Instant>,
    pub ever_started: bool,
    pub last_exit: Option<ExitStatus>,
    /// Restarts so far (for `status`).
    pub restarts: u32,
    /// Why the process is `failed`, for messages about its dependents.
    pub reason: Option<String>,
    /// Why its last probe failed (None after a pass), for `status`.
    pub probe_failure: Option<String>,
    /// Why its last run ended, for `status`, events and metrics.
    pub last_exit_reason: Option<ExitReason>,
    /// Runs the kernel's OOM killer ended.
    pub oom_kills: u32,
    /// Ended runs by cause, in `ExitReason::ALL` order (for `/metrics`).
    pub exits_by_reason: [u32; 7],
    /// What it said of itself last (sd_notify `STATUS=`).
    pub status_text: Option<String>,
    /// When its next `WATCHDOG=1` is due (its `watchdog` key).
    watchdog_at: Option<Instant>,
    /// The stop under way is for a missed watchdog.
    watchdog_failed: bool,
    /// The exit being reported was an OOM kill (`Input::OomKilled`).
    oom_pending: bool,
    /// When SIGKILL follows the stop signal; None when no stop is under way.
    stop_deadline: Option<Instant>,
    /// The signal and timeout of the stop under way (a reload may have
    /// changed the spec since: the warning names what was really sent).
    stopping_with: Option<(i32, Duration)>,
    killed: bool,
    /// Consecutive failed runs (for max_restarts).
    failures: u32,
    /// Consecutive short runs (the backoff exponent).
    short_runs: u32,
    backoff_until: Option<Instant>,
    /// A liveness failure asked for a restart once the process has stopped.
    restart_after_stop: bool,
    /// The stop under way is for a failed `post_start` hook.
    hook_failed: bool,
    /// `podinit restart`: spawn again as soon as it has stopped, no backoff.
    restart_now: bool,
    /// `podinit stop`: stays stopped, whatever its policy, until `start`.
    pub held: bool,
    /// `start = "on-demand"`, down: it starts at the next connection.
    pub demand_wait: bool,
    /// Removed from the config by a reload: stopped, then forgotten.
    pub retired: bool,
    /// When the next probe is due; the one in flight (id, role, timeout).
    probe_at: Option<Instant>,
    probe_running: Option<(u64, Role, Instant)>,
    health_failures: u32,
    /// The hook in flight: its probe id (0 for a `sleep`, which runs
    /// nothing), which one, and when it is given up.
    hook: Option<(u64, Role, Instant)>,
    /// Its `pre_stop` hook has run since it was spawned: the stop signal
    /// goes out without it again.
    pre_stop_done: bool,
    /// A run of it got through its `post_start` hook (or it has none):
    /// what `depends_on = { X = "started" }` waits for.
    pub post_started: bool,
    /// It said it is ready while its `post_start` hook ran.
    ready_pending: bool,
    /// Ready and, with a `readiness` probe, passing it (what /readyz asks).
    pub serving: bool,
    readiness_at: Option<Instant>,
    readiness_running: Option<(u64, Instant)>,
    readiness_fails: u32,
    readiness_passes: u32,
    /// A scheduled job's next time (`schedule`).
    pub due: Option<schedule::Due>,
    /// Watched files changed: when the debounce ends, the first file,
    /// how many changes came.
    change: Option<(Instant, Option<String>, u32)>,
}

impl Proc {
    /// The state as `status` shows it: a process the operator stopped
    /// (`podinit stop`) is `stopped` until `podinit start`, whatever its
    /// last exit was.
    pub fn state_name(&self) -> &'static str {
        if self.held && self.pid.is_none() && self.state != State::Starting {
            "stopped"
        } else if self.demand_wait && self.pid.is_none() {
            "on-demand" // its sockets are open; it starts at a connection
        } else if self.state == State::Ready && !self.serving && self.readiness_fails > 0 {
            "not-ready" // its readiness probe fails (it was ready)
        } else {
            self.state.name()
        }
    }

    /// A new process: `start = "manual"` ones are held until `podinit start`.
    fn for_spec(spec: &ProcSpec) -> Proc {
        Proc {
            held: spec.manual_start,
            demand_wait: spec.on_demand,
            ..Proc::new()
        }
    }

    fn new() -> Proc {
        Proc {
            state: State::Waiting,
            pid: None,
            started_at: None,
            ever_started: false,
            last_exit: None,
            restarts: 0,
            reason: None,
            probe_failure: None,
            last_exit_reason: None,
            oom_kills: 0,
            exits_by_reason: [0; 7],
            oom_pending: false,
            status_text: None,
            watchdog_at: None,
            watchdog_failed: false,
            stop_deadline: None,
            stopping_with: None,
            killed: false,
            failures: 0,
            short_runs: 0,
            backoff_until: None,
            restart_after_stop: false,
            hook_failed: false,
            restart_now: false,
            held: false,
            demand_wait: false,
            retired: false,
            probe_at: None,
            probe_running: None,
            health_failures: 0,
            hook: None,
            pre_stop_done: false,
            post_started: false,
            ready_pending: false,
            serving: false,
            readiness_at: None,
            readiness_running: None,
            readiness_fails: 0,
            readiness_passes: 0,
            due: None,
            change: None,
        }
    }
}

/// The pod.
pub struct Supervisor {
    specs: Vec<ProcSpec>,
    procs: Vec<Proc>,
    start_order: Vec<usize>,
    shutdown_timeout: Duration,
    /// Grace between the TERM and KILL sweeps of stray processes.
    sweep_grace: Duration,
    /// `podinit -- COMMAND` without a config: behave like tini (forward HUP,
    /// stop the command with the very signal that asked for the shutdown).
    drop_in: bool,
    /// Drop-in mode without `--stop-timeout`: every signal is forwarded,
    /// TERM, INT and QUIT each time, and no stop timer runs (as tini).
    forward_only: bool,
    /// The pod ends when every main has ended (`pod_ends = "all-mains"`).
    all_mains: bool,
    /// Under `all_mains`: the first main that ended without success.
    first_failure: Option<ExitStatus>,
    phase: Phase,
    /// Set once a stop everything-now was decided (second signal, shutdown_timeout).
    forced: bool,
    /// A shutdown was requested by a signal (or control verb).
    requested: bool,
    /// The signal that requested the shutdown (used in drop-in mode).
    request_signal: Option<i32>,
    /// How the pod ended, once decided (the first decision stands).
    ending: Option<Ending>,
    next_probe_id: u64,
    /// The processes with a `schedule` (set with the specs: at start and
    /// on reload), so a turn of the loop walks only them for due times.
    scheduled: Vec<usize>,
    /// Live pid → process: an exit or a notification finds its process
    /// without a walk over the pod.
    pids: std::collections::HashMap<Pid, usize>,
    /// The wall clock at the input being handled, in ms since the epoch.
    wall_ms: i64,
    /// The zone of cron times.
    zone: crate::config::Zone,
    out: Vec<Action>,
    events: Vec<Event>,
    /// A rolling restart: the one restarting (and since when), the rest.
    rolling_now: Option<(usize, Instant)>,
    rolling: std::collections::VecDeque<usize>,
}

impl Supervisor {
    pub fn new(cfg: &Config) -> Supervisor {
        Supervisor {
            specs: cfg.procs.clone(),
            procs: cfg.procs.iter().map(Proc::for_spec).collect(),
            start_order: cfg.plan.start_order(),
            shutdown_timeout: cfg.global.shutdown_timeout,
            sweep_grace: cfg
                .procs
                .iter()
                .map(|p| p.stop_timeout)
                .max()
                .unwrap_or(crate::config::DEFAULT_STOP_TIMEOUT),
            drop_in: cfg.source.is_none(),
            forward_only: cfg.source.is_none() && cfg.global.forward_only,
            all_mains: cfg.global.all_mains,
            first_failure: None,
            phase: Phase::Up,
            forced: false,
            requested: false,
            request_signal: None,
            ending: None,
            next_probe_id: 1,
            pids: std::collections::HashMap::new(),
            scheduled: scheduled_of(&cfg.procs),
            wall_ms: 0,
            zone: crate::config::schedule::utc,
            out: Vec::new(),
            events: Vec::new(),
            rolling_now: None,
            rolling: std::collections::VecDeque::new(),
        }
    }

    pub fn specs(&self) -> &[ProcSpec] {
        &self.specs
    }

    pub fn procs(&self) -> &[Proc] {
        &self.procs
    }

    /// Feeds one event; returns what to do about it.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        match input {
            Input::Start => self.arm_on_demand(),
            Input::Demand { idx } => self.on_demand(now, idx),
            Input::SdNotify { idx, msg } => self.on_sd_notify(now, idx, msg),
            Input::Changed { idx, path } => self.on_change(now, idx, path),
            Input::OomKilled { pid } => {
                if let Some(idx) = self.index_of(pid) {
                    self.procs[idx].oom_pending = true;
                }
            }
            Input::Control(cmd) => self.on_control(now, cmd),
            Input::Reload(cfg) => self.on_reload(now, &cfg),
            Input::ReloadFailed(why) => {
                note!(
                    self,
                    Error,
                    Refused,
                    None,
                    "reload failed, nothing changed: {why}"
                )
            }
            Input::Spawned { idx, pid } => self.on_spawned(now, idx, pid),
            Input::SpawnFailed { idx, status } => {
                self.procs[idx].state = State::Starting;
                self.on_exit(now, idx, status);
            }
            Input::Reaped { pid, status } => {
                if let Some(idx) = self.index_of(pid) {
                    self.on_exit(now, idx, status);
                } else {
                    note!(self, Debug, Orphan, None, "reaped orphan {pid} ({status})");
                }
            }
            Input::NoChildren => {
                if let Phase::Sweeping { .. } = self.phase {
                    self.finish();
                }
            }
            Input::Signal(sig) => self.on_signal(now, sig),
            Input::Tick => {}
            Input::ProbeResult { id, result } => self.on_probe_result(now, id, result),
            Input::Notified { pid } => {
                if let Some(idx) = self.index_of(pid)
                    && self.procs[idx].state == State::Running
                {
                    self.become_ready(now, idx);
                }
            }
        }
        self.step(now);
        std::mem::take(&mut self.out)
    }

    /// The decisions taken since the last call, in order (for the log).
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// The next time something is due, if nothing else happens before.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for p in &self.procs {
            if let (Some(t), false) = (p.stop_deadline, p.killed) {
                consider(t);
            }
            if self.phase == Phase::Up {
                if let Some(t) = p.backoff_until {
                    consider(t);
                }
                if let Some(t) = p.probe_at {
                    consider(t);
                }
            }
            if let Some((_, _, t)) = p.probe_running {
                consider(t);
            }
            if let Some((_, _, t)) = p.hook {
                consider(t);
            }
            if let Some((_, t)) = p.readiness_running {
                consider(t);
            }
            if let (Some(t), Phase::Up, State::Ready) = (p.readiness_at, self.phase, p.state) {
                consider(t);
            }
            if let (Some(t), Phase::Up) = (p.watchdog_at, self.phase) {
                consider(t);
            }
            if let (Some(d), Phase::Up) = (p.due, self.phase) {
                consider(d.at);
            }
            if let (Some((t, _, _)), Phase::Up) = (&p.change, self.phase) {
                consider(*t);
            }
        }
        match self.phase {
            Phase::Stopping { deadline } if !self.forced => consider(deadline),
            Phase::Sweeping {
                kill_at,
                killed: false,
            } => consider(kill_at),
            _ => {}
        }
        next
    }

    /// Whether the exit is decided (the runtime exits after `Action::Exit`).
    #[allow(dead_code)]
    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// The process whose pid this is.
    pub fn index_of(&self, pid: Pid) -> Option<usize> {
        self.pids.get(&pid).copied()
    }

    /// Whether `pid` is one of the pod's processes (not an orphan).
    pub fn manages(&self, pid: Pid) -> bool {
        self.pids.contains_key(&pid)
    }

    fn alive(&self, idx: usize) -> bool {
        self.procs[idx].pid.is_some()
    }

    /// The live pid of process `idx`, kept in the pid index too.
    fn set_pid(&mut self, idx: usize, pid: Option<Pid>) {
        if let Some(old) = std::mem::replace(&mut self.procs[idx].pid, pid) {
            self.pids.remove(&old);
        }
        if let Some(new) = pid {
            self.pids.insert(new, idx);
        }
    }
}

/// The indices of the specs with a `schedule`.
fn scheduled_of(specs: &[ProcSpec]) -> Vec<usize> {
    (0..specs.len())
        .filter(|&i| specs[i].schedule.is_some())
        .collect()
}

/// The delay before restart number `n` (0-based) of a run of short runs:
/// `first`, doubling, capped at `max`.
pub fn backoff(first: Duration, max: Duration, n: u32) -> Duration {
    let factor = 1u32.checked_shl(n.min(31)).unwrap_or(u32::MAX);
    first.checked_mul(factor).unwrap_or(max).min(max)
}

mod changes;
mod control;
mod demand;
mod exit;
mod health;
mod hooks;
mod notify;
mod probes;
mod readiness;
mod restart;
mod rolling;
mod schedule;
mod start;
mod stop;
pub use exit::{Ending, exit_status};
pub use health::Check;
pub use notify::SdMessage;

#[cfg(test)]
mod tests;
