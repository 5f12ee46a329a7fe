//! Control verbs and reload: what `podinit start|stop|restart|signal` and a
//! changed config do to the pod.

use super::*;

impl Supervisor {
    pub(super) fn on_reload(&mut self, now: Instant, cfg: &Config) {
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
    pub(super) fn reload(&mut self, now: Instant, cfg: &Config) {
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
                if spec.on_demand {
                    self.out.push(Action::ArmSockets { idx, on: true });
                }
                continue; // started by `step` when its dependencies are met
            }
            self.reload_changed(now, idx, &old);
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
    pub(super) fn stable_indices(&mut self, cfg: &Config) -> (Vec<usize>, Vec<usize>) {
        let by_name: std::collections::HashMap<String, usize> = (0..self.specs.len())
            .filter(|&i| !self.procs[i].retired)
            .map(|i| (self.specs[i].name.clone(), i))
            .collect();
        let mut remap = Vec::with_capacity(cfg.procs.len());
        let mut created = Vec::new();
        for spec in &cfg.procs {
            remap.push(by_name.get(&spec.name).copied().unwrap_or_else(|| {
                self.specs.push(spec.clone());
                self.procs.push(Proc::for_spec(spec));
                created.push(self.specs.len() - 1);
                self.specs.len() - 1
            }));
        }
        (remap, created)
    }

    /// A process whose spec a reload changed: restarted, or — a running
    /// replica — rolled (one at a time, each once the last is ready).
    fn reload_changed(&mut self, now: Instant, idx: usize, old: &ProcSpec) {
        let name = self.specs[idx].name.clone();
        note!(
            self,
            Info,
            Reload,
            Some(idx),
            "reload: {name} changed; restarting it"
        );
        let replica = &self.specs[idx].replica;
        if replica.is_some() && old.replica == *replica && self.procs[idx].pid.is_some() {
            self.roll(now, idx);
        } else {
            self.restart_changed(now, idx, old);
        }
    }

    /// A changed process starts afresh: stopped as its old spec said, then
    /// spawned again at once.
    pub(super) fn restart_changed(&mut self, now: Instant, idx: usize, old: &ProcSpec) {
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
    pub(super) fn retire_removed(&mut self, remap: &[usize]) {
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
            if self.may_store_fds(idx) {
                self.out.push(Action::DropFds(idx));
            }
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
    pub(super) fn stop_retired(&mut self, now: Instant) {
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
    pub(super) fn on_control(&mut self, now: Instant, cmd: Control) {
        if let Err(why) = self.control(now, cmd) {
            note!(self, Debug, Refused, None, "{why}");
        }
    }

    /// One verb: `Ok` when it was taken, `Err` with the answer otherwise.
    pub(super) fn control(&mut self, now: Instant, cmd: Control) -> Result<(), String> {
        if self.phase != Phase::Up {
            return Err("the pod is shutting down".into());
        }
        match cmd {
            Control::Start(idx) => self.start_asked(idx),
            Control::Stop(idx) => self.stop_asked(now, idx, false),
            Control::Restart(idx) if self.procs[idx].pid.is_none() => self.start_asked(idx),
            Control::Restart(idx) => self.stop_asked(now, idx, true),
            Control::Rolling(idx) => {
                self.roll(now, idx);
                Ok(())
            }
            Control::Signal(idx, sig) => match self.procs[idx].pid {
                Some(pid) => {
                    self.out.push(Action::SignalProcess { idx, pid, sig });
                    Ok(())
                }
                None => Err(format!("{} is not running", self.specs[idx].name)),
            },
            Control::Reload if self.drop_in => {
                Err("podinit runs without a config file; there is nothing to reload".into())
            }
            Control::Reload => {
                self.out.push(Action::ReadConfig);
                Ok(())
            }
        }
    }

    /// Whether it can have fds in the store: only over sd_notify.
    fn may_store_fds(&self, idx: usize) -> bool {
        let s = &self.specs[idx];
        s.fd_store_max > 0
            && s.ready
                .as_ref()
                .is_some_and(|r| r.kind == crate::config::ProbeKind::SdNotify)
    }

    /// `start` (and `restart` of a process that is down).
    fn start_asked(&mut self, idx: usize) -> Result<(), String> {
        let name = self.specs[idx].name.clone();
        let p = &mut self.procs[idx];
        if p.pid.is_some() {
            if p.state != State::Stopping || !p.held {
                return Err(format!("{name} is running already"));
            }
            // `podinit stop x && podinit start x`: the stop is still in
            // flight; it starts as soon as it has exited, as restart does.
            p.held = false;
            p.restart_now = true;
            note!(
                self,
                Info,
                Operator,
                Some(idx),
                "start: {name} starts once it has stopped"
            );
            return Ok(());
        }
        if p.state == State::Starting {
            return Err(format!("{name} is starting already"));
        }
        note!(self, Info, Operator, Some(idx), "starting {name} as asked");
        self.cancel_probe(idx);
        self.procs[idx].held = false;
        self.spawn_afresh(idx);
        Ok(())
    }

    /// Spawns a process that is down now, its failure count and backoff
    /// forgotten (`start`, a change of a watched file, a roll).
    pub(super) fn spawn_afresh(&mut self, idx: usize) {
        let p = &mut self.procs[idx];
        p.backoff_until = None;
        p.failures = 0;
        p.short_runs = 0;
        p.reason = None;
        p.state = State::Starting;
        self.out.push(Action::Spawn(idx));
    }

    /// `stop`, and `restart` of a running process (`then_start`).
    fn stop_asked(&mut self, now: Instant, idx: usize, then_start: bool) -> Result<(), String> {
        let name = self.specs[idx].name.clone();
        let p = &mut self.procs[idx];
        if p.pid.is_none() {
            // Not running: it just stays down (no restart, no start).
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
            return Ok(());
        }
        if p.state == State::Stopping {
            return Err(format!("{name} is stopping already"));
        }
        p.held = !then_start;
        p.restart_now = then_start;
        if !then_start && self.may_store_fds(idx) {
            self.out.push(Action::DropFds(idx));
        }
        let verb = if then_start { "restart" } else { "stop" };
        note!(
            self,
            Info,
            Operator,
            Some(idx),
            "{verb}: stopping {name} as asked"
        );
        self.stop(now, idx, StopWith::Spec);
        Ok(())
    }
}
