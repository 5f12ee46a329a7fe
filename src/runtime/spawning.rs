//! The runtime's side of a start: a process's stdio, readiness channel,
//! sockets and cgroup handed to `spawn`, and the watches a reload renews.

use std::os::fd::{AsRawFd, OwnedFd};

use super::*;

impl Runtime {
    /// `Action::ArmSockets`: an on-demand process's sockets in epoll (on)
    /// or out of it; idempotent.
    pub(super) fn arm_sockets(&mut self, idx: usize, on: bool) {
        let Some(spec) = self.sup.specs().get(idx) else {
            return;
        };
        let (fds, _) = self.listeners.for_spec(spec);
        if on == self.armed.contains(&idx) {
            return;
        }
        for fd in fds {
            if on {
                if let Err(e) =
                    self.poller
                        .add(fd, libc::EPOLLIN as u32, token(KIND_DEMAND, idx as u64))
                {
                    log::error!("{}: cannot wait for connections: {e}", spec.name);
                }
            } else {
                self.poller.remove(fd);
            }
        }
        if on {
            self.armed.insert(idx);
        } else {
            self.armed.remove(&idx);
        }
    }

    /// `Action::Spawn`: stdio from the router, the readiness channel, the
    /// spawn. Long on purpose: the fds are made and handed on in the order
    /// the child needs them, and closed on our side right after.
    pub(super) fn spawn(&mut self, idx: usize) -> Vec<Action> {
        let spec = &self.sup.specs()[idx];
        let [stdin, stdout, stderr] = self.router.stdio(idx);
        let mut setup = Setup::new(if spec.keeps_terminal() {
            Stdio::Inherit
        } else {
            stdin
        });
        setup.stdout = stdout;
        setup.stderr = stderr;
        // Interactive use: the command gets the terminal, as without podinit.
        setup.foreground = spec.keeps_terminal() && self.interactive;
        self.router.watch(idx, spec);
        if let Some(cg) = &self.cgroups {
            match cg.prepare(spec) {
                Ok(path) => setup.cgroup = Some(path),
                Err(e) => {
                    log::error!("{}: cannot start: {e}", spec.name);
                    let status = ExitStatus::Code(126);
                    return self.feed(Input::SpawnFailed { idx, status });
                }
            }
        }
        let (mut fds, mut names) = self.listeners.for_spec(spec);
        // Then the fd store's, named as they were stored.
        for (fd, name) in self.fd_store.for_proc(&spec.name) {
            fds.push(fd);
            if !names.is_empty() {
                names.push(':');
            }
            names.push_str(name);
        }
        if !fds.is_empty() {
            // systemd's socket activation: fds from 3, in `listen` order.
            for (k, fd) in fds.iter().enumerate() {
                setup.extra_fds.push((*fd, 3 + k as i32));
            }
            let n = fds.len().to_string();
            setup.extra_env.push(("LISTEN_FDS".into(), n.into()));
            setup
                .extra_env
                .push(("LISTEN_FDNAMES".into(), names.into()));
            setup.listen_pid = true;
        }
        // A readiness channel the process writes to, set up before the fork.
        let mut child_end: Option<OwnedFd> = None;
        let mut notify: Option<(OwnedFd, bool)> = None;
        match spec.ready.as_ref().map(|p| &p.kind) {
            Some(ProbeKind::NotifyFd(n)) => match pipe() {
                Ok((r, w)) => {
                    setup.extra_fds.push((w.as_raw_fd(), *n));
                    child_end = Some(w);
                    notify = Some((r, false));
                }
                Err(e) => log::error!("{}: notify_fd pipe: {e}", spec.name),
            },
            Some(ProbeKind::SdNotify) => {
                self.notify_seq += 1;
                let name = format!(
                    "podinit-{}-{}-{}",
                    nix::unistd::getpid(),
                    idx,
                    self.notify_seq
                );
                match notify_socket(&name) {
                    Ok(fd) => {
                        setup
                            .extra_env
                            .push(("NOTIFY_SOCKET".into(), format!("@{name}").into()));
                        if let Some(w) = spec.watchdog {
                            let usec = w.as_micros().to_string();
                            setup.extra_env.push(("WATCHDOG_USEC".into(), usec.into()));
                            setup.watchdog_pid = true;
                        }
                        notify = Some((fd, true));
                    }
                    Err(e) => log::error!("{}: sd_notify socket: {e}", spec.name),
                }
            }
            _ => {}
        }
        let input = match spawn::spawn(spec, &self.base_env, &setup) {
            Ok(pid) => {
                drop(child_end);
                if let Some((fd, datagram)) = notify {
                    let raw = fd.as_raw_fd();
                    if self
                        .poller
                        .add(raw, libc::EPOLLIN as u32, token(KIND_NOTIFY, idx as u64))
                        .is_ok()
                    {
                        self.notify.insert(idx, Notify { fd, pid, datagram });
                    }
                }
                Input::Spawned { idx, pid }
            }
            Err(e) => {
                log::error!("{}: {}", spec.name, e.message);
                Input::SpawnFailed {
                    idx,
                    status: e.status,
                }
            }
        };
        self.feed(input)
    }

    /// After a reload: the watches of the specs now in force (indices may
    /// have moved). A tree beyond the limit leaves the watches off.
    pub(super) fn rewatch(&mut self) {
        if let Some(old) = self.watcher.take() {
            self.poller.remove(old.fd());
        }
        match watch::Watcher::new(self.sup.specs()) {
            Ok(w) => self.watcher = w,
            Err(e) => log::error!("{e}; no file is watched until the next reload"),
        }
        if let Some(w) = &self.watcher
            && let Err(e) = self
                .poller
                .add(w.fd(), libc::EPOLLIN as u32, token(KIND_WATCH, 0))
        {
            log::error!("cannot watch files: {e}");
        }
    }
}
