//! The fd store (systemd's FILE_DESCRIPTOR_STORE): fds a process hands to
//! podinit with `FDSTORE=1` (and `FDNAME=`) over its sd_notify socket,
//! kept across its restarts and given to each next run after its `listen`
//! sockets (named in `LISTEN_FDNAMES`). Bounded by `fd_store_max`;
//! `FDSTOREREMOVE=1` drops a name; closed when the operator stops the
//! process or the pod ends. Keyed by process name: a reload keeps them.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

#[derive(Default)]
pub struct FdStore {
    by_proc: HashMap<String, Vec<(String, OwnedFd)>>,
}

impl FdStore {
    /// Keeps `fds` under `name` for process `proc_`, up to `max` in all;
    /// those beyond are closed with a warning.
    pub fn add(&mut self, proc_: &str, name: &str, fds: Vec<OwnedFd>, max: usize) {
        let kept = self.by_proc.entry(proc_.to_string()).or_default();
        let mut refused = 0;
        for fd in fds {
            if kept.len() < max {
                kept.push((name.to_string(), fd));
            } else {
                refused += 1; // dropped: closed here
            }
        }
        if refused > 0 {
            log::warn!(
                "{proc_}: fd store full (fd_store_max = {max}); {refused} fd(s) named {name:?} refused and closed"
            );
        } else {
            log::debug!("{proc_}: fd store holds {} fd(s)", kept.len());
        }
    }

    /// `FDSTOREREMOVE=1` with `FDNAME=name`.
    pub fn remove(&mut self, proc_: &str, name: &str) {
        if let Some(kept) = self.by_proc.get_mut(proc_) {
            kept.retain(|(n, _)| n != name);
        }
    }

    /// Closes every fd of a process (stopped by the operator, removed).
    pub fn drop_all(&mut self, proc_: &str) {
        self.by_proc.remove(proc_);
    }

    /// The fds to pass, in order, and their names.
    pub fn for_proc(&self, proc_: &str) -> Vec<(RawFd, &str)> {
        self.by_proc
            .get(proc_)
            .map(|v| {
                v.iter()
                    .map(|(n, fd)| (fd.as_raw_fd(), n.as_str()))
                    .collect()
            })
            .unwrap_or_default()
    }
}
