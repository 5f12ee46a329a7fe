//! Readiness and liveness probes: results, timeouts, and the backoff or
//! next probe of a process.

use super::*;

impl Supervisor {
    pub(super) fn cancel_probe(&mut self, idx: usize) {
        self.readiness_ends(idx);
        let p = &mut self.procs[idx];
        p.probe_at = None;
        if let Some((id, _, _)) = p.probe_running.take() {
            self.out.push(Action::CancelProbe { id });
        }
    }

    pub(super) fn on_probe_result(&mut self, now: Instant, id: u64, result: ProbeResult) {
        if self.on_readiness_result(now, id, &result) {
            return;
        }
        if self.on_hook_result(now, id, &result) {
            return;
        }
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

    /// What a probe's result does: readiness, health, restarts.
    /// Long on purpose: the readiness and health rules side by side, as the docs
    /// give them (thresholds, the first success, a failing liveness).
    pub(super) fn probe_outcome(
        &mut self,
        now: Instant,
        idx: usize,
        role: Role,
        result: ProbeResult,
    ) {
        let name = self.specs[idx].name.clone();
        let why = result.detail;
        self.procs[idx].probe_failure = (!result.ok).then(|| why.clone());
        match role {
            Role::PostStart | Role::PreStop | Role::Readiness => {}
            Role::Ready => {
                if result.ok {
                    self.become_ready(now, idx);
                } else if let Some(probe) = self.specs[idx].ready.clone() {
                    note!(
                        self,
                        Debug,
                        NotReady,
                        Some(idx),
                        "{name} is not ready yet: {why}"
                    );
                    let p = &mut self.procs[idx];
                    p.health_failures += 1;
                    if probe.failures > 0 && p.health_failures >= probe.failures {
                        // A startup probe's failureThreshold: restart it.
                        note!(
                            self,
                            Warn,
                            Unhealthy,
                            Some(idx),
                            "{name} did not become ready in {} tries ({why}); restarting it",
                            probe.failures
                        );
                        let p = &mut self.procs[idx];
                        p.restart_after_stop = true;
                        self.stop(now, idx, StopWith::Spec);
                    } else {
                        self.procs[idx].probe_at = Some(now + probe.interval);
                    }
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

    /// A probe in flight past its timeout counts as a failure.
    pub(super) fn probe_timeout(&mut self, now: Instant, idx: usize) {
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
            Role::PostStart | Role::PreStop | Role::Readiness => None,
        }
        .map_or(Duration::ZERO, |p| p.timeout);
        let why = format!(
            "no answer within its timeout of {}",
            format_duration(timeout)
        );
        self.probe_outcome(now, idx, role, ProbeResult::fail(why));
    }

    /// A backoff that is over (spawn again), or a probe that is due.
    pub(super) fn backoff_or_probe(&mut self, now: Instant, idx: usize) {
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
}
