//! Signals and the stop sequence: forwarding, the shutdown in reverse
//! start order, `stop` and `kill` (the one place a process is signalled to
//! stop), the timers of stops and of the shutdown, and the pod's end.

use super::*;

impl Supervisor {
    pub(super) fn on_signal(&mut self, now: Instant, sig: i32) {
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

    pub(super) fn forward(&mut self, sig: i32) {
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
    pub(super) fn forward_as_tini(&mut self, sig: i32) {
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

    pub(super) fn begin_shutdown(&mut self, now: Instant) {
        if self.phase != Phase::Up {
            return;
        }
        let deadline = now + self.shutdown_timeout;
        self.phase = Phase::Stopping { deadline };
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
        if !self.forced {
            self.pre_stops_at_shutdown(now, deadline);
        }
        for idx in 0..self.procs.len() {
            if self.procs[idx].demand_wait {
                self.out.push(Action::ArmSockets { idx, on: false });
            }
        }
    }

    /// Kill everything now: every managed group, then every stray.
    pub(super) fn force(&mut self) {
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
    pub(super) fn decide(&mut self, ending: Ending) -> i32 {
        exit_status(*self.ending.get_or_insert(ending))
    }

    pub(super) fn finish(&mut self) {
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

    /// Everything that is due at `now`: probe timeouts, backoffs, probes,
    /// stop timeouts, the shutdown timeout and the sweep's SIGKILL.
    pub(super) fn timers(&mut self, now: Instant) {
        for idx in 0..self.procs.len() {
            self.probe_timeout(now, idx);
            self.hook_timeout(now, idx);
            if self.phase == Phase::Up {
                self.readiness_timers(now, idx);
            }
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
                let hook = if self.specs[idx].pre_stop.is_some() {
                    "its pre_stop hook and "
                } else {
                    ""
                };
                note!(
                    self,
                    Warn,
                    Killed,
                    Some(idx),
                    "{} did not stop within {} of {hook}SIG{}; sending SIGKILL",
                    self.specs[idx].name,
                    format_duration(timeout),
                    signal_name(sig)
                );
                self.kill(idx);
            }
        }
        if self.phase == Phase::Up {
            self.scheduled_runs(now);
            self.changes_due(now);
        }
        self.phase_timers(now);
    }

    /// The shutdown timeout (kill everything) and the sweep's SIGKILL.
    pub(super) fn phase_timers(&mut self, now: Instant) {
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
    pub(super) fn stop(&mut self, now: Instant, idx: usize, with: StopWith) {
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
        if self.pre_stop_first(now, idx) {
            return; // the signal follows the hook (`hook_done`)
        }
        self.out.push(Action::SignalGroup { idx, pid, sig });
    }

    /// SIGKILL to the group at once (forced shutdown, stop timeout passed).
    pub(super) fn kill(&mut self, idx: usize) {
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
    pub(super) fn dependents_down(&self, idx: usize) -> bool {
        (0..self.specs.len())
            .filter(|&j| j != idx && self.specs[j].deps.iter().any(|d| d.on == idx))
            .all(|j| !self.alive(j))
    }

    pub(super) fn stop_signal_of(&self, idx: usize) -> i32 {
        match (self.drop_in, self.request_signal) {
            (true, Some(sig)) => sig,
            _ => self.specs[idx].stop_signal,
        }
    }

    /// Stops every process whose dependents are all down; when nothing
    /// managed is left, moves on to the sweep.
    pub(super) fn stop_next(&mut self, now: Instant, deadline: Instant) {
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
