//! The runtime's signals to what a process left behind: the rest of a
//! group's stop (continued groups, descendants outside the group, the
//! members of its cgroup), what is left when a process ends, and the sweep
//! of strays at the end.

use super::*;

impl Runtime {
    /// A process's leader was reaped: what is left in its cgroup is killed
    /// (its session ends with it, as a container's does); true when its
    /// own cgroup counted a new OOM kill.
    pub(super) fn cgroup_ended(&mut self, idx: usize) -> bool {
        let Some(cg) = &self.cgroups else {
            return false;
        };
        let name = &self.sup.specs()[idx].name;
        let left = cg.members(name);
        if !left.is_empty() {
            log::debug!(
                "{name} ended: killing {} process(es) left in its cgroup",
                left.len()
            );
            if !cg.kill(name) {
                for p in left {
                    let _ = sys::kill(p, libc::SIGKILL);
                }
            }
        }
        let Some(now) = cg.oom_kills(name) else {
            return false;
        };
        let before = self.oom_seen.insert(idx, now).unwrap_or(0);
        now > before
    }

    /// After `sig` went to the process group (at once, before /proc was
    /// read): `sig` to descendants that left the group and (with cgroups)
    /// every other member of its cgroup (SIGKILL is `cgroup.kill`), then
    /// SIGCONT to what is stopped (as `table` saw it), so that it can act
    /// on the signal. Nothing else gets a SIGCONT: a program that handles
    /// it sees exactly the signals it was sent.
    pub(super) fn signal_group_rest(&self, table: &procfs::Table, idx: usize, pid: i32, sig: i32) {
        let name = &self.sup.specs()[idx].name;
        let cont = sig != libc::SIGKILL && sig != libc::SIGCONT;
        if cont && table.group_stopped(pid) {
            let _ = sys::kill(-pid, libc::SIGCONT);
        }
        let mut outside: Vec<procfs::Row> = table.descendants(pid);
        if let Some(cg) = &self.cgroups {
            if sig == libc::SIGKILL && cg.kill(name) {
                return;
            }
            for m in cg.members(name) {
                if let Some(r) = table.row(m)
                    && !outside.iter().any(|d| d.pid == m)
                {
                    outside.push(r);
                }
            }
        }
        for d in outside {
            if d.pgrp != pid {
                log::debug!(
                    "SIG{} to {}, a descendant of {name} outside its process group",
                    signal_name(sig),
                    d.pid
                );
                let _ = sys::kill(d.pid, sig);
                if cont && d.stopped {
                    let _ = sys::kill(d.pid, libc::SIGCONT);
                }
            }
        }
    }

    /// `sig` to every process left: all of the container as PID 1, else
    /// every descendant of podinit; SIGCONT where something is stopped.
    pub(super) fn sweep(&self, table: &procfs::Table, sig: i32) {
        let cont = sig != libc::SIGKILL;
        if self.pid1 {
            // kill(-1) from PID 1 reaches everything in its namespace but itself.
            let _ = sys::kill(-1, sig);
            if cont {
                for &pid in table.stopped() {
                    let _ = sys::kill(pid, libc::SIGCONT);
                }
            }
            return;
        }
        for r in table.descendants(nix::unistd::getpid().as_raw()) {
            let _ = sys::kill(r.pid, sig);
            if cont && r.stopped {
                let _ = sys::kill(r.pid, libc::SIGCONT);
            }
        }
    }
}
