//! The supervisor: every decision of podinit, as a pure state machine.
//!
//! Events go in ([`Input`], with the current time), actions come out
//! ([`Action`]); [`Supervisor::next_deadline`] says when to call back if
//! nothing happens. Boundary: no syscalls, no clock reads, no I/O other than
//! log messages. The runtime executes the actions and feeds their results
//! back in (`Spawn` → `Spawned`/`SpawnFailed`, `Sweep` → `NoChildren` once the
//! process table is empty).

use std::time::{Duration, Instant};

use crate::config::{Condition, Config, ProcSpec, signal_name};

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

/// The states a user sees (SPEC §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started: waiting for dependencies (or never started, in a shutdown).
    Waiting,
    /// Spawn requested, pid not known yet.
    Starting,
    /// Started, not ready yet (a readiness probe is pending).
    #[allow(dead_code)] // entered once readiness probes exist
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
    #[allow(dead_code)] // entered once restart policies exist
    Backoff,
    /// Gave up: will never run again.
    Failed,
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
        }
    }

    /// Ended and will not run again (in this version's policies).
    fn is_final(self) -> bool {
        matches!(self, State::Exited(_) | State::Completed | State::Failed)
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
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
    /// Exit podinit with this status.
    Exit(i32),
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
    /// When SIGKILL follows the stop signal; None when no stop is under way.
    stop_deadline: Option<Instant>,
    killed: bool,
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
    phase: Phase,
    /// Set once a stop everything-now was decided (second signal, shutdown_timeout).
    forced: bool,
    /// A shutdown was requested by a signal (or control verb).
    requested: bool,
    /// The signal that requested the shutdown (used in drop-in mode).
    request_signal: Option<i32>,
    exit_code: Option<i32>,
    out: Vec<Action>,
}

impl Supervisor {
    pub fn new(cfg: &Config) -> Supervisor {
        let n = cfg.procs.len();
        Supervisor {
            specs: cfg.procs.clone(),
            procs: vec![
                Proc {
                    state: State::Waiting,
                    pid: None,
                    started_at: None,
                    ever_started: false,
                    last_exit: None,
                    stop_deadline: None,
                    killed: false,
                };
                n
            ],
            start_order: cfg.plan.start_order(),
            shutdown_timeout: cfg.global.shutdown_timeout,
            sweep_grace: cfg
                .procs
                .iter()
                .map(|p| p.stop_timeout)
                .max()
                .unwrap_or(crate::config::DEFAULT_STOP_TIMEOUT),
            drop_in: cfg.source.is_none(),
            phase: Phase::Up,
            forced: false,
            requested: false,
            request_signal: None,
            exit_code: None,
            out: Vec::new(),
        }
    }

    pub fn specs(&self) -> &[ProcSpec] {
        &self.specs
    }

    #[allow(dead_code)] // for `podinit status`
    pub fn procs(&self) -> &[Proc] {
        &self.procs
    }

    /// Starts the pod: the first processes to spawn.
    pub fn start(&mut self, now: Instant) -> Vec<Action> {
        self.step(now);
        std::mem::take(&mut self.out)
    }

    /// Feeds one event; returns what to do about it.
    pub fn handle(&mut self, now: Instant, input: Input) -> Vec<Action> {
        match input {
            Input::Spawned { idx, pid } => self.on_spawned(now, idx, pid),
            Input::SpawnFailed { idx, status } => {
                self.procs[idx].state = State::Starting;
                self.on_exit(now, idx, status);
            }
            Input::Reaped { pid, status } => {
                if let Some(idx) = self.procs.iter().position(|p| p.pid == Some(pid)) {
                    self.on_exit(now, idx, status);
                } else {
                    log::debug!("reaped orphan {pid} ({status})");
                }
            }
            Input::NoChildren => {
                if let Phase::Sweeping { .. } = self.phase {
                    self.finish();
                }
            }
            Input::Signal(sig) => self.on_signal(now, sig),
            Input::Tick => {}
        }
        self.step(now);
        std::mem::take(&mut self.out)
    }

