//! Rolling restarts (`podinit restart --rolling NAME`, and a reload that
//! changes replicated processes): one process at a time, the next only
//! once the one before is ready again — a group of N replicas never has
//! fewer than N-1 ready.

use super::*;

impl Supervisor {
    /// Queues `idx`; the first of a roll restarts at once.
    pub(super) fn roll(&mut self, now: Instant, idx: usize) {
        if self.rolling_now.is_none() {
            self.roll_one(now, idx);
        } else if !self.rolling.contains(&idx) {
            self.rolling.push_back(idx);
        }
    }

    fn roll_one(&mut self, now: Instant, idx: usize) {
        let name = self.specs[idx].name.clone();
        let left = self.rolling.len();
        note!(
            self,
            Info,
            Operator,
            Some(idx),
            "rolling restart: restarting {name} ({left} after it)"
        );
        self.rolling_now = Some((idx, now));
        let p = &mut self.procs[idx];
        p.held = false;
        p.backoff_until = None;
        match (p.pid, p.state) {
            (Some(_), State::Stopping) => p.restart_now = true,
            (Some(_), _) => {
                p.restart_now = true;
                self.stop(now, idx, StopWith::Spec);
            }
            (None, _) => self.spawn_afresh(idx),
        }
    }

    /// The next of the roll once the one restarting is ready again; a roll
    /// whose process fails for good stops there, saying so.
    pub(super) fn rolling_step(&mut self, now: Instant) {
        let Some((cur, since)) = self.rolling_now else {
            return;
        };
        let p = &self.procs[cur];
        let again = p.state == State::Ready && p.started_at.is_some_and(|t| t >= since);
        if p.state == State::Failed || p.state.is_final() && !again {
            let left = self.rolling.len();
            self.rolling.clear();
            self.rolling_now = None;
            note!(
                self,
                Error,
                Failed,
                Some(cur),
                "rolling restart stopped: {} did not come back ready; {left} left as they were",
                self.specs[cur].name
            );
            return;
        }
        if !again {
            return;
        }
        self.rolling_now = None;
        if let Some(next) = self.rolling.pop_front() {
            self.roll_one(now, next);
        }
    }
}
