//! Starting: a spawned process, readiness, whether a dependency is met,
//! what may start now, and when the pod has nothing left to run.

use super::*;

impl Supervisor {
    pub(super) fn on_spawned(&mut self, now: Instant, idx: usize, pid: Pid) {
        self.set_pid(idx, Some(pid));
        let p = &mut self.procs[idx];
        p.started_at = Some(now);
        p.ever_started = true;
        p.killed = false;
        p.stop_deadline = None;
        p.health_failures = 0;
        p.status_text = None;
        p.watchdog_at = self.specs[idx].watchdog.map(|w| now + w);
        p.pre_stop_done = false;
        p.ready_pending = false;
        note!(
            self,
            Info,
            Started,
            Some(idx),
            "{} started (pid {pid})",
            self.specs[idx].name
        );
        // A process spawned while a shutdown began is stopped at once by `step`.
        if self.specs[idx].post_start.is_some() {
            self.procs[idx].state = State::Running;
            self.start_hook(now, idx, Role::PostStart, None);
        } else {
            self.procs[idx].post_started = true;
            self.after_start(now, idx);
        }
    }

    /// Readiness once it is started (and its `post_start` hook is done).
    pub(super) fn after_start(&mut self, now: Instant, idx: usize) {
        match &self.specs[idx].ready {
            // Without a readiness probe, a process is ready once started.
            None => self.become_ready(now, idx),
            Some(probe) => {
                let p = &mut self.procs[idx];
                p.state = State::Running;
                if probe.kind.is_polled() {
                    p.probe_at = Some(now + probe.initial_delay);
                } else if std::mem::take(&mut p.ready_pending) {
                    self.become_ready(now, idx);
                }
            }
        }
    }

    pub(super) fn become_ready(&mut self, now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        if let Some((_, Role::PostStart, _)) = p.hook {
            // It said so during its post_start hook: ready once that is done.
            p.ready_pending = true;
            return;
        }
        p.state = State::Ready;
        p.probe_at = None;
        p.health_failures = 0;
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
        self.readiness_begins(now, idx);
    }

    /// Whether dependency `dep` of a waiting process is met, unmet for now,
    /// or can never be met (`Err` with the reason).
    pub(super) fn dep_status(&self, on: usize, cond: Condition) -> Result<bool, String> {
        if cond == Condition::AnyReady {
            return self.any_ready(on);
        }
        let p = &self.procs[on];
        let met = p.demand_wait && cond != Condition::Completed
            || match cond {
                Condition::Started => p.post_started,
                Condition::Ready | Condition::AnyReady => p.state == State::Ready,
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

    /// `any-ready`: one replica of `on`'s group is ready; never, once all
    /// of them ended for good.
    fn any_ready(&self, on: usize) -> Result<bool, String> {
        let group = self.specs[on].replica.as_ref().map(|(g, _)| g);
        let members: Vec<usize> = (0..self.specs.len())
            .filter(|&j| {
                self.specs[j].replica.as_ref().map(|(g, _)| g) == group && !self.procs[j].retired
            })
            .collect();
        if members
            .iter()
            .any(|&j| self.dep_status(j, Condition::Ready) == Ok(true))
        {
            return Ok(true);
        }
        match members
            .iter()
            .map(|&j| self.dep_status(j, Condition::Ready))
            .find(Result::is_ok)
        {
            Some(_) => Ok(false),
            None => self.dep_status(on, Condition::Ready),
        }
    }

    /// Everything that follows from the current state at `now`.
    pub(super) fn step(&mut self, now: Instant) {
        self.timers(now);
        match self.phase {
            Phase::Up => {
                self.rolling_step(now);
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

    pub(super) fn start_ready_ones(&mut self, now: Instant) {
        for k in 0..self.start_order.len() {
            let idx = self.start_order[k];
            let p = &self.procs[idx];
            if p.state != State::Waiting || p.held || p.demand_wait {
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
    pub(super) fn pod_is_over(&self) -> bool {
        !self.specs.iter().any(|s| s.main)
            && self
                .procs
                .iter()
                .all(|p| p.retired || (p.state.is_final() && !p.held))
    }
}
