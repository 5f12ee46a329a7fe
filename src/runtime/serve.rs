//! The runtime's side of the control wing: the control socket and HTTP
//! clients accepted, read and answered inside the loop. What a request asks
//! for is `control::request`'s decision; what it does is the supervisor's.

use super::*;

impl Runtime {
    pub(super) fn bind_control(&mut self) {
        let Some(path) = self.control_path.take() else {
            return;
        };
        match Server::bind(&path) {
            Ok(s) => {
                if let Err(e) =
                    self.poller
                        .add(s.fd(), libc::EPOLLIN as u32, token(KIND_CTL_LISTEN, 0))
                {
                    log::warn!("control socket {path}: {e}");
                    return;
                }
                log::debug!("control socket at {path}");
                self.control = Some(s);
            }
            Err(e) => log::warn!(
                "control socket {path} not available: {e}; `podinit status` and the other verbs will not reach this pod"
            ),
        }
    }

    pub(super) fn on_http_accept(&mut self) {
        let Some(h) = &mut self.http else { return };
        let (new, evicted) = h.accept(Instant::now());
        let fds: Vec<RawFd> = evicted.iter().map(|s| s.as_raw_fd()).collect();
        self.watch_clients(KIND_HTTP_CLIENT, &new, &fds);
        for (id, _) in new {
            // A probe's request is usually there with the connection:
            // answered now, it never waits for a slot.
            self.on_http_client(id);
        }
    }

    /// New clients of a server watched for input (token `kind`), evicted
    /// ones unwatched (their streams are dropped by the caller after).
    fn watch_clients(&mut self, kind: u64, new: &[(u64, RawFd)], evicted: &[RawFd]) {
        for &fd in evicted {
            self.poller.remove(fd);
        }
        for &(id, fd) in new {
            let _ = self.poller.add(fd, libc::EPOLLIN as u32, token(kind, id));
        }
    }

    /// An HTTP client's event: its request answered (read-only: health and
    /// metrics), its response written as it reads.
    pub(super) fn on_http_client(&mut self, id: u64) {
        let Some(h) = &mut self.http else { return };
        let mut step = h.on_event(id);
        if let http::Step::Request(path) = &step {
            let (sup, cg) = (&self.sup, self.cgroups.as_ref());
            let usage = || usages(sup, cg);
            let response = http::route(path, &self.sup, &self.router, &usage);
            step = h.respond(id, &response);
        }
        match step {
            http::Step::Closed(fd) => self.poller.remove(fd),
            http::Step::Writing(fd) => {
                let ev = libc::EPOLLOUT as u32;
                let _ = self.poller.modify(fd, ev, token(KIND_HTTP_CLIENT, id));
            }
            http::Step::Wait | http::Step::Request(_) => {}
        }
    }

    pub(super) fn on_control_accept(&mut self) {
        let Some(c) = &mut self.control else { return };
        let http = &mut self.http;
        let mut free_fd = || http.as_mut().is_some_and(|h| h.evict_incomplete());
        let (new, evicted) = c.accept(Instant::now(), &mut free_fd);
        let fds: Vec<RawFd> = evicted.iter().map(|s| s.as_raw_fd()).collect();
        self.watch_clients(KIND_CTL_CLIENT, &new, &fds);
        for (id, _) in new {
            self.on_control_client(id);
        }
    }

    pub(super) fn on_control_client(&mut self, id: u64) {
        let Some(c) = &mut self.control else { return };
        if c.answering(id) {
            let state = c.on_answering(id);
            self.answer_state(id, state);
            return;
        }
        let line = match c.read(id) {
            Ok(Some(line)) => line,
            Ok(None) => return,
            Err(fd) => {
                self.poller.remove(fd);
                return;
            }
        };
        let names: Vec<(usize, &str)> = self
            .sup
            .current()
            .into_iter()
            .map(|i| (i, self.sup.specs()[i].name.as_str()))
            .collect();
        let state = match control::request::decide(&line, &names) {
            Ok(Asked::Events { json }) => {
                self.follow(id, control::Follow::Events { json }, Vec::new())
            }
            Ok(Asked::Logs {
                idx,
                lines,
                follow: true,
            }) => {
                self.router.watch_tail(idx, true);
                let first = self.router.tail(idx, lines);
                self.follow(id, control::Follow::Logs(idx), first)
            }
            Ok(asked) => {
                let answer = match self.answer(asked) {
                    Ok(payload) => [b"ok\n".as_slice(), &payload].concat(),
                    Err(msg) => format!("error {msg}\n").into_bytes(),
                };
                self.control
                    .as_mut()
                    .and_then(|c| c.answer(id, &answer, Instant::now()))
            }
            Err(msg) => {
                let text = format!("error {msg}\n");
                self.control
                    .as_mut()
                    .and_then(|c| c.answer(id, text.as_bytes(), Instant::now()))
            }
        };
        self.answer_state(id, state);
    }

