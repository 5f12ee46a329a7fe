//! A process's exit: whether it was asked for, the restart policy and its
//! backoff, and an end for good (a main's or a critical process's ends the
//! pod).

use super::*;

impl Supervisor {
    /// Process `idx` ended with `status`: what follows, in order — a stop
    /// the operator or a reload asked for, a stop podinit made, the restart
    /// policy, and then what its end means for the pod.
    pub(super) fn on_exit(&mut self, now: Instant, idx: usize, status: ExitStatus) {
        self.cancel_probe(idx);
        self.cancel_hook(idx);
        let p = &mut self.procs[idx];
        let was_stopping = p.state == State::Stopping;
        let liveness_restart = p.restart_after_stop;
        let restart_now = p.restart_now;
        let oom = p.oom_pending;
        p.watchdog_at = None;
        self.record_reason(idx, status);
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
        if success && !liveness_restart && self.back_to_demand(idx) {
            return;
        }
        if self.restart_by_policy(now, idx, status, success, liveness_restart) {
            return;
        }
        self.ended_for_good(now, idx, status, success);
    }

    /// Why run `idx` ended, as `status` and metrics give it; clears the
    /// flags that told.
    fn record_reason(&mut self, idx: usize, status: ExitStatus) {
        let p = &mut self.procs[idx];
        let hook_failed = std::mem::take(&mut p.hook_failed);
        let liveness_restart = std::mem::take(&mut p.restart_after_stop);
        let restart_now = std::mem::take(&mut p.restart_now);
        let oom = std::mem::take(&mut p.oom_pending);
        let watchdog = std::mem::take(&mut p.watchdog_failed);
        let reason = if oom {
            p.oom_kills += 1;
            ExitReason::Oom
        } else if watchdog {
            ExitReason::Watchdog
        } else if hook_failed {
            ExitReason::Hook
        } else if liveness_restart {
            ExitReason::Liveness
        } else if restart_now || p.held || p.retired {
            ExitReason::Operator
        } else if matches!(status, ExitStatus::Signaled(_)) {
            ExitReason::Signal
        } else {
            ExitReason::Exit
        };
        p.last_exit_reason = Some(reason);
        if let Some(k) = ExitReason::ALL.iter().position(|&x| x == reason) {
            p.exits_by_reason[k] += 1;
        }
    }

    /// An exit the operator or a reload asked for: `podinit restart` (spawn
    /// again at once), a process removed from the config, `podinit stop`.
    pub(super) fn exit_as_asked(
        &mut self,
        idx: usize,
        status: ExitStatus,
        restart_now: bool,
    ) -> bool {
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
    pub(super) fn stopped_by_us(&mut self, idx: usize, status: ExitStatus, success: bool) {
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
    /// Long on purpose: the policy's cases (completed, never, on-failure,
    /// always, the cap, the backoff) read top to bottom as the docs list them.
    pub(super) fn restart_by_policy(
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
        // `restart_codes` (Kubernetes' restartPolicyRules) come first.
        let by_code = matches!(status, ExitStatus::Code(c) if spec.restart_codes.contains(&c));
        let wants_restart = liveness_restart
            || by_code
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
    /// failed for good): a main ends the pod (under `all_mains`, the last
    /// one); so does a critical failure. Long on purpose: the state, the
    /// event, then the three endings in the order they are weighed.
    pub(super) fn ended_for_good(
        &mut self,
        now: Instant,
        idx: usize,
        status: ExitStatus,
        success: bool,
    ) {
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
            // Under `all_mains` the pod ends with the last main, with the
            // first failure's status.
            let (mut status, mut success) = (status, success);
            if self.all_mains {
                if !success && self.first_failure.is_none() {
                    self.first_failure = Some(status);
                }
                if self.other_mains_run_on(idx) {
                    note!(
                        self,
                        Info,
                        Exited,
                        Some(idx),
                        "main process {name} ended; the pod waits for its other main processes"
                    );
                    return;
                }
                (status, success) = self.first_failure.map_or((status, success), |f| (f, false));
            }
            let code = self.decide(Ending::MainEnded { status, success });
            let what = if self.all_mains {
                "every main process ended; the pod is complete".to_string()
            } else {
                format!("main process {name} ended; shutting the pod down")
            };
            note!(
                self,
                Info,
                Shutdown,
                Some(idx),
                "{what} (exit status {code})"
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

    /// Another main process still runs or will run again.
    fn other_mains_run_on(&self, idx: usize) -> bool {
        (0..self.procs.len()).any(|i| {
            let p = &self.procs[i];
            i != idx
                && self.specs[i].main
                && !p.retired
                && (p.pid.is_some()
                    || !matches!(p.state, State::Exited(_) | State::Completed | State::Failed))
        })
    }
}
