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
}

impl ExitReason {
    pub const ALL: [ExitReason; 6] = [
        ExitReason::Exit,
        ExitReason::Signal,
        ExitReason::Oom,
        ExitReason::Liveness,
        ExitReason::Watchdog,
        ExitReason::Operator,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ExitReason::Exit => "exit",
            ExitReason::Signal => "signal",
            ExitReason::Oom => "oom",
            ExitReason::Liveness => "liveness",
            ExitReason::Watchdog => "watchdog",
            ExitReason::Operator => "operator",
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
    Signal(usize, i32),
    /// Read the config again and apply it (as SIGHUP does).
    Reload,
}

/// Which probe of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Ready,
    Health,
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
    pub exits_by_reason: [u32; 6],
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
    /// `podinit restart`: spawn again as soon as it has stopped, no backoff.
    restart_now: bool,
    /// `podinit stop`: stays stopped, whatever its policy, until `start`.
    pub held: bool,
    /// Removed from the config by a reload: stopped, then forgotten.
    pub retired: bool,
    /// When the next probe is due; the one in flight (id, role, timeout).
    probe_at: Option<Instant>,
    probe_running: Option<(u64, Role, Instant)>,
    health_failures: u32,
    /// A scheduled job's next time (`schedule`).
    pub due: Option<schedule::Due>,
}