    /// The next time something is due, if nothing else happens before.
    pub fn next_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        for p in &self.procs {
            if let (Some(t), false) = (p.stop_deadline, p.killed) {
                consider(t);
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

    /// Whether `pid` is one of the pod's processes (not an orphan).
    pub fn manages(&self, pid: Pid) -> bool {
        self.procs.iter().any(|p| p.pid == Some(pid))
    }

    fn alive(&self, idx: usize) -> bool {
        self.procs[idx].pid.is_some()
    }

    fn on_spawned(&mut self, now: Instant, idx: usize, pid: Pid) {
        let p = &mut self.procs[idx];
        p.pid = Some(pid);
        p.started_at = Some(now);
        p.ever_started = true;
        p.killed = false;
        p.stop_deadline = None;
        // Without a readiness probe, a process is ready once started.
        p.state = State::Ready;
        log::info!("{} started (pid {pid})", self.specs[idx].name);
        // A process spawned while a shutdown began is stopped at once by `step`.
    }

    fn on_exit(&mut self, now: Instant, idx: usize, status: ExitStatus) {
        let spec = &self.specs[idx];
        let p = &mut self.procs[idx];
        let was_stopping = p.state == State::Stopping;
        p.pid = None;
        p.last_exit = Some(status);
        p.stop_deadline = None;
        let success = spec.success_codes.contains(&status.shell_code());
        p.state = if spec.oneshot && success {
            State::Completed
        } else {
            State::Exited(status)
        };
        let name = &spec.name;
        if was_stopping {
            log::info!("{name} stopped ({status})");
        } else if p.state == State::Completed {
            log::info!("{name} completed");
        } else if success {
            log::info!("{name} exited ({status})");
        } else {
            log::warn!("{name} exited ({status})");
        }
        if spec.main && self.exit_code.is_none() {
            let code = if success { 0 } else { status.shell_code() };
            self.exit_code = Some(code);
            if self.phase == Phase::Up {
                log::info!("main process {name} ended; shutting the pod down (exit status {code})");
                self.begin_shutdown(now);
            }
        }
    }

    fn on_signal(&mut self, now: Instant, sig: i32) {
        match sig {
            libc::SIGTERM | libc::SIGINT | libc::SIGQUIT => match self.phase {
                Phase::Up => {
                    log::info!("received SIG{}; shutting the pod down", signal_name(sig));
                    self.requested = true;
                    self.request_signal = Some(sig);
                    self.begin_shutdown(now);
                }
                Phase::Stopping { .. } | Phase::Sweeping { .. }
                    if sig != libc::SIGQUIT && !self.forced =>
                {
                    log::warn!(
                        "received SIG{} again; killing everything now",
                        signal_name(sig)
                    );
                    self.force();
                }
                _ => {}
            },
            libc::SIGHUP if !self.drop_in => {
                log::warn!(
                    "received SIGHUP: reloading the config is not supported by this version; ignored"
                );
            }
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

    fn begin_shutdown(&mut self, now: Instant) {
        if self.phase == Phase::Up {
            self.phase = Phase::Stopping {
                deadline: now + self.shutdown_timeout,
            };
        }
    }

    /// Kill everything now: every managed group, then every stray.
    fn force(&mut self) {
        self.forced = true;
        for idx in 0..self.procs.len() {
            if let Some(pid) = self.procs[idx].pid
                && !self.procs[idx].killed
            {
                self.procs[idx].killed = true;
                self.procs[idx].state = State::Stopping;
                self.out.push(Action::SignalGroup {
                    idx,
                    pid,
                    sig: libc::SIGKILL,
                });
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

    fn finish(&mut self) {
        let code = match self.exit_code {
            Some(c) => c,
            None if self.requested => 0,
            None => {
                // No main: the pod ended by itself, when nothing was left to run.
                let all_ok = self.specs.iter().zip(&self.procs).all(|(s, p)| {
                    p.last_exit
                        .is_some_and(|e| s.success_codes.contains(&e.shell_code()))
                });
                if all_ok { 0 } else { 1 }
            }
        };
        log::info!("all processes are down; exiting with status {code}");
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
            let why = match p.state {
                State::Exited(st) => format!("{} {}", self.specs[on].name, st),
                State::Failed => format!("{} failed", self.specs[on].name),
                _ => format!("{} ended", self.specs[on].name),
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
                self.start_ready_ones(now);
                if self.phase == Phase::Up && self.pod_is_over() {
                    log::info!("no process is left to run; shutting the pod down");
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
            if self.procs[idx].state != State::Waiting {
                continue;
            }
            let mut ready = true;
            for d in &self.specs[idx].deps {
                match self.dep_status(d.on, d.cond) {
                    Ok(true) => {}
                    Ok(false) => ready = false,
                    Err(why) => {
                        log::error!(
                            "{} will not start: it needs {} to be {}, but {why}",
                            self.specs[idx].name,
                            self.specs[d.on].name,
                            d.cond.as_str()
                        );
                        self.procs[idx].state = State::Failed;
                        if self.specs[idx].main && self.exit_code.is_none() {
                            self.exit_code = Some(1);
                            log::error!(
                                "main process {} can never start; shutting the pod down",
                                self.specs[idx].name
                            );
                            self.begin_shutdown(now);
                            return;
                        }
                        ready = false;
                        break;
                    }
                }
            }
            if ready {
                self.procs[idx].state = State::Starting;
                self.out.push(Action::Spawn(idx));
            }
        }
    }

    /// No main process: the pod is over when nothing runs and nothing can start.
    fn pod_is_over(&self) -> bool {
        !self.specs.iter().any(|s| s.main) && self.procs.iter().all(|p| p.state.is_final())
    }

    fn timers(&mut self, now: Instant) {
        for idx in 0..self.procs.len() {
            let p = &self.procs[idx];
            if let (Some(deadline), false, Some(pid)) = (p.stop_deadline, p.killed, p.pid)
                && now >= deadline
            {
                log::warn!(
                    "{} did not stop within {} of SIG{}; sending SIGKILL",
                    self.specs[idx].name,
                    crate::config::format_duration(self.specs[idx].stop_timeout),
                    signal_name(self.stop_signal_of(idx))
                );
                self.procs[idx].killed = true;
                self.out.push(Action::SignalGroup {
                    idx,
                    pid,
                    sig: libc::SIGKILL,
                });
            }
        }
        match self.phase {
            Phase::Stopping { deadline } if !self.forced && now >= deadline => {
                log::warn!(
                    "shutdown_timeout ({}) reached; killing everything left",
                    crate::config::format_duration(self.shutdown_timeout)
                );
                self.force();
            }
            Phase::Sweeping {
                kill_at,
                killed: false,
            } if now >= kill_at => {
                log::warn!("stray processes are still running; sending SIGKILL to all");
                self.phase = Phase::Sweeping {
                    kill_at,
                    killed: true,
                };
                self.out.push(Action::Sweep(libc::SIGKILL));
            }
            _ => {}
        }
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
            let Some(pid) = p.pid else { continue };
            if p.state == State::Stopping || p.killed {
                continue;
            }
            let dependents_down = (0..self.specs.len())
                .filter(|&j| self.specs[j].deps.iter().any(|d| d.on == idx))
                .all(|j| !self.alive(j));
            if !dependents_down {
                continue;
            }
            let sig = self.stop_signal_of(idx);
            log::info!(
                "stopping {} (SIG{} to its process group)",
                self.specs[idx].name,
                signal_name(sig)
            );
            let p = &mut self.procs[idx];
            p.state = State::Stopping;
            if self.forced {
                p.killed = true;
                self.out.push(Action::SignalGroup {
                    idx,
                    pid,
                    sig: libc::SIGKILL,
                });
            } else {
                p.stop_deadline = Some(now + self.specs[idx].stop_timeout);
                self.out.push(Action::SignalGroup { idx, pid, sig });
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

#[cfg(test)]
mod tests;
