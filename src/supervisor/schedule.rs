//! Scheduled jobs (`schedule`): when each is due, the run at its time, the
//! skip when the last run is still going. Wall-clock time comes in with
//! [`Supervisor::set_clock`] (milliseconds since the epoch) and the zone
//! with [`Supervisor::set_zone`]; due times are kept as `Instant`s (what the
//! event loop waits for) and checked against the wall clock when reached.

use std::time::{Duration, Instant};

use super::{Action, Event, EventKind, State, Supervisor};
use crate::config::schedule::{Schedule, format_local};

/// When a scheduled job is next due.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Due {
    /// What the event loop waits for.
    pub at: Instant,
    /// The same, in Unix seconds (for `status`, and a cron time's check
    /// against the wall clock).
    pub wall: i64,
}

impl Supervisor {
    /// The wall-clock time now, in milliseconds since the epoch: set by
    /// the runtime before each input (tests set it as they please).
    pub fn set_clock(&mut self, wall_ms: i64) {
        self.wall_ms = wall_ms;
    }

    /// The local time zone of cron times (UTC unless set).
    pub fn set_zone(&mut self, zone: crate::config::Zone) {
        self.zone = zone;
    }

    /// A scheduled job's dependencies are met: it waits for its first time.
    pub(super) fn schedule_first(&mut self, now: Instant, idx: usize) {
        self.procs[idx].state = State::Scheduled;
        self.procs[idx].due = self.due_after(now, idx, None);
        let name = self.specs[idx].name.clone();
        let when = self.when(idx);
        note!(
            self,
            Info,
            Scheduled,
            Some(idx),
            "{name} is scheduled: next run {when}"
        );
    }

    /// `next run at ...` (or `never`), for messages.
    fn when(&self, idx: usize) -> String {
        match self.procs[idx].due {
            Some(d) => format!("at {}", format_local(d.wall, self.zone)),
            None => "never (no time matches within eight years)".into(),
        }
    }

    /// The due time after `prev` (the last one), or the first from now.
    /// `@every` counts from the last due time; a cron time from the last
    /// due time's second. Missed times are not caught up.
    fn due_after(&self, now: Instant, idx: usize, prev: Option<Due>) -> Option<Due> {
        let wall_now = self.wall_ms.div_euclid(1000);
        let due = match self.specs[idx].schedule.as_deref()? {
            Schedule::Every(d) => {
                let at = prev.map_or(now + *d, |p| p.at + *d);
                let at = if at <= now { now + *d } else { at };
                let ahead = at.saturating_duration_since(now).as_secs() as i64;
                Due {
                    at,
                    wall: wall_now + ahead,
                }
            }
            Schedule::Cron(c) => {
                let from = prev.map_or(wall_now, |p| p.wall.max(wall_now));
                let wall = c.next_after(from, self.zone)?;
                Due {
                    at: self.instant_of(now, wall),
                    wall,
                }
            }
        };
        Some(due)
    }

    /// The instant at which the wall clock will read `wall` (seconds).
    fn instant_of(&self, now: Instant, wall: i64) -> Instant {
        let ms = (wall * 1000 - self.wall_ms).max(0) as u64;
        now + Duration::from_millis(ms)
    }

    /// Every scheduled job whose time has come: run it, or skip the run if
    /// the last one is still going; then its next time.
    pub(super) fn scheduled_runs(&mut self, now: Instant) {
        for k in 0..self.scheduled.len() {
            let idx = self.scheduled[k];
            let Some(due) = self.procs[idx].due else {
                continue;
            };
            if self.procs[idx].retired {
                self.procs[idx].due = None; // removed by a reload
                continue;
            }
            if now < due.at || self.procs[idx].state == State::Waiting {
                continue;
            }
            let cron = matches!(self.specs[idx].schedule.as_deref(), Some(Schedule::Cron(_)));
            if cron && self.wall_ms < due.wall * 1000 {
                // The wall clock was set back: wait until it reads the time.
                self.procs[idx].due = Some(Due {
                    at: self.instant_of(now, due.wall),
                    ..due
                });
                continue;
            }
            self.procs[idx].due = self.due_after(now, idx, Some(due));
            let name = self.specs[idx].name.clone();
            let p = &self.procs[idx];
            if p.held {
                continue; // `podinit stop NAME`: no runs until `start`
            }
            if p.state != State::Scheduled {
                let what = p.pid.map_or(String::new(), |pid| format!(" (pid {pid})"));
                let when = self.when(idx);
                note!(
                    self,
                    Warn,
                    Skipped,
                    Some(idx),
                    "{name}: the run due now is skipped: the previous run{what} is still going; next run {when}"
                );
                continue;
            }
            note!(self, Info, Operator, Some(idx), "{name}: scheduled run");
            self.procs[idx].state = State::Starting;
            self.out.push(Action::Spawn(idx));
        }
    }

    /// A run of a scheduled job ended (it will not be restarted): back to
    /// waiting for its next time. True if it was one.
    pub(super) fn run_ended(
        &mut self,
        idx: usize,
        status: super::ExitStatus,
        success: bool,
    ) -> bool {
        if self.specs[idx].schedule.is_none() || self.procs[idx].retired {
            return false;
        }
        self.procs[idx].state = State::Scheduled;
        let name = self.specs[idx].name.clone();
        let when = self.when(idx);
        if success {
            note!(
                self,
                Info,
                Completed,
                Some(idx),
                "{name} completed; next run {when}"
            );
        } else {
            note!(
                self,
                Warn,
                Exited,
                Some(idx),
                "{name} exited ({status}); next run {when}"
            );
        }
        true
    }
}
