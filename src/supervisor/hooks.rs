//! Lifecycle hooks, as Kubernetes runs a container's: `post_start` once a
//! process is spawned (its readiness and its dependents wait for it; a
//! failure stops it and its restart policy decides), `pre_stop` before its
//! stop signal, within the same stop budget (a failure is reported and the
//! signal goes out anyway). In a shutdown every `pre_stop` starts at once.

use super::*;

impl Supervisor {
    /// Starts hook `role` of `idx`, given up at its timeout or at `limit`,
    /// whichever comes first; false when it has none (or is not running).
    pub(super) fn start_hook(
        &mut self,
        now: Instant,
        idx: usize,
        role: Role,
        limit: Option<Instant>,
    ) -> bool {
        let spec = &self.specs[idx];
        let hook = match role {
            Role::PostStart => spec.post_start.as_deref(),
            Role::PreStop => spec.pre_stop.as_deref(),
            Role::Ready | Role::Health | Role::Readiness => None,
        };
        let (Some(hook), Some(pid)) = (hook, self.procs[idx].pid) else {
            return false;
        };
        let until = limit.map_or(now + hook.timeout(), |l| l.min(now + hook.timeout()));
        let what = hook.describe();
        let id = if hook.probe().is_some() {
            let id = self.next_probe_id;
            self.next_probe_id += 1;
            self.out.push(Action::Probe { id, idx, pid, role });
            id
        } else {
            0 // a sleep: the deadline is the whole hook
        };
        self.procs[idx].hook = Some((id, role, until));
        note!(
            self,
            Debug,
            Hook,
            Some(idx),
            "{}: running its {} hook: {what}",
            self.specs[idx].name,
            hook_key(role)
        );
        true
    }

    /// Gives up the hook in flight, if any (its process is gone, or a
    /// stop overtook a `post_start`).
    pub(super) fn cancel_hook(&mut self, idx: usize) {
        if let Some((id, _, _)) = self.procs[idx].hook.take()
            && id != 0
        {
            self.out.push(Action::CancelProbe { id });
        }
    }

    /// The result of hook probe `id`, if it is one; false otherwise.
    pub(super) fn on_hook_result(&mut self, now: Instant, id: u64, result: &ProbeResult) -> bool {
        let Some(idx) = self
            .procs
            .iter()
            .position(|p| p.hook.is_some_and(|(h, _, _)| h == id && h != 0))
        else {
            return false;
        };
        if let Some((_, role, _)) = self.procs[idx].hook.take() {
            self.hook_done(now, idx, role, result.clone());
        }
        true
    }

    /// A hook past its time: a sleep is over (a pass), anything else failed.
    pub(super) fn hook_timeout(&mut self, now: Instant, idx: usize) {
        let Some((id, role, until)) = self.procs[idx].hook else {
            return;
        };
        if now < until {
            return;
        }
        self.procs[idx].hook = None;
        let result = if id == 0 {
            ProbeResult::pass("slept")
        } else {
            self.out.push(Action::CancelProbe { id });
            ProbeResult::fail("it did not finish in time")
        };
        self.hook_done(now, idx, role, result);
    }

    /// What a finished hook lets happen next.
    fn hook_done(&mut self, now: Instant, idx: usize, role: Role, result: ProbeResult) {
        let name = self.specs[idx].name.clone();
        let key = hook_key(role);
        let why = &result.detail;
        if result.ok {
            note!(
                self,
                Debug,
                Hook,
                Some(idx),
                "{name}: {key} hook done ({why})"
            );
        }
        match role {
            Role::PostStart if result.ok => {
                self.procs[idx].post_started = true;
                self.after_start(now, idx);
            }
            Role::PostStart => {
                note!(
                    self,
                    Warn,
                    Hook,
                    Some(idx),
                    "{name}: post_start hook failed ({why}); stopping it"
                );
                let p = &mut self.procs[idx];
                p.hook_failed = true;
                p.restart_after_stop = true;
                p.pre_stop_done = true; // Kubernetes kills it without its preStop
                self.stop(now, idx, StopWith::Spec);
            }
            _ => {
                if !result.ok {
                    note!(
                        self,
                        Warn,
                        Hook,
                        Some(idx),
                        "{name}: pre_stop hook failed ({why}); stopping it anyway"
                    );
                }
                let p = &self.procs[idx];
                if let (State::Stopping, false, Some(pid), Some((sig, _))) =
                    (p.state, p.killed, p.pid, p.stopping_with)
                {
                    self.out.push(Action::SignalGroup { idx, pid, sig });
                }
            }
        }
    }

    /// At a stop: whether the stop signal waits for the `pre_stop` hook
    /// (started now, or earlier by the shutdown and still running).
    pub(super) fn pre_stop_first(&mut self, now: Instant, idx: usize) -> bool {
        if let Some((_, Role::PostStart, _)) = self.procs[idx].hook {
            self.cancel_hook(idx);
        }
        let deadline = self.procs[idx].stop_deadline;
        let p = &mut self.procs[idx];
        if let Some((id, Role::PreStop, until)) = p.hook {
            // Started by the shutdown: it ends by this stop's deadline too.
            p.hook = Some((id, Role::PreStop, deadline.map_or(until, |d| d.min(until))));
            return true;
        }
        if p.pre_stop_done || self.specs[idx].pre_stop.is_none() {
            return false;
        }
        p.pre_stop_done = true;
        self.start_hook(now, idx, Role::PreStop, deadline)
    }

    /// When the shutdown begins: every `pre_stop` hook starts at once, as
    /// Kubernetes runs them when a pod is deleted; each stop signal still
    /// waits for its own hook and for the process's dependents.
    pub(super) fn pre_stops_at_shutdown(&mut self, now: Instant, deadline: Instant) {
        for idx in 0..self.procs.len() {
            let p = &self.procs[idx];
            if p.pid.is_none() || p.pre_stop_done || p.killed || p.state == State::Stopping {
                continue;
            }
            if self.specs[idx].pre_stop.is_some() {
                self.cancel_hook(idx);
                self.procs[idx].pre_stop_done = true;
                self.start_hook(now, idx, Role::PreStop, Some(deadline));
            }
        }
    }
}

fn hook_key(role: Role) -> &'static str {
    match role {
        Role::PostStart => "post_start",
        _ => "pre_stop",
    }
}
