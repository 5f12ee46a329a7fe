//! `readiness`: a probe polled for the process's whole life, as
//! Kubernetes' readinessProbe: `failures` in a row make a ready process
//! not ready (`/readyz`, `podinit health`, status), `successes` in a row
//! make it ready again. Dependents already started are not touched.

use super::*;

impl Supervisor {
    /// Starts polling once the process is ready (its gate passed).
    pub(super) fn readiness_begins(&mut self, now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        p.serving = true;
        p.readiness_fails = 0;
        p.readiness_passes = 0;
        p.readiness_at = self.specs[idx].readiness.as_ref().map(|r| now + r.interval);
    }

    /// Stops polling (the process is gone, or the pod stops).
    pub(super) fn readiness_ends(&mut self, idx: usize) {
        let p = &mut self.procs[idx];
        p.serving = false;
        p.readiness_at = None;
        if let Some((id, _)) = p.readiness_running.take() {
            self.out.push(Action::CancelProbe { id });
        }
    }

    /// A probe due (start it) or past its timeout (a failure).
    pub(super) fn readiness_timers(&mut self, now: Instant, idx: usize) {
        let Some(probe) = self.specs[idx].readiness.clone() else {
            return;
        };
        let p = &mut self.procs[idx];
        if let Some((id, until)) = p.readiness_running
            && now >= until
        {
            p.readiness_running = None;
            self.out.push(Action::CancelProbe { id });
            let why = format!("no answer within {}", format_duration(probe.timeout));
            self.readiness_result(now, idx, ProbeResult::fail(why));
            return;
        }
        let p = &mut self.procs[idx];
        let (Some(at), None, Some(pid), State::Ready) =
            (p.readiness_at, p.readiness_running, p.pid, p.state)
        else {
            return;
        };
        if now < at {
            return;
        }
        p.readiness_at = None;
        let id = self.next_probe_id;
        self.next_probe_id += 1;
        self.procs[idx].readiness_running = Some((id, now + probe.timeout));
        self.out.push(Action::Probe {
            id,
            idx,
            pid,
            role: Role::Readiness,
        });
    }

    /// The result of readiness probe `id`, if it is one.
    pub(super) fn on_readiness_result(&mut self, now: Instant, id: u64, r: &ProbeResult) -> bool {
        let Some(idx) = self
            .procs
            .iter()
            .position(|p| p.readiness_running.is_some_and(|(x, _)| x == id))
        else {
            return false;
        };
        self.procs[idx].readiness_running = None;
        self.readiness_result(now, idx, r.clone());
        true
    }

    /// Counts as Kubernetes counts: consecutive failures, consecutive passes.
    fn readiness_result(&mut self, now: Instant, idx: usize, r: ProbeResult) {
        let Some(probe) = self.specs[idx].readiness.clone() else {
            return;
        };
        let name = self.specs[idx].name.clone();
        let p = &mut self.procs[idx];
        p.readiness_at = Some(now + probe.interval);
        if r.ok {
            p.readiness_fails = 0;
            p.readiness_passes += 1;
            if !p.serving && p.readiness_passes >= probe.successes {
                p.serving = true;
                p.probe_failure = None;
                note!(
                    self,
                    Info,
                    Ready,
                    Some(idx),
                    "{name} is ready again ({})",
                    r.detail
                );
            }
            return;
        }
        p.readiness_passes = 0;
        p.readiness_fails += 1;
        if p.serving && p.readiness_fails >= probe.failures {
            p.serving = false;
            p.probe_failure = Some(r.detail.clone());
            let n = p.readiness_fails;
            note!(
                self,
                Warn,
                NotReady,
                Some(idx),
                "{name} is not ready: its readiness probe failed {n} times in a row ({})",
                r.detail
            );
        }
    }
}
