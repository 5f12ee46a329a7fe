//! The supervisor's decisions with simulated time: no process is spawned,
//! no clock is read.

pub(super) use super::*;
pub(super) use crate::config;
pub(super) use std::time::{Duration, Instant};

pub(super) const TERM: i32 = libc::SIGTERM;
pub(super) const KILL: i32 = libc::SIGKILL;

pub(super) fn pod(toml: &str) -> Config {
    config::parse(toml, "test.toml", None, &|_| None).unwrap()
}

/// A simulated pod: pids are 100 + index, time moves only when told.
pub(super) struct Sim {
    sup: Supervisor,
    pub(super) t0: Instant,
    pub(super) now: Instant,
    /// The wall clock at t0, in ms since the epoch.
    wall0: i64,
}

impl Sim {
    pub(super) fn new(cfg: &Config) -> (Sim, Vec<Action>) {
        Sim::new_at(cfg, 0, config::schedule::utc)
    }

    /// Starts at a wall-clock time, in a zone (scheduled jobs).
    pub(super) fn new_at(cfg: &Config, wall0: i64, zone: config::Zone) -> (Sim, Vec<Action>) {
        let t0 = Instant::now();
        let mut sup = Supervisor::new(cfg);
        sup.set_zone(zone);
        sup.set_clock(wall0);
        let first = sup.handle(t0, Input::Start);
        (
            Sim {
                sup,
                t0,
                now: t0,
                wall0,
            },
            first,
        )
    }

    pub(super) fn idx(&self, name: &str) -> usize {
        self.sup
            .specs()
            .iter()
            .position(|s| s.name == name)
            .unwrap()
    }

    pub(super) fn pid(&self, name: &str) -> Pid {
        100 + self.idx(name) as Pid
    }

    pub(super) fn feed(&mut self, input: Input) -> Vec<Action> {
        let ms = (self.now - self.t0).as_millis() as i64;
        self.sup.set_clock(self.wall0 + ms);
        self.sup.handle(self.now, input)
    }

    /// A control request: its actions, or the refusal the client would get.
    pub(super) fn control(&mut self, cmd: Control) -> Result<Vec<Action>, String> {
        self.sup.take_events();
        let acts = self.feed(Input::Control(cmd));
        let refused: Vec<String> = self
            .sup
            .take_events()
            .into_iter()
            .filter(|e| e.kind == EventKind::Refused)
            .map(|e| e.text)
            .collect();
        if refused.is_empty() {
            Ok(acts)
        } else {
            Err(refused.join("; "))
        }
    }

    /// The events of one kind since the last call (the others are dropped).
    pub(super) fn events(&mut self, kind: EventKind) -> Vec<String> {
        self.sup
            .take_events()
            .into_iter()
            .filter(|e| e.kind == kind)
            .map(|e| e.text)
            .collect()
    }

    pub(super) fn spawned(&mut self, name: &str) -> Vec<Action> {
        let idx = self.idx(name);
        self.feed(Input::Spawned {
            idx,
            pid: 100 + idx as Pid,
        })
    }

    pub(super) fn exited(&mut self, name: &str, status: ExitStatus) -> Vec<Action> {
        let pid = self.pid(name);
        self.feed(Input::Reaped { pid, status })
    }

    /// Moves time to `ms` after the start and fires what is due.
    pub(super) fn at(&mut self, ms: u64) -> Vec<Action> {
        self.now = self.t0 + Duration::from_millis(ms);
        self.feed(Input::Tick)
    }

    pub(super) fn spawn(&self, name: &str) -> Action {
        Action::Spawn(self.idx(name))
    }

    pub(super) fn group(&self, name: &str, sig: i32) -> Action {
        Action::SignalGroup {
            idx: self.idx(name),
            pid: self.pid(name),
            sig,
        }
    }

    pub(super) fn state(&self, name: &str) -> State {
        self.sup.procs()[self.idx(name)].state
    }

    pub(super) fn deadline_ms(&self) -> Option<u128> {
        self.sup.next_deadline().map(|d| (d - self.t0).as_millis())
    }
}

/// a → b → c.
pub(super) const CHAIN: &str = r#"
[process.a]
command = "a"
[process.b]
command = "b"
depends_on = ["a"]
[process.c]
command = "c"
depends_on = ["b"]
main = true
"#;

mod changes;
mod control;
mod demand;
mod hooks;
mod lifecycle;
mod rolling;
mod schedule;
mod start_stop;
