//! `start = "on-demand"`: a process started by the first connection or
//! datagram on one of its `listen` sockets (podinit holds them, and waits
//! on them only while the process is down: no wake-up while nothing
//! arrives). After a clean exit (idle) it waits again; a failure follows
//! its restart policy. A dependency on it is met while it waits: its
//! sockets are up, as systemd's socket units.

use super::*;

impl Supervisor {
    /// At the start: every on-demand process's sockets are watched.
    pub(super) fn arm_on_demand(&mut self) {
        for idx in 0..self.procs.len() {
            if self.procs[idx].demand_wait && !self.procs[idx].held {
                self.out.push(Action::ArmSockets { idx, on: true });
            }
        }
    }

    pub(super) fn on_demand(&mut self, _now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        if !p.demand_wait || p.pid.is_some() {
            return;
        }
        if self.phase != Phase::Up || p.held || p.retired {
            // Nobody starts it now: stop watching (a pending connection
            // would wake the loop for ever).
            self.out.push(Action::ArmSockets { idx, on: false });
            return;
        }
        p.demand_wait = false;
        p.state = State::Starting;
        self.out.push(Action::ArmSockets { idx, on: false });
        self.out.push(Action::Spawn(idx));
        note!(
            self,
            Info,
            Started,
            Some(idx),
            "{}: a connection came; starting it",
            self.specs[idx].name
        );
    }

    /// After a clean exit: back to waiting for a connection, if it is on-demand.
    pub(super) fn back_to_demand(&mut self, idx: usize) -> bool {
        if !self.specs[idx].on_demand || self.phase != Phase::Up || self.procs[idx].held {
            return false;
        }
        let p = &mut self.procs[idx];
        p.demand_wait = true;
        p.state = State::Waiting;
        self.out.push(Action::ArmSockets { idx, on: true });
        note!(
            self,
            Info,
            Exited,
            Some(idx),
            "{} exited; it starts again at the next connection",
            self.specs[idx].name
        );
        true
    }
}
