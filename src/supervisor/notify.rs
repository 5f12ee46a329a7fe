//! systemd's notification protocol (`sd_notify(3)`), as podinit takes it
//! from a process with `ready = { sd_notify = true }`: READY=1, STATUS=…,
//! WATCHDOG=1, EXTEND_TIMEOUT_USEC=…, STOPPING=1, RELOADING=1, MAINPID=…,
//! ERRNO=…. The parsing is pure; what each means is decided in
//! `Supervisor::on_sd_notify`.

use std::time::{Duration, Instant};

use super::{Event, EventKind, Phase, Pid, State, Supervisor};
use crate::config::format_duration;

/// One datagram's assignments (unknown ones are ignored, as systemd does).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SdMessage {
    pub ready: bool,
    pub reloading: bool,
    pub stopping: bool,
    pub watchdog: bool,
    /// `WATCHDOG=trigger`: fail the watchdog now.
    pub watchdog_trigger: bool,
    pub status: Option<String>,
    pub mainpid: Option<Pid>,
    pub errno: Option<i32>,
    pub extend: Option<Duration>,
    /// `FDSTORE=1`: the fds sent with it go to the fd store.
    pub fdstore: bool,
    /// `FDSTOREREMOVE=1`: drop the stored fds named `fdname`.
    pub fdstore_remove: bool,
    /// `FDNAME=`: the name of the fds (systemd's default: `stored`).
    pub fdname: Option<String>,
}

impl SdMessage {
    /// Parses `KEY=VALUE` lines.
    pub fn parse(data: &[u8]) -> SdMessage {
        let mut m = SdMessage::default();
        for line in String::from_utf8_lossy(data).lines() {
            let Some((k, v)) = line.split_once('=') else {
                continue;
            };
            match k {
                "READY" => m.ready |= v == "1",
                "RELOADING" => m.reloading |= v == "1",
                "STOPPING" => m.stopping |= v == "1",
                "WATCHDOG" if v == "1" => m.watchdog = true,
                "WATCHDOG" if v == "trigger" => m.watchdog_trigger = true,
                "STATUS" => m.status = Some(v.chars().take(1024).collect()),
                "MAINPID" => m.mainpid = v.parse().ok().filter(|&p: &Pid| p > 1),
                "ERRNO" => m.errno = v.parse().ok(),
                "EXTEND_TIMEOUT_USEC" => m.extend = v.parse().ok().map(Duration::from_micros),
                "FDSTORE" => m.fdstore |= v == "1",
                "FDSTOREREMOVE" => m.fdstore_remove |= v == "1",
                // As systemd: up to 255 characters, no `:` (the separator
                // of LISTEN_FDNAMES), printable.
                "FDNAME"
                    if !v.is_empty()
                        && v.len() <= 255
                        && v.chars().all(|c| c.is_ascii_graphic() && c != ':') =>
                {
                    m.fdname = Some(v.to_string())
                }
                _ => {}
            }
        }
        m
    }
}

impl Supervisor {
    /// A notification from process `idx` (its sender checked by the
    /// runtime: the process or one of its descendants).
    pub(super) fn on_sd_notify(&mut self, now: Instant, idx: usize, m: SdMessage) {
        let name = self.specs[idx].name.clone();
        if let Some(s) = &m.status {
            self.procs[idx].status_text = Some(s.clone());
            note!(self, Info, Status, Some(idx), "{name}: {s}");
        }
        if let Some(e) = m.errno {
            let err = std::io::Error::from_raw_os_error(e);
            note!(
                self,
                Warn,
                Status,
                Some(idx),
                "{name} reports errno {e}: {err}"
            );
        }
        if let Some(pid) = m.mainpid
            && self.procs[idx].pid.is_some()
            && self.procs[idx].pid != Some(pid)
        {
            note!(
                self,
                Info,
                Status,
                Some(idx),
                "{name}: its main pid is now {pid}"
            );
            self.set_pid(idx, Some(pid));
        }
        if let Some(spec_watchdog) = self.specs[idx].watchdog {
            let p = &mut self.procs[idx];
            if m.watchdog || m.ready {
                p.watchdog_at = Some(now + spec_watchdog);
            }
            if let Some(d) = m.extend {
                p.watchdog_at = p.watchdog_at.map(|t| t.max(now + d)).or(Some(now + d));
            }
            if m.watchdog_trigger {
                self.watchdog_expired(now, idx);
            }
        }
        if m.stopping {
            note!(
                self,
                Info,
                Stopping,
                Some(idx),
                "{name} says it is stopping"
            );
        }
        if m.reloading && self.procs[idx].state == State::Ready {
            note!(self, Info, NotReady, Some(idx), "{name} is reloading");
            self.procs[idx].state = State::Running;
        }
        if m.ready && self.procs[idx].state == State::Running && self.phase == Phase::Up {
            self.become_ready(now, idx);
        }
    }

    /// The process missed its watchdog deadline: a liveness failure.
    pub(super) fn watchdog_expired(&mut self, now: Instant, idx: usize) {
        let p = &mut self.procs[idx];
        p.watchdog_at = None;
        if p.pid.is_none() || p.state == State::Stopping || self.phase != Phase::Up {
            return;
        }
        let name = self.specs[idx].name.clone();
        let limit = self.specs[idx].watchdog.unwrap_or_default();
        self.procs[idx].probe_failure = Some(format!(
            "watchdog timeout: no WATCHDOG=1 within {}",
            format_duration(limit)
        ));
        self.events.push(Event {
            level: log::Level::Warn,
            kind: EventKind::Unhealthy,
            proc: Some(idx),
            text: format!(
                "{name}: watchdog timeout (no WATCHDOG=1 within {}); restarting it",
                format_duration(limit)
            ),
        });
        self.procs[idx].restart_after_stop = true;
        self.procs[idx].watchdog_failed = true;
        self.stop(now, idx, super::StopWith::Spec);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assignments() {
        let m =
            SdMessage::parse(b"READY=1\nSTATUS=Serving 4 clients\nMAINPID=4242\nX=1\nERRNO=2\n");
        assert!(m.ready && !m.watchdog);
        assert_eq!(m.status.as_deref(), Some("Serving 4 clients"));
        assert_eq!((m.mainpid, m.errno), (Some(4242), Some(2)));
        let m = SdMessage::parse(b"WATCHDOG=1\nEXTEND_TIMEOUT_USEC=2500000");
        assert!(m.watchdog);
        assert_eq!(m.extend, Some(Duration::from_millis(2500)));
        assert!(SdMessage::parse(b"WATCHDOG=trigger").watchdog_trigger);
        assert_eq!(
            SdMessage::parse(b"MAINPID=1").mainpid,
            None,
            "never podinit's pid 1"
        );
    }
}