    /// A follower: `ok`, then `first`, then what it follows as it comes.
    fn follow(
        &mut self,
        id: u64,
        what: control::Follow,
        first: Vec<u8>,
    ) -> Option<control::Answered> {
        let first = [b"ok\n".as_slice(), &first].concat();
        self.control
            .as_mut()
            .and_then(|c| c.follow(id, what, first))
    }

    /// Watches a client for writing while its answer is pending.
    pub(super) fn answer_state(&mut self, id: u64, state: Option<control::Answered>) {
        match state {
            Some(control::Answered::Done(fd)) => self.poller.remove(fd),
            Some(control::Answered::Pending(fd)) => {
                let ev = (libc::EPOLLOUT | libc::EPOLLIN) as u32;
                let _ = self.poller.modify(fd, ev, token(KIND_CTL_CLIENT, id));
            }
            Some(control::Answered::Following(fd)) => {
                let ev = libc::EPOLLIN as u32;
                let _ = self.poller.modify(fd, ev, token(KIND_CTL_CLIENT, id));
            }
            None => {}
        }
    }

    /// Every running process's CPU, memory and threads: one read of /proc
    /// for all, only when a client asks (no timer: an idle pod stays idle).
    /// A one-shot request decided by `control::request`: the payload of
    /// `ok`, or the error message.
    /// `scale NAME N`: the config read again with N replicas of NAME
    /// (kept until the next reload); refused for a name without replicas.
    fn scale(&mut self, name: &str, replicas: u32) -> Result<Vec<u8>, String> {
        let grouped = self
            .sup
            .specs()
            .iter()
            .any(|s| s.replica.as_ref().is_some_and(|(g, _)| g == name));
        if !grouped {
            return Err(format!(
                "{name} has no replicas (set `replicas` in its table)"
            ));
        }
        self.scale.insert(name.to_string(), replicas);
        self.refused.clear();
        let acts = self.read_config();
        self.execute(acts);
        match self.refused.is_empty() {
            true => Ok(format!("{name}: {replicas} replicas\n").into_bytes()),
            false => Err(self.refused.join("; ")),
        }
    }

    fn answer(&mut self, asked: Asked) -> Result<Vec<u8>, String> {
        let commands = match asked {
            Asked::Status(ids) => {
                let usage = usages(&self.sup, self.cgroups.as_ref());
                let json = control::status_json(
                    self.sup.specs(),
                    self.sup.procs(),
                    &ids,
                    Instant::now(),
                    &|i| usage.get(i).copied().flatten(),
                    &self.sup.conditions(),
                );
                return Ok((json + "\n").into_bytes());
            }
            Asked::Health(check) => {
                return self.sup.health(check).map(|ok| (ok + "\n").into_bytes());
            }
            Asked::Logs { idx, lines, .. } => return Ok(self.router.tail(idx, lines)),
            Asked::Events { .. } => return Err("events is a follower".into()),
            Asked::Scale { name, replicas } => return self.scale(&name, replicas),
            Asked::Commands(commands) => commands,
        };
        self.refused.clear();
        for cmd in commands {
            let acts = self.feed(Input::Control(cmd));
            self.execute(acts);
        }
        match std::mem::take(&mut self.refused) {
            r if r.is_empty() => Ok(Vec::new()),
            r => Err(r.join("; ")),
        }
    }
}

/// Every running process's CPU, memory and threads: one read of /proc for
/// all, only when a client asks (no timer: an idle pod stays idle). With a
/// cgroup per process, CPU and memory are the cgroup's (`cpu.stat`,
/// `memory.current`), which count everything in it, exited children too.
pub(super) fn usages(
    sup: &Supervisor,
    cgroups: Option<&cgroup::Cgroups>,
) -> Vec<Option<control::Usage>> {
    let table = procfs::Table::read();
    sup.procs()
        .iter()
        .zip(sup.specs())
        .map(|(p, s)| {
            let mut u = table.usage(p.pid?);
            if let Some(cg) = cgroups {
                let (cpu_us, mem) = cg.usage(&s.name);
                u.cpu_ms = cpu_us.map_or(u.cpu_ms, |us| us / 1000);
                u.memory_bytes = mem.unwrap_or(u.memory_bytes);
            }
            Some(u)
        })
        .collect()
}
