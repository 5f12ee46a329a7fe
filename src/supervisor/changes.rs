//! `watch`: a change to a watched file restarts the process once its
//! debounce has passed with no further change (an editor's save, a
//! `git checkout` of many files: one restart), as nodemon and
//! process-compose do. A process that is down (crashed, failed, completed)
//! starts again; one the operator stopped stays stopped.

use super::*;

impl Supervisor {
    pub(super) fn on_change(&mut self, now: Instant, idx: usize, path: Option<String>) {
        let Some(w) = self.specs.get(idx).and_then(|s| s.watch.as_deref()) else {
            return;
        };
        if self.phase != Phase::Up || self.procs[idx].held || self.procs[idx].retired {
            return;
        }
        let until = now + w.debounce;
        let p = &mut self.procs[idx];
        p.change = Some(match p.change.take() {
            // The first file is the one named; an overflow (None) wins.
            Some((_, first, n)) => (until, path.and(first), n + 1),
            None => (until, path, 1),
        });
    }

    /// Restarts whose debounce is over.
    pub(super) fn changes_due(&mut self, now: Instant) {
        for idx in 0..self.procs.len() {
            let due = matches!(self.procs[idx].change, Some((t, _, _)) if now >= t);
            if !due {
                continue;
            }
            let Some((_, path, n)) = self.procs[idx].change.take() else {
                continue;
            };
            let name = self.specs[idx].name.clone();
            let what = match (path, n) {
                (None, _) => "watched files changed (the kernel's event queue overflowed)".into(),
                (Some(f), 1) => format!("{f} changed"),
                (Some(f), n) => format!("{f} changed (and {} more file events)", n - 1),
            };
            self.restart_for_change(now, idx, &name, &what);
        }
    }

    fn restart_for_change(&mut self, now: Instant, idx: usize, name: &str, what: &str) {
        let p = &mut self.procs[idx];
        match (p.pid, p.state) {
            (_, State::Waiting | State::Starting | State::Scheduled) => {}
            (Some(_), State::Stopping) => p.restart_now = true,
            (Some(_), _) => {
                note!(
                    self,
                    Info,
                    Changed,
                    Some(idx),
                    "{name}: {what}; restarting it"
                );
                self.procs[idx].restart_now = true;
                self.stop(now, idx, StopWith::Spec);
            }
            (None, _) => {
                note!(
                    self,
                    Info,
                    Changed,
                    Some(idx),
                    "{name}: {what}; starting it again"
                );
                self.spawn_afresh(idx);
            }
        }
    }
}
