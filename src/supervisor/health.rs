//! Pod health, for `podinit health`, Kubernetes probes and `/readyz`,
//! `/livez`: a question asked of the state, never a decision.

use super::{Phase, State, Supervisor};

/// Which question.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Ready: every long-running process that is not operator-stopped is
    /// ready, every oneshot that something waits on has completed, no
    /// critical process failed, and no shutdown has begun.
    Ready,
    /// Live: no critical process failed for good, and no shutdown has begun.
    Live,
}

impl Supervisor {
    /// `Ok` with a one-line summary, or `Err` with why not (the first
    /// processes at fault, named).
    pub fn health(&self, check: Check) -> Result<String, String> {
        if self.phase != Phase::Up {
            return Err("the pod is shutting down".into());
        }
        let current = self.current();
        if let Some(&i) = current
            .iter()
            .find(|&&i| self.specs[i].critical && self.procs[i].state == State::Failed)
        {
            return Err(format!("critical process {} failed", self.specs[i].name));
        }
        if check == Check::Live {
            return Ok("live".into());
        }
        let awaited = |i: usize| {
            current
                .iter()
                .any(|&j| self.specs[j].deps.iter().any(|d| d.on == i))
        };
        let mut why = Vec::new();
        for &i in &current {
            let (spec, p) = (&self.specs[i], &self.procs[i]);
            let fine = if spec.oneshot {
                !awaited(i) || p.state == State::Completed
            } else {
                p.held
                    || p.demand_wait
                    || (p.state == State::Ready && (spec.readiness.is_none() || p.serving))
            };
            if !fine {
                let mut reason = if spec.oneshot {
                    format!("{} has not completed (it is {})", spec.name, p.state_name())
                } else {
                    format!("{} is {}", spec.name, p.state_name())
                };
                if let Some(f) = &p.probe_failure {
                    reason.push_str(&format!(" ({f})"));
                }
                why.push(reason);
            }
        }
        match why.len() {
            0 => Ok(format!("ready: {} processes", current.len())),
            n if n > 3 => Err(format!(
                "not ready: {}; and {} more",
                why[..3].join("; "),
                n - 3
            )),
            _ => Err(format!("not ready: {}", why.join("; "))),
        }
    }
}

impl Supervisor {
    /// The pod's conditions, as Kubernetes names them: `Initialized` (every
    /// long-running process has started once, so what it waits on — init
    /// tasks, sidecars — is done), `ContainersReady` (every long-running
    /// process is ready, its `readiness` passing), `Ready` (both, and the
    /// pod is up with no critical failure: what `/readyz` answers).
    pub fn conditions(&self) -> [(&'static str, bool); 3] {
        let current = self.current();
        let long = |i: &&usize| {
            let s = &self.specs[**i];
            !s.oneshot && s.schedule.is_none() && !self.procs[**i].held
        };
        let initialized = current
            .iter()
            .filter(long)
            .all(|&i| self.procs[i].ever_started || self.procs[i].demand_wait);
        let containers_ready = current.iter().filter(long).all(|&i| {
            let p = &self.procs[i];
            p.demand_wait
                || p.state == State::Ready && (self.specs[i].readiness.is_none() || p.serving)
        });
        let ready = initialized && containers_ready && self.health(Check::Ready).is_ok();
        [
            ("Initialized", initialized),
            ("ContainersReady", containers_ready),
            ("Ready", ready),
        ]
    }

    /// The conditions as one line: `Initialized=True ContainersReady=…`.
    pub fn conditions_line(&self) -> String {
        self.conditions()
            .iter()
            .map(|(k, v)| format!("{k}={}", if *v { "True" } else { "False" }))
            .collect::<Vec<_>>()
            .join(" ")
    }
}