impl Proc {
    /// The state as `status` shows it: a process the operator stopped
    /// (`podinit stop`) is `stopped` until `podinit start`, whatever its
    /// last exit was.
    pub fn state_name(&self) -> &'static str {
        if self.held && self.pid.is_none() && self.state != State::Starting {
            "stopped"
        } else {
            self.state.name()
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
            exits_by_reason: [0; 6],
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
            restart_now: false,
            held: false,
            retired: false,
            probe_at: None,
            probe_running: None,
            health_failures: 0,
            due: None,
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
}

impl Supervisor {
    pub fn new(cfg: &Config) -> Supervisor {
        let n = cfg.procs.len();
        Supervisor {
            specs: cfg.procs.clone(),
            procs: vec![Proc::new(); n],
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
            Input::Start => {}
            Input::SdNotify { idx, msg } => self.on_sd_notify(now, idx, msg),
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
            if let (Some(t), Phase::Up) = (p.watchdog_at, self.phase) {
                consider(t);
            }
            if let (Some(d), Phase::Up) = (p.due, self.phase) {
                consider(d.at);
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

    fn on_spawned(&mut self, now: Instant, idx: usize, pid: Pid) {
        self.set_pid(idx, Some(pid));
        let p = &mut self.procs[idx];
        p.started_at = Some(now);
        p.ever_started = true;
        p.killed = false;
        p.stop_deadline = None;
        p.health_failures = 0;
        p.status_text = None;
        p.watchdog_at = self.specs[idx].watchdog.map(|w| now + w);
        note!(
            self,
            Info,
            Started,
            Some(idx),
            "{} started (pid {pid})",
            self.specs[idx].name
        );
        // A process spawned while a shutdown began is stopped at once by `step`.
        match &self.specs[idx].ready {
            // Without a readiness probe, a process is ready once started.
            None => self.become_ready(now, idx),
            Some(probe) => {
                let p = &mut self.procs[idx];
                p.state = State::Running;
                if probe.kind.is_polled() {
                    p.probe_at = Some(now + probe.initial_delay);
                }
            }
        }
    }

    fn become_ready(&mut self, now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        p.state = State::Ready;
        p.probe_at = None;
        if self.specs[idx].ready.is_some() {
            note!(
                self,
                Info,
                Ready,
                Some(idx),
                "{} is ready",
                self.specs[idx].name
            );
        }
        if let Some(h) = &self.specs[idx].health {
            p.probe_at = Some(now + h.initial_delay);
        }
    }

    fn cancel_probe(&mut self, idx: usize) {
        let p = &mut self.procs[idx];
        p.probe_at = None;
        if let Some((id, _, _)) = p.probe_running.take() {
            self.out.push(Action::CancelProbe { id });
        }
    }

    fn on_probe_result(&mut self, now: Instant, id: u64, result: ProbeResult) {
        let Some(idx) = self
            .procs
            .iter()
            .position(|p| p.probe_running.is_some_and(|(pid, _, _)| pid == id))
        else {
            return; // a result for a cancelled probe
        };
        let (_, role, _) = self.procs[idx]
            .probe_running
            .take()
            .unwrap_or((0, Role::Ready, now));
        self.probe_outcome(now, idx, role, result);
    }

    fn probe_outcome(&mut self, now: Instant, idx: usize, role: Role, result: ProbeResult) {
        let name = self.specs[idx].name.clone();
        let why = result.detail;
        self.procs[idx].probe_failure = (!result.ok).then(|| why.clone());
        match role {
            Role::Ready => {
                if result.ok {
                    self.become_ready(now, idx);
                } else if let Some(probe) = &self.specs[idx].ready {
                    note!(
                        self,
                        Debug,
                        NotReady,
                        Some(idx),
                        "{name} is not ready yet: {why}"
                    );
                    self.procs[idx].probe_at = Some(now + probe.interval);
                }
            }
            Role::Health => {
                let Some(probe) = self.specs[idx].health.clone() else {
                    return;
                };
                let p = &mut self.procs[idx];
                if result.ok {
                    p.health_failures = 0;
                    p.probe_at = Some(now + probe.interval);
                    return;
                }
                p.health_failures += 1;
                note!(
                    self,
                    Warn,
                    ProbeFailed,
                    Some(idx),
                    "{name} failed its health check ({} of {}): {why}",
                    p.health_failures,
                    probe.failures
                );
                if p.health_failures < probe.failures {
                    p.probe_at = Some(now + probe.interval);
                    return;
                }
                if p.pid.is_some() {
                    note!(
                        self,
                        Warn,
                        Unhealthy,
                        Some(idx),
                        "{name} is unhealthy; restarting it"
                    );
                    p.restart_after_stop = true;
                    self.stop(now, idx, StopWith::Spec);
                }
            }
        }
    }

    /// Process `idx` ended with `status`: what follows, in order — a stop
    /// the operator or a reload asked for, a stop podinit made, the restart
    /// policy, and then what its end means for the pod.
    fn on_exit(&mut self, now: Instant, idx: usize, status: ExitStatus) {
        self.cancel_probe(idx);
        let p = &mut self.procs[idx];
        let was_stopping = p.state == State::Stopping;
        let liveness_restart = std::mem::take(&mut p.restart_after_stop);
        let restart_now = std::mem::take(&mut p.restart_now);
        let oom = std::mem::take(&mut p.oom_pending);
        let watchdog = std::mem::take(&mut p.watchdog_failed);
        p.watchdog_at = None;
        p.last_exit_reason = Some(if oom {
            p.oom_kills += 1;
            ExitReason::Oom
        } else if watchdog {
            ExitReason::Watchdog
        } else if liveness_restart {
            ExitReason::Liveness
        } else if restart_now || p.held || p.retired {
            ExitReason::Operator
        } else if matches!(status, ExitStatus::Signaled(_)) {
            ExitReason::Signal
        } else {
            ExitReason::Exit
        });
        if let Some(r) = p.last_exit_reason
            && let Some(k) = ExitReason::ALL.iter().position(|&x| x == r)
        {
            p.exits_by_reason[k] += 1;
        }
        if oom {
            let name = self.specs[idx].name.clone();
            note!(
                self,
                Error,
                Exited,
                Some(idx),
                "{name} was killed by the kernel OOM killer"
            );
        }
        self.set_pid(idx, None);
        let p = &mut self.procs[idx];
        p.last_exit = Some(status);
        p.stop_deadline = None;
        p.stopping_with = None;
        let success = self.specs[idx].success_codes.contains(&status.shell_code());
        if self.phase == Phase::Up && self.exit_as_asked(idx, status, restart_now) {
            return;
        }
        if self.phase != Phase::Up || (was_stopping && !liveness_restart) {
            self.stopped_by_us(idx, status, success);
            return;
        }
        if self.restart_by_policy(now, idx, status, success, liveness_restart) {
            return;
        }
        self.ended_for_good(now, idx, status, success);
    }

    /// An exit the operator or a reload asked for: `podinit restart` (spawn
    /// again at once), a process removed from the config, `podinit stop`.
    fn exit_as_asked(&mut self, idx: usize, status: ExitStatus, restart_now: bool) -> bool {
        let name = self.specs[idx].name.clone();
        let p = &mut self.procs[idx];
        if restart_now {
            note!(
                self,
                Info,
                Stopped,
                Some(idx),
                "{name} stopped ({status}); starting it again as asked"
            );
            p.restarts += 1;
            p.state = State::Starting;
            self.out.push(Action::Spawn(idx));
        } else if p.retired {
            p.state = State::Exited(status);
            note!(
                self,
                Info,
                Stopped,
                Some(idx),
                "{name} stopped ({status}); it was removed from the config"
            );
        } else if p.held {
            p.state = State::Exited(status);
            note!(
                self,
                Info,
                Stopped,
                Some(idx),
                "{name} stopped ({status}); it stays stopped until `podinit start {name}`"
            );
        } else {
            return false;
        }
        true
    }

    /// Stopped by podinit (a shutdown, or a stop it made): final, whatever
    /// the policy. A main stopped in a shutdown gives the pod its status.
    fn stopped_by_us(&mut self, idx: usize, status: ExitStatus, success: bool) {
        let spec = &self.specs[idx];
        self.procs[idx].state = if spec.oneshot && success {
            State::Completed
        } else {
            State::Exited(status)
        };
        let (name, main) = (spec.name.clone(), spec.main);
        note!(self, Info, Stopped, Some(idx), "{name} stopped ({status})");
        if main {
            self.decide(Ending::MainEnded { status, success });
        }
    }

    /// The restart policy, with the backoff; `max_restarts` consecutive
    /// failed runs make it `failed` for good. True when it will run again.
    fn restart_by_policy(
        &mut self,
        now: Instant,
        idx: usize,
        status: ExitStatus,
        success: bool,
        liveness_restart: bool,
    ) -> bool {
        let spec = &self.specs[idx];
        let name = spec.name.clone();
        let p = &mut self.procs[idx];
        // A run longer than restart_delay_max forgives the past.
        let ran = p
            .started_at
            .map_or(Duration::ZERO, |t| now.saturating_duration_since(t));
        if ran > spec.restart_delay_max {
            p.short_runs = 0;
            p.failures = 0;
        }
        if !success || liveness_restart {
            p.failures += 1;
        } else {
            p.failures = 0;
        }
        let wants_restart = liveness_restart
            || match spec.restart {
                Restart::Always => true,
                Restart::OnFailure => !success,
                Restart::Never => false,
            };
        if !wants_restart {
            return false;
        }
        if spec.max_restarts.is_none_or(|m| p.failures <= m) {
            let delay = backoff(spec.restart_delay, spec.restart_delay_max, p.short_runs);
            p.short_runs = (p.short_runs + 1).min(64);
            p.state = State::Backoff;
            p.backoff_until = Some(now + delay);
            let level = if success {
                log::Level::Info
            } else {
                log::Level::Warn
            };
            self.events.push(Event {
                level,
                kind: EventKind::Restarting,
                proc: Some(idx),
                text: format!(
                    "{name} exited ({status}; cause: {}); restarting in {}",
                    p.last_exit_reason.map_or("exit", ExitReason::as_str),
                    format_duration(delay)
                ),
            });
            return true;
        }
        let why = format!(
            "{status}, {} failed runs in a row (max_restarts = {})",
            p.failures,
            spec.max_restarts.unwrap_or(0)
        );
        note!(
            self,
            Error,
            Failed,
            Some(idx),
            "{name} failed for good: {why}"
        );
        p.state = State::Failed;
        p.reason = Some(format!("{name} failed ({why})"));
        false
    }

    /// It will not run again (it ended and its policy says so, or it
    /// failed for good): a main ends the pod; so does a critical failure.
    fn ended_for_good(&mut self, now: Instant, idx: usize, status: ExitStatus, success: bool) {
        if self.specs[idx].critical && !success && self.specs[idx].schedule.is_some() {
            // A critical scheduled job's failed run fails the pod.
            let name = self.specs[idx].name.clone();
            self.procs[idx].state = State::Failed;
            self.procs[idx].reason = Some(format!("{name} failed ({status})"));
        } else if self.run_ended(idx, status, success) {
            return;
        }
        let spec = &self.specs[idx];
        let name = spec.name.clone();
        let (main, critical, command) = (spec.main, spec.critical, spec.from_command_line);
        let p = &mut self.procs[idx];
        if p.state != State::Failed {
            p.state = if spec.oneshot && success {
                State::Completed
            } else {
                State::Exited(status)
            };
            if p.state == State::Completed {
                note!(self, Info, Completed, Some(idx), "{name} completed");
            } else if success || command {
                // The `-- COMMAND`'s status is podinit's own: news, not a
                // warning (drop-in mode stays as quiet as tini).
                note!(self, Info, Exited, Some(idx), "{name} exited ({status})");
            } else {
                note!(self, Warn, Exited, Some(idx), "{name} exited ({status})");
            }
        }
        let failed = self.procs[idx].state == State::Failed;
        if main && self.ending.is_none() {
            let code = self.decide(Ending::MainEnded { status, success });
            note!(
                self,
                Info,
                Shutdown,
                Some(idx),
                "main process {name} ended; shutting the pod down (exit status {code})"
            );
            self.begin_shutdown(now);
        } else if critical && failed && self.ending.is_none() {
            let code = self.decide(Ending::CriticalFailed {
                status: Some(status),
            });
            note!(
                self,
                Error,
                Shutdown,
                Some(idx),
                "critical process {name} failed; shutting the pod down (exit status {code})"
            );
            self.begin_shutdown(now);
        }
    }

    fn on_signal(&mut self, now: Instant, sig: i32) {
        if self.forward_only && self.phase == Phase::Up {
            return self.forward_as_tini(sig);
        }
        match sig {
            libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => match self.phase {
                Phase::Up => {
                    note!(
                        self,
                        Info,
                        Shutdown,
                        None,
                        "received SIG{}; shutting the pod down",
                        signal_name(sig)
                    );
                    self.requested = true;
                    self.request_signal = Some(sig);
                    self.begin_shutdown(now);
                }
                Phase::Stopping { .. } | Phase::Sweeping { .. }
                    if sig != libc::SIGQUIT && !self.forced =>
                {
                    note!(
                        self,
                        Warn,
                        Forced,
                        None,
                        "received SIG{} again; killing everything now",
                        signal_name(sig)
                    );
                    self.force();
                }
                _ => {}
            },
            // With a config, SIGHUP means reload; it is never forwarded.
            libc::SIGHUP if !self.drop_in => self.on_control(now, Control::Reload),
            _ => self.forward(sig),
        }
    }

    fn forward(&mut self, sig: i32) {
        let drop_in_hup = self.drop_in && sig == libc::SIGHUP;
        for (idx, spec) in self.specs.iter().enumerate() {
            if let Some(pid) = self.procs[idx].pid
                && (drop_in_hup || spec.forward_signals.contains(&sig))
            {
                self.out.push(Action::SignalProcess { idx, pid, sig });
            }
        }
    }

    /// Drop-in mode as tini: the shutdown signals go to the command's group
    /// (as its stop would), every time, with no timer: the command decides
    /// when it ends (a JVM's SIGQUIT thread dump keeps it running), and the
    /// engine's grace period bounds the stop. Other signals as `forward`.
    fn forward_as_tini(&mut self, sig: i32) {
        if !matches!(sig, libc::SIGTERM | libc::SIGINT | libc::SIGQUIT) {
            return self.forward(sig);
        }
        for idx in 0..self.procs.len() {
            if let Some(pid) = self.procs[idx].pid {
                note!(
                    self,
                    Debug,
                    Operator,
                    Some(idx),
                    "forwarding SIG{} to {}",
                    signal_name(sig),
                    self.specs[idx].name
                );
                self.out.push(Action::SignalGroup { idx, pid, sig });
            }
        }
    }

    fn begin_shutdown(&mut self, now: Instant) {
        if self.phase != Phase::Up {
            return;
        }
        self.phase = Phase::Stopping {
            deadline: now + self.shutdown_timeout,
        };
        for idx in 0..self.procs.len() {
            self.cancel_probe(idx);
            let p = &mut self.procs[idx];
            if p.state == State::Backoff {
                p.backoff_until = None;
                p.state = match p.last_exit {
                    Some(st) => State::Exited(st),
                    None => State::Waiting,
                };
            }
        }
    }

    /// Kill everything now: every managed group, then every stray.
    fn force(&mut self) {
        self.forced = true;
        for idx in 0..self.procs.len() {
            if self.procs[idx].pid.is_some() && !self.procs[idx].killed {
                self.kill(idx);
            }
        }
        match self.phase {
            Phase::Sweeping {
                kill_at,
                killed: false,
            } => {
                self.phase = Phase::Sweeping {
                    kill_at,
                    killed: true,
                };
                self.out.push(Action::Sweep(libc::SIGKILL));
            }
            Phase::Stopping { .. } => self.out.push(Action::Sweep(libc::SIGKILL)),
            _ => {}
        }
    }

    /// Records how the pod ends, unless that was decided already; returns
    /// the exit status that follows.
    fn decide(&mut self, ending: Ending) -> i32 {
        exit_status(*self.ending.get_or_insert(ending))
    }

    fn finish(&mut self) {
        let code = if self.requested {
            self.decide(Ending::RequestedNoMain)
        } else {
            // No main: the pod ended by itself, when nothing was left to run.
            let all_succeeded = self.specs.iter().zip(&self.procs).all(|(s, p)| {
                p.last_exit
                    .is_some_and(|e| s.success_codes.contains(&e.shell_code()))
            });
            self.decide(Ending::RanOut { all_succeeded })
        };
        note!(
            self,
            Info,
            Exit,
            None,
            "all processes are down; exiting with status {code}"
        );
        self.phase = Phase::Done;
        self.out.push(Action::Exit(code));
    }

    /// Whether dependency `dep` of a waiting process is met, unmet for now,
    /// or can never be met (`Err` with the reason).
    fn dep_status(&self, on: usize, cond: Condition) -> Result<bool, String> {
        let p = &self.procs[on];
        let met = match cond {
            Condition::Started => p.ever_started,
            Condition::Ready => p.state == State::Ready,
            Condition::Completed => p.state == State::Completed,
        };
        if met {
            return Ok(true);
        }
        if p.state.is_final() {
            let name = &self.specs[on].name;
            let why = match (p.state, &p.reason) {
                (State::Failed, Some(r)) => r.clone(),
                (State::Exited(st), _) => format!("{name} exited ({st})"),
                _ => format!("{name} ended"),
            };
            return Err(why);
        }
        Ok(false)
    }

    /// Everything that follows from the current state at `now`.
    fn step(&mut self, now: Instant) {
        self.timers(now);
        match self.phase {
            Phase::Up => {
                self.stop_retired(now);
                self.start_ready_ones(now);
                if self.phase == Phase::Up && self.pod_is_over() {
                    note!(
                        self,
                        Info,
                        Shutdown,
                        None,
                        "no process is left to run; shutting the pod down"
                    );
                    self.begin_shutdown(now);
                }
            }
            Phase::Stopping { .. } | Phase::Sweeping { .. } | Phase::Done => {}
        }
        if let Phase::Stopping { deadline } = self.phase {
            self.stop_next(now, deadline);
        }
    }

    fn start_ready_ones(&mut self, now: Instant) {
        for k in 0..self.start_order.len() {
            let idx = self.start_order[k];
            if self.procs[idx].state != State::Waiting || self.procs[idx].held {
                continue;
            }
            let mut ready = true;
            for d in &self.specs[idx].deps {
                match self.dep_status(d.on, d.cond) {
                    Ok(true) => {}
                    Ok(false) => ready = false,
                    Err(why) => {
                        let spec = &self.specs[idx];
                        let reason = format!(
                            "{} will not start: it needs {} to be {}, but {why}",
                            spec.name,
                            self.specs[d.on].name,
                            d.cond.as_str()
                        );
                        note!(self, Error, WillNotStart, Some(idx), "{reason}");
                        self.procs[idx].state = State::Failed;
                        self.procs[idx].reason = Some(reason);
                        if (spec.main || spec.critical) && self.ending.is_none() {
                            self.ending = Some(if spec.main {
                                Ending::MainNeverStarts
                            } else {
                                Ending::CriticalFailed { status: None }
                            });
                            let what = if spec.main { "main" } else { "critical" };
                            note!(
                                self,
                                Error,
                                Shutdown,
                                Some(idx),
                                "{what} process {} can never start; shutting the pod down (exit status 1)",
                                spec.name
                            );
                            self.begin_shutdown(now);
                            return;
                        }
                        ready = false;
                        break;
                    }
                }
            }
            if ready && self.specs[idx].schedule.is_some() {
                self.schedule_first(now, idx);
            } else if ready {
                self.procs[idx].state = State::Starting;
                self.out.push(Action::Spawn(idx));
            }
        }
    }

    /// No main process: the pod is over when nothing runs and nothing can start.
    fn pod_is_over(&self) -> bool {
        !self.specs.iter().any(|s| s.main)
            && self
                .procs
                .iter()
                .all(|p| p.retired || (p.state.is_final() && !p.held))
    }

    fn on_reload(&mut self, now: Instant, cfg: &Config) {
        if self.phase != Phase::Up {
            note!(
                self,
                Error,
                Refused,
                None,
                "reload refused: the pod is shutting down"
            );
            return;
        }
        self.reload(now, cfg);
        note!(self, Info, Reload, None, "reload applied");
    }

    /// Applies a new, already validated config: removed processes stop (in
    /// reverse dependency order), new ones start (in dependency order),
    /// changed ones restart, untouched ones keep running. Indices are stable:
    /// a process keeps its index across reloads, new ones are appended.
    /// Processes whose spec changed or is new get `Action::Rewire` first.
    fn reload(&mut self, now: Instant, cfg: &Config) {
        let (remap, created) = self.stable_indices(cfg);
        let mut touched = Vec::new();
        for (k, spec) in cfg.procs.iter().enumerate() {
            let idx = remap[k];
            let new = spec.with_indices(&remap);
            let is_new = created.contains(&idx);
            let old = std::mem::replace(&mut self.specs[idx], new);
            if old == self.specs[idx] && !is_new {
                continue; // untouched: keeps running, same pid
            }
            touched.push(idx);
            if is_new {
                note!(
                    self,
                    Info,
                    Reload,
                    Some(idx),
                    "reload: {} is new",
                    spec.name
                );
                continue; // started by `step` when its dependencies are met
            }
            note!(
                self,
                Info,
                Reload,
                Some(idx),
                "reload: {} changed; restarting it",
                spec.name
            );
            self.restart_changed(now, idx, &old);
        }
        self.retire_removed(&remap);
        self.start_order = cfg
            .plan
            .start_order()
            .into_iter()
            .map(|k| remap[k])
            .collect();
        self.shutdown_timeout = cfg.global.shutdown_timeout;
        self.scheduled = scheduled_of(&self.specs);
        self.sweep_grace = self
            .specs
            .iter()
            .map(|s| s.stop_timeout)
            .max()
            .unwrap_or(self.sweep_grace);
        // New streams before anything of the new config is spawned.
        let stops = std::mem::take(&mut self.out);
        self.out.extend(touched.into_iter().map(Action::Rewire));
        self.out.extend(stops);
    }

    /// New config index → stable index (by name; new processes appended),
    /// and the stable indices created.
    fn stable_indices(&mut self, cfg: &Config) -> (Vec<usize>, Vec<usize>) {
        let by_name: std::collections::HashMap<String, usize> = (0..self.specs.len())
            .filter(|&i| !self.procs[i].retired)
            .map(|i| (self.specs[i].name.clone(), i))
            .collect();
        let mut remap = Vec::with_capacity(cfg.procs.len());
        let mut created = Vec::new();
        for spec in &cfg.procs {
            remap.push(by_name.get(&spec.name).copied().unwrap_or_else(|| {
                self.specs.push(spec.clone());
                self.procs.push(Proc::new());
                created.push(self.specs.len() - 1);
                self.specs.len() - 1
            }));
        }
        (remap, created)
    }

    /// A changed process starts afresh: stopped as its old spec said, then
    /// spawned again at once.
    fn restart_changed(&mut self, now: Instant, idx: usize, old: &ProcSpec) {
        let p = &mut self.procs[idx];
        p.held = false;
        p.reason = None;
        p.failures = 0;
        p.short_runs = 0;
        p.backoff_until = None;
        match p.pid {
            Some(_) if p.state != State::Stopping => {
                p.restart_now = true;
                self.stop(now, idx, StopWith::Old(old.stop_signal, old.stop_timeout));
            }
            Some(_) => p.restart_now = true,
            None => p.state = State::Waiting,
        }
    }

    /// Processes the new config lacks: retired, stopped by `step` once
    /// their dependents are down.
    fn retire_removed(&mut self, remap: &[usize]) {
        let kept: std::collections::HashSet<usize> = remap.iter().copied().collect();
        for idx in 0..self.specs.len() {
            if kept.contains(&idx) || self.procs[idx].retired {
                continue;
            }
            let name = self.specs[idx].name.clone();
            note!(
                self,
                Info,
                Reload,
                Some(idx),
                "reload: {name} was removed; stopping it"
            );
            let p = &mut self.procs[idx];
            p.retired = true;
            p.held = true;
            p.backoff_until = None;
            if p.state == State::Backoff || p.state == State::Waiting {
                p.state = p
                    .last_exit
                    .map_or(State::Exited(ExitStatus::Code(0)), State::Exited);
            }
        }
    }

    /// Stops retired processes whose dependents are all down.
    fn stop_retired(&mut self, now: Instant) {
        for idx in 0..self.procs.len() {
            let p = &self.procs[idx];
            if p.pid.is_none() || !p.retired || p.state == State::Stopping {
                continue;
            }
            if self.dependents_down(idx) {
                self.stop(now, idx, StopWith::Spec);
            }
        }
    }

    /// Processes of the current config (not retired by a reload).
    pub fn current(&self) -> Vec<usize> {
        (0..self.procs.len())
            .filter(|&i| !self.procs[i].retired)
            .collect()
    }

    /// A request of the control socket (or SIGHUP's reload); a refusal is
    /// an `EventKind::Refused` event whose text is the answer.
    fn on_control(&mut self, now: Instant, cmd: Control) {
        if let Err(why) = self.control(now, cmd) {
            note!(self, Debug, Refused, None, "{why}");
        }
    }

    fn control(&mut self, now: Instant, cmd: Control) -> Result<(), String> {
        if self.phase != Phase::Up {
            return Err("the pod is shutting down".into());
        }
        let (idx, verb) = match cmd {
            Control::Start(i) => (i, "start"),
            Control::Stop(i) => (i, "stop"),
            Control::Restart(i) => (i, "restart"),
            Control::Signal(i, _) => (i, "signal"),
            Control::Reload if self.drop_in => {
                return Err(
                    "podinit runs without a config file; there is nothing to reload".into(),
                );
            }
            Control::Reload => {
                self.out.push(Action::ReadConfig);
                return Ok(());
            }
        };
        let name = self.specs[idx].name.clone();
        let alive = self.procs[idx].pid.is_some();
        match cmd {
            Control::Start(_) | Control::Restart(_) if !alive => {
                if self.procs[idx].state == State::Starting {
                    return Err(format!("{name} is starting already"));
                }
                note!(self, Info, Operator, Some(idx), "starting {name} as asked");
                self.cancel_probe(idx);
                let p = &mut self.procs[idx];
                p.held = false;
                p.backoff_until = None;
                p.failures = 0;
                p.short_runs = 0;
                p.reason = None;
                p.state = State::Starting;
                self.out.push(Action::Spawn(idx));
            }
            Control::Start(_) => return Err(format!("{name} is running already")),
            Control::Stop(_) if !alive => {
                // Not running: it just stays down (no restart, no start).
                let p = &mut self.procs[idx];
                p.held = true;
                p.backoff_until = None;
                if p.state == State::Backoff {
                    p.state = p.last_exit.map_or(State::Waiting, State::Exited);
                }
                note!(
                    self,
                    Info,
                    Operator,
                    Some(idx),
                    "{name} is held stopped as asked"
                );
            }
            Control::Stop(_) | Control::Restart(_) => {
                let p = &mut self.procs[idx];
                if p.state == State::Stopping {
                    return Err(format!("{name} is stopping already"));
                }
                if matches!(cmd, Control::Stop(_)) {
                    p.held = true;
                } else {
                    p.restart_now = true;
                    p.held = false;
                }
                note!(
                    self,
                    Info,
                    Operator,
                    Some(idx),
                    "{verb}: stopping {name} as asked"
                );
                self.stop(now, idx, StopWith::Spec);
            }
            Control::Signal(_, sig) => match self.procs[idx].pid {
                Some(pid) => self.out.push(Action::SignalProcess { idx, pid, sig }),
                None => return Err(format!("{name} is not running")),
            },
            Control::Reload => unreachable!("answered above"),
        }
        Ok(())
    }

    /// Everything that is due at `now`: probe timeouts, backoffs, probes,
    /// stop timeouts, the shutdown timeout and the sweep's SIGKILL.
    fn timers(&mut self, now: Instant) {
        for idx in 0..self.procs.len() {
            self.probe_timeout(now, idx);
            if self.phase == Phase::Up {
                self.backoff_or_probe(now, idx);
                if self.procs[idx].watchdog_at.is_some_and(|t| now >= t) {
                    self.watchdog_expired(now, idx);
                }
            }
        }
        for idx in 0..self.procs.len() {
            let p = &self.procs[idx];
            if let (Some(deadline), false, Some(_)) = (p.stop_deadline, p.killed, p.pid)
                && now >= deadline
            {
                // What was really sent: a reload may have changed the spec.
                let (sig, timeout) = p
                    .stopping_with
                    .unwrap_or((self.stop_signal_of(idx), self.specs[idx].stop_timeout));
                note!(
                    self,
                    Warn,
                    Killed,
                    Some(idx),
                    "{} did not stop within {} of SIG{}; sending SIGKILL",
                    self.specs[idx].name,
                    format_duration(timeout),
                    signal_name(sig)
                );
                self.kill(idx);
            }
        }
        if self.phase == Phase::Up {
            self.scheduled_runs(now);
        }
        self.phase_timers(now);
    }

    /// A probe in flight past its timeout counts as a failure.
    fn probe_timeout(&mut self, now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        let Some((id, role, deadline)) = p.probe_running else {
            return;
        };
        if now < deadline {
            return;
        }
        p.probe_running = None;
        self.out.push(Action::CancelProbe { id });
        let timeout = match role {
            Role::Ready => self.specs[idx].ready.as_ref(),
            Role::Health => self.specs[idx].health.as_ref(),
        }
        .map_or(Duration::ZERO, |p| p.timeout);
        let why = format!(
            "no answer within its timeout of {}",
            format_duration(timeout)
        );
        self.probe_outcome(now, idx, role, ProbeResult::fail(why));
    }

    /// A backoff that is over (spawn again), or a probe that is due.
    fn backoff_or_probe(&mut self, now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        if let Some(t) = p.backoff_until
            && now >= t
        {
            p.backoff_until = None;
            p.restarts += 1;
            p.state = State::Starting;
            self.out.push(Action::Spawn(idx));
            return;
        }
        let (Some(t), None, Some(pid)) = (p.probe_at, p.probe_running, p.pid) else {
            return;
        };
        if now < t || !matches!(p.state, State::Running | State::Ready) {
            return;
        }
        let (role, probe) = if p.state == State::Running {
            (Role::Ready, self.specs[idx].ready.as_ref())
        } else {
            (Role::Health, self.specs[idx].health.as_ref())
        };
        p.probe_at = None;
        let Some(probe) = probe else {
            return;
        };
        let id = self.next_probe_id;
        self.next_probe_id += 1;
        p.probe_running = Some((id, role, now + probe.timeout));
        self.out.push(Action::Probe { id, idx, pid, role });
    }

    /// The shutdown timeout (kill everything) and the sweep's SIGKILL.
    fn phase_timers(&mut self, now: Instant) {
        match self.phase {
            Phase::Stopping { deadline } if !self.forced && now >= deadline => {
                note!(
                    self,
                    Warn,
                    Forced,
                    None,
                    "shutdown_timeout ({}) reached; killing everything left",
                    format_duration(self.shutdown_timeout)
                );
                self.force();
            }
            Phase::Sweeping {
                kill_at,
                killed: false,
            } if now >= kill_at => {
                note!(
                    self,
                    Warn,
                    Sweep,
                    None,
                    "stray processes are still running; sending SIGKILL to all"
                );
                self.phase = Phase::Sweeping {
                    kill_at,
                    killed: true,
                };
                self.out.push(Action::Sweep(libc::SIGKILL));
            }
            _ => {}
        }
    }

    /// The one way a process is stopped: its stop signal to its group, and
    /// SIGKILL at the stop timeout (by `timers`). Every path goes through
    /// here: shutdown, liveness, `podinit stop`/`restart`, reload.
    fn stop(&mut self, now: Instant, idx: usize, with: StopWith) {
        let Some(pid) = self.procs[idx].pid else {
            return;
        };
        let (sig, timeout) = match with {
            StopWith::Spec => (self.stop_signal_of(idx), self.specs[idx].stop_timeout),
            StopWith::Old(sig, timeout) => (sig, timeout),
        };
        let p = &mut self.procs[idx];
        p.state = State::Stopping;
        p.stop_deadline = Some(now + timeout);
        p.stopping_with = Some((sig, timeout));
        self.out.push(Action::SignalGroup { idx, pid, sig });
    }

    /// SIGKILL to the group at once (forced shutdown, stop timeout passed).
    fn kill(&mut self, idx: usize) {
        let Some(pid) = self.procs[idx].pid else {
            return;
        };
        let p = &mut self.procs[idx];
        p.killed = true;
        p.state = State::Stopping;
        self.out.push(Action::SignalGroup {
            idx,
            pid,
            sig: libc::SIGKILL,
        });
    }

    /// Whether every process that depends on `idx` is down: the rule of
    /// the stop order (a process stops only after its dependents).
    fn dependents_down(&self, idx: usize) -> bool {
        (0..self.specs.len())
            .filter(|&j| j != idx && self.specs[j].deps.iter().any(|d| d.on == idx))
            .all(|j| !self.alive(j))
    }

    fn stop_signal_of(&self, idx: usize) -> i32 {
        match (self.drop_in, self.request_signal) {
            (true, Some(sig)) => sig,
            _ => self.specs[idx].stop_signal,
        }
    }

    /// Stops every process whose dependents are all down; when nothing
    /// managed is left, moves on to the sweep.
    fn stop_next(&mut self, now: Instant, deadline: Instant) {
        for idx in (0..self.procs.len()).rev() {
            let p = &self.procs[idx];
            if p.pid.is_none() || p.state == State::Stopping || p.killed {
                continue;
            }
            if !self.dependents_down(idx) {
                continue;
            }
            if self.forced {
                self.kill(idx);
            } else {
                note!(
                    self,
                    Info,
                    Stopping,
                    Some(idx),
                    "stopping {} (SIG{} to its process group)",
                    self.specs[idx].name,
                    signal_name(self.stop_signal_of(idx))
                );
                self.stop(now, idx, StopWith::Spec);
            }
        }
        if self
            .procs
            .iter()
            .all(|p| p.pid.is_none() && p.state != State::Starting)
        {
            let kill_at = (now + self.sweep_grace).min(deadline);
            let killed = self.forced;
            self.phase = Phase::Sweeping { kill_at, killed };
            self.out.push(Action::Sweep(if killed {
                libc::SIGKILL
            } else {
                libc::SIGTERM
            }));
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

mod exit;
mod health;
mod notify;
mod schedule;
pub use exit::{Ending, exit_status};
pub use health::Check;
pub use notify::SdMessage;

#[cfg(test)]
mod tests;
