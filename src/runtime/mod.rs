//! The event loop: the only place where podinit waits (but for the log
//! router's last flush at exit, see `Router::finish`).
//!
//! One thread, one `epoll_wait` over the signalfd, the log pipes and sinks,
//! probe sockets, readiness channels and the control socket, with the
//! timeout the supervisor asks for — or none, so an idle pod costs no
//! wake-up at all. Every SIGCHLD drains `waitpid(-1, WNOHANG)`, which reaps
//! orphans as well as our own processes. Boundary: executes the
//! supervisor's actions, reports their results, logs its events; decides
//! nothing (SIGHUP goes to the supervisor like any signal).

pub mod cgroup;
mod fdstore;
mod listen;
mod oom;
mod probe;
pub mod procfs;
mod serve;
mod signals;
mod spawning;
mod syslog;
mod watch;

use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use std::time::Instant;

use crate::config::{Config, ProbeKind, signal_name};
use crate::control::{self, Asked, Server, http};
use crate::logs::Interest;
use crate::logs::Router;
use crate::poll::{self, Poller, token};
use crate::spawn::{self, Setup, Stdio};
use crate::supervisor::{
    Action, Event, EventKind, ExitStatus, Input, Pid, Role, SdMessage, Supervisor,
};

/// The kinds of fd the loop watches: the top byte of an epoll token.
const KIND_SIGNAL: u64 = 0;
pub(crate) const KIND_PROBE: u64 = 1;
const KIND_NOTIFY: u64 = 2;
const KIND_STREAM: u64 = 3;
const KIND_SINK: u64 = 4;
const KIND_CTL_LISTEN: u64 = 5;
const KIND_CTL_CLIENT: u64 = 6;
const KIND_HTTP_LISTEN: u64 = 7;
const KIND_HTTP_CLIENT: u64 = 8;
const KIND_SYSLOG: u64 = 9;
const KIND_WATCH: u64 = 10;
const KIND_DEMAND: u64 = 11;

/// A readiness channel the process itself writes to (notify_fd, sd_notify).
struct Notify {
    fd: OwnedFd,
    pid: Pid,
    datagram: bool,
}

use crate::sys::{self, os_err, pipe};

/// After the interactive command ends, the terminal's foreground is
/// podinit's own group again (SIGTTOU is blocked, so this cannot stop us).
fn take_terminal_back() {
    let stdin = std::io::stdin();
    let me = nix::unistd::getpgrp();
    if nix::unistd::isatty(0).unwrap_or(false)
        && nix::unistd::tcgetpgrp(stdin.as_fd()).is_ok_and(|g| g != me)
    {
        let _ = nix::unistd::tcsetpgrp(stdin.as_fd(), me);
    }
}

/// podinit's stdin is a terminal and podinit is its foreground job.
fn owns_terminal() -> bool {
    nix::unistd::isatty(0).unwrap_or(false)
        && nix::unistd::tcgetpgrp(std::io::stdin().as_fd())
            .is_ok_and(|g| g == nix::unistd::getpgrp())
}

/// Kills every process of the pod and reaps them all (the panic guard).
pub fn kill_everything() {
    let me = nix::unistd::getpid().as_raw();
    loop {
        if me == 1 {
            let _ = sys::kill(-1, libc::SIGKILL);
        } else {
            for r in procfs::descendants(me) {
                let _ = sys::kill(r.pid, libc::SIGKILL);
            }
        }
        // One child reaped per round; anything forked meanwhile is killed
        // by the next round.
        if waitpid(None, None).is_err() {
            break;
        }
    }
}

/// A datagram socket bound to the abstract address `name` (no file to clean up).
fn notify_socket(name: &str) -> io::Result<OwnedFd> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, UnixAddr, bind, socket};
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        None,
    )
    .map_err(|e| sys::nix_err("socket", e))?;
    let addr =
        UnixAddr::new_abstract(name.as_bytes()).map_err(|e| sys::nix_err("socket name", e))?;
    bind(fd.as_raw_fd(), &addr).map_err(|e| sys::nix_err("bind", e))?;
    // The sender's credentials come with each datagram: only the process
    // or its descendants may notify for it.
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::PassCred, &true)
        .map_err(|e| sys::nix_err("SO_PASSCRED", e))?;
    Ok(fd)
}

/// The sd_notify datagrams waiting on `fd` that `pid` (the process) or one
/// of its descendants sent, with the fds that came along (SCM_RIGHTS, at
/// most 16 a datagram: the kernel closes the rest); others are dropped
/// with a warning, and their fds closed.
fn read_sd_notify(fd: &OwnedFd, pid: Pid) -> Vec<(SdMessage, Vec<OwnedFd>)> {
    use nix::sys::socket::{ControlMessageOwned, MsgFlags, UnixCredentials, recvmsg};
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!(UnixCredentials, [RawFd; 16]);
        let Ok(msg) = recvmsg::<()>(
            fd.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) else {
            break; // EAGAIN: nothing more for now
        };
        let mut sender = None;
        let mut fds = Vec::new();
        for c in msg.cmsgs().ok().into_iter().flatten() {
            match c {
                ControlMessageOwned::ScmCredentials(cred) => sender = Some(cred.pid()),
                ControlMessageOwned::ScmRights(r) => {
                    // SAFETY: the kernel just installed these fds for us.
                    fds.extend(r.into_iter().map(|f| unsafe { OwnedFd::from_raw_fd(f) }));
                }
                _ => {}
            }
        }
        let n = msg.bytes;
        match sender {
            Some(s) if s == pid || procfs::is_descendant(s, pid) => {
                out.push((SdMessage::parse(&buf[..n]), fds));
            }
            other => log::warn!(
                "sd_notify: ignored a message from pid {other:?}, which is not the process (pid {pid}) or its descendant"
            ),
        }
    }
    out
}

/// Blocks every catchable signal and returns a signalfd that receives them.
/// Raw libc: nix's `SigSet` cannot hold real-time signals, which podinit
/// forwards and accepts as stop signals.
fn signal_fd() -> io::Result<OwnedFd> {
    // SAFETY: libc calls on a local sigset, then a fresh fd handed to OwnedFd.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in 1..=crate::config::units::SIG_MAX {
            if !crate::config::units::unblockable(sig) {
                // glibc refuses its two internal real-time signals; that is fine.
                libc::sigaddset(&mut set, sig);
            }
        }
        if libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return Err(os_err("sigprocmask"));
        }
        let fd = libc::signalfd(-1, &set, libc::SFD_CLOEXEC | libc::SFD_NONBLOCK);
        if fd < 0 {
            return Err(os_err("signalfd"));
        }
        Ok(OwnedFd::from_raw_fd(fd))
    }
}

pub struct Runtime {
    sup: Supervisor,
    /// Bound right after the first processes are spawned (they come first).
    control_path: Option<String>,
    /// The config lookup (files, directories) and the `-- COMMAND`, to
    /// read again on reload: a file added to a directory is read too.
    specs: Vec<String>,
    command: Option<Vec<std::ffi::OsString>>,
    control: Option<Server>,
    http: Option<http::Http>,
    /// The `/dev/log` receiver (`[podinit] syslog`).
    syslog: Option<syslog::Receiver>,
    /// The inotify watches of processes with `watch`.
    watcher: Option<watch::Watcher>,
    /// The sockets of processes with `listen`.
    listeners: listen::Listeners,
    /// `podinit scale`: replica counts over the config's, until a reload.
    scale: HashMap<String, u32>,
    /// fds processes handed over with FDSTORE=1.
    fd_store: fdstore::FdStore,
    /// On-demand processes whose sockets are in epoll (they are down).
    armed: std::collections::HashSet<usize>,
    /// The memory cgroup's OOM-kill counter, when the kernel shows one.
    oom: Option<oom::OomWatch>,
    /// A cgroup per process, where the container allows it.
    cgroups: Option<cgroup::Cgroups>,
    /// Per process, the `oom_kill` count of its own cgroup last seen.
    oom_seen: HashMap<usize, u64>,
    router: Router,
    poller: Poller,
    sigfd: OwnedFd,
    probes: probe::Probes,
    notify: HashMap<usize, Notify>,
    notify_seq: u64,
    base_env: spawn::Env,
    pid1: bool,
    /// podinit owns the terminal on its stdin (it is the foreground job):
    /// the `-- COMMAND` process gets it.
    interactive: bool,
    exit: Option<i32>,
    /// Refusals of the supervisor for the control request under way.
    refused: Vec<String>,
}

impl Runtime {
    /// Everything the loop watches, set up before the first process
    /// starts. Long on purpose: each piece (signalfd, router, HTTP, syslog)
    /// is bound in the order a failure must be reported.
    pub fn new(cfg: &Config) -> io::Result<Runtime> {
        // Given up by a server when the fd limit is reached (control::clients).
        sys::reserve_spare_fd();
        let pid1 = nix::unistd::getpid().as_raw() == 1;
        if !pid1 {
            // Orphans of our processes must come back to us, not to the real init.
            if let Err(e) = nix::sys::prctl::set_child_subreaper(true) {
                log::warn!(
                    "prctl(PR_SET_CHILD_SUBREAPER): {e}; orphans of the pod will not be reaped by podinit"
                );
            }
        }
        // A limit that cannot be had is an error of the config, before
        // anything starts (InvalidInput: main exits 2 with it).
        let cgroups = cgroup::Cgroups::setup(cfg.global.cgroups, &cfg.procs)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let sigfd = signal_fd()?;
        let poller = Poller::new()?;
        poller.add(
            sigfd.as_raw_fd(),
            libc::EPOLLIN as u32,
            token(KIND_SIGNAL, 0),
        )?;
        let mut router = Router::new(&cfg.procs)?;
        // Before anything starts: an address that cannot be bound is an
        // error of the config (InvalidInput: main exits 2 with it).
        let http = match cfg.global.http {
            Some(addr) => {
                let h = http::Http::bind(addr)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
                poller.add(h.fd(), libc::EPOLLIN as u32, token(KIND_HTTP_LISTEN, 0))?;
                Some(h)
            }
            None => None,
        };
        let syslog = match &cfg.global.syslog {
            Some(s) => Some(Self::bind_syslog(s, &cfg.procs, &mut router, &poller)?),
            None => None,
        };
        // Sockets before anything starts: a port in use is an error of the
        // config (exit 2), and nothing has run.
        let mut listeners = listen::Listeners::default();
        listeners
            .sync(&cfg.procs)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        let watcher = watch::Watcher::new(&cfg.procs)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        if let Some(w) = &watcher {
            poller.add(w.fd(), libc::EPOLLIN as u32, token(KIND_WATCH, 0))?;
        }
        Ok(Runtime {
            syslog,
            watcher,
            listeners,
            armed: std::collections::HashSet::new(),
            fd_store: fdstore::FdStore::default(),
            scale: HashMap::new(),
            control_path: cfg.global.control_socket.clone(),
            specs: cfg.specs.clone(),
            command: cfg
                .procs
                .iter()
                .find(|p| p.from_command_line)
                .map(|p| p.argv.clone()),
            control: None,
            http,
            oom: oom::OomWatch::find(),
            cgroups,
            oom_seen: HashMap::new(),
            router,
            sup: {
                let mut sup = Supervisor::new(cfg);
                sup.set_zone(crate::sys::utc_offset);
                sup
            },
            poller,
            sigfd,
            probes: probe::Probes::default(),
            notify: HashMap::new(),
            notify_seq: 0,
            base_env: std::env::vars_os().collect(),
            pid1,
            interactive: owns_terminal(),
            exit: None,
            refused: Vec::new(),
        })
    }

    /// Runs the pod to its end; returns podinit's exit status.
    /// The syslog receiver, bound before anything starts (daemons log at
    /// once); a socket that cannot be bound is an error of the config.
    fn bind_syslog(
        cfg: &crate::config::Syslog,
        procs: &[crate::config::ProcSpec],
        router: &mut Router,
        poller: &Poller,
    ) -> io::Result<syslog::Receiver> {
        use crate::config::{LogFormat, Target};
        let json = cfg.output.format_for(&cfg.output.stdout) == LogFormat::Json;
        let mut spec = cfg.output.clone();
        if json {
            // The receiver writes whole JSON lines (with facility, ...).
            spec.log_format = Some(LogFormat::Raw);
            spec.log_timestamps = false;
        }
        let out = match cfg.output.stdout {
            Target::Null => None,
            _ => Some(router.add_source(&spec, procs)?),
        };
        let r = syslog::Receiver::bind(&cfg.path, out, json)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        poller.add(r.fd(), libc::EPOLLIN as u32, token(KIND_SYSLOG, 0))?;
        Ok(r)
    }

    pub fn run(mut self) -> i32 {
        let first = self.feed(Input::Start);
        self.execute(first);
        crate::sys::trim_heap();
        self.bind_control();
        // A test hook of debug builds only: proves the panic guard.
        #[cfg(debug_assertions)]
        if std::env::var_os("PODINIT_TEST_PANIC").is_some() {
            panic!("PODINIT_TEST_PANIC is set");
        }
        loop {
            if let Some(code) = self.exit {
                if let Some(r) = &mut self.syslog {
                    r.report();
                }
                self.router.finish(std::time::Duration::from_secs(5));
                if let Some(cg) = &self.cgroups {
                    let names: Vec<&str> =
                        self.sup.specs().iter().map(|s| s.name.as_str()).collect();
                    cg.remove(&names);
                }
                return code;
            }
            self.apply_interest();
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 16];
            let n = self.poller.wait(&mut events, self.timeout_ms());
            // Signals first (a SIGTERM's stop signals go out before anything
            // else is done), and the signalfd is read only when it is ready.
            let mut reap = false;
            let mut signals = Vec::new();
            if events[..n].iter().any(|e| e.u64 == token(KIND_SIGNAL, 0)) {
                self.read_signals(&mut reap, &mut signals);
            }
            for sig in signals {
                let acts = self.feed(Input::Signal(sig));
                self.execute(acts);
            }
            for ev in &events[..n] {
                self.dispatch(ev.u64);
            }
            if reap {
                self.reap();
            }
            self.housekeeping();
            let acts = self.feed(Input::Tick);
            self.execute(acts);
        }
    }

    /// The router's watch changes, applied to epoll in the order decided.
    /// Called before every wait, so nothing it decided waits on a stale
    /// interest; a change for an fd closed since fails harmlessly.
    fn apply_interest(&mut self) {
        for change in self.router.take_interest() {
            match change {
                Interest::NewStream { sid, fd } => {
                    let tok = token(KIND_STREAM, sid as u64);
                    if let Err(e) = self.poller.add(fd, libc::EPOLLIN as u32, tok) {
                        log::warn!("cannot watch an output pipe: {e}");
                    }
                }
                Interest::ReadStream { sid, fd, on } => {
                    let ev = if on { libc::EPOLLIN as u32 } else { 0 };
                    let _ = self.poller.modify(fd, ev, token(KIND_STREAM, sid as u64));
                }
                Interest::SinkRoom { sink, fd, on: true } => {
                    let tok = token(KIND_SINK, sink as u64);
                    if self.poller.add(fd, libc::EPOLLOUT as u32, tok).is_err() {
                        self.router.no_room_watch(sink);
                    }
                }
                Interest::SinkRoom { fd, on: false, .. } => self.poller.remove(fd),
            }
        }
    }

    /// How long `epoll_wait` may sleep: until the earliest deadline of the
    /// supervisor, a sink retry or a client — or for ever (-1).
    fn timeout_ms(&self) -> i32 {
        let next = [
            self.sup.next_deadline(),
            self.router.next_retry(),
            self.control.as_ref().and_then(|c| c.next_deadline()),
            self.http.as_ref().and_then(|h| h.next_deadline()),
        ]
        .into_iter()
        .flatten()
        .min();
        match next {
            None => -1,
            Some(t) => {
                let d = t.saturating_duration_since(Instant::now());
                // Round up, so that a deadline is never polled for early.
                d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
            }
        }
    }

    /// One epoll event, to the part of podinit its token names.
    fn dispatch(&mut self, tok: u64) {
        let (kind, id) = poll::split(tok);
        match kind {
            KIND_PROBE => {
                if let Some(result) = self.probes.on_event(id, &self.poller) {
                    let acts = self.feed(Input::ProbeResult { id, result });
                    self.execute(acts);
                }
            }
            KIND_NOTIFY => self.on_notify(id as usize),
            KIND_STREAM => {
                if let Some(idx) = self.router.on_stream(id as usize)
                    && let Some(pid) = self.sup.procs()[idx].pid
                {
                    let acts = self.feed(Input::Notified { pid });
                    self.execute(acts);
                }
            }
            KIND_SINK => self.router.on_sink(id as usize),
            KIND_CTL_LISTEN => self.on_control_accept(),
            KIND_CTL_CLIENT => self.on_control_client(id),
            KIND_HTTP_LISTEN => self.on_http_accept(),
            KIND_HTTP_CLIENT => self.on_http_client(id),
            KIND_SYSLOG => {
                if let Some(r) = &mut self.syslog {
                    r.on_readable(&mut self.router);
                }
            }
            KIND_DEMAND => {
                // Watched only while it is down: stop at once (level-triggered).
                self.arm_sockets(id as usize, false);
                let acts = self.feed(Input::Demand { idx: id as usize });
                self.execute(acts);
            }
            KIND_WATCH => {
                let changes = self.watcher.as_mut().map(|w| w.on_readable());
                for (idx, path) in changes.unwrap_or_default() {
                    let acts = self.feed(Input::Changed { idx, path });
                    self.execute(acts);
                }
            }
            _ => {}
        }
    }

    /// Sink retries, new output to `logs -f` followers, and clients past
    /// their deadline dropped.
    fn housekeeping(&mut self) {
        let now = Instant::now();
        self.router.retry(now);
        if let Some(c) = &mut self.control {
            for fd in c.expire(now) {
                self.poller.remove(fd);
            }
        }
        if !self.router.watched_tails().is_empty()
            && let Some(c) = &mut self.control
        {
            let mut states = Vec::new();
            for (idx, data) in self.router.take_fresh() {
                states.extend(c.publish_logs(idx, &data));
            }
            // Followers that left: stop keeping their process's output.
            let followed = c.followed_logs();
            let gone: Vec<usize> = self
                .router
                .watched_tails()
                .iter()
                .copied()
                .filter(|i| !followed.contains(i))
                .collect();
            for idx in gone {
                self.router.watch_tail(idx, false);
            }
            for (id, state) in states {
                self.answer_state(id, Some(state));
            }
        }
        if let Some(h) = &mut self.http {
            for fd in h.expire(now) {
                self.poller.remove(fd);
            }
        }
    }

    fn read_signals(&mut self, reap: &mut bool, signals: &mut Vec<i32>) {
        // struct signalfd_siginfo: 128 bytes, ssi_signo at 0, ssi_pid at 12.
        // Up to 16 at a read; a short read means none is left.
        const SIZE: usize = 128;
        let mut buf = [0u8; SIZE * 16];
        while let Ok(n) = nix::unistd::read(self.sigfd.as_raw_fd(), &mut buf) {
            for info in buf[..n].chunks_exact(SIZE) {
                let field = |at: usize| {
                    u32::from_ne_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]])
                };
                let sig = field(0) as i32;
                if sig == libc::SIGCHLD {
                    *reap = true;
                } else {
                    log::debug!("received SIG{} from pid {}", signal_name(sig), field(12));
                    signals.push(sig);
                }
            }
            if n < buf.len() {
                break;
            }
        }
    }

    /// Reaps every exited child; reports NoChildren when none is left.
    fn reap(&mut self) {
        loop {
            let (pid, status) = match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(p, code)) => (p.as_raw(), Some(ExitStatus::Code(code))),
                Ok(WaitStatus::Signaled(p, sig, _)) => {
                    (p.as_raw(), Some(ExitStatus::Signaled(sig as i32)))
                }
                Ok(WaitStatus::StillAlive) => break,
                Ok(other) => (other.pid().map_or(0, |p| p.as_raw()), None),
                Err(nix::errno::Errno::ECHILD) => {
                    let acts = self.feed(Input::NoChildren);
                    self.execute(acts);
                    break;
                }
                Err(_) => break,
            };
            if pid > 0 {
                if let Some(st) = status
                    && let Some((id, result)) = self.probes.reaped(pid, st)
                {
                    let acts = self.feed(Input::ProbeResult { id, result });
                    self.execute(acts);
                    continue;
                }
                // Orphans are most of what a storm reaps: they cost one
                // waitpid each, and the supervisor only hears of its own.
                if let Some(st) = status
                    && self.sup.manages(pid)
                {
                    self.drop_notify_of(pid);
                    // Its last lines go out before its exit is acted on.
                    if let Some(idx) = self.sup.index_of(pid) {
                        self.router.drain(idx);
                        if self.sup.specs()[idx].keeps_terminal() && self.interactive {
                            take_terminal_back();
                        }
                    }
                    let own_oom = self
                        .sup
                        .index_of(pid)
                        .is_some_and(|idx| self.cgroup_ended(idx));
                    // Killed by SIGKILL while the cgroup's OOM count rose:
                    // the kernel's OOM killer did it.
                    if st == ExitStatus::Signaled(libc::SIGKILL)
                        && (own_oom || self.oom.as_mut().is_some_and(|w| w.new_kills() > 0))
                    {
                        let acts = self.feed(Input::OomKilled { pid });
                        self.execute(acts);
                    }
                    let acts = self.feed(Input::Reaped { pid, status: st });
                    self.execute(acts);
                }
            }
        }
    }

    /// The supervisor's actions, in order, with what each leads to. Long
    /// on purpose: one arm per `Action`, each a call or two.
    fn execute(&mut self, actions: Vec<Action>) {
        // One read of /proc for the whole batch (a shutdown step may signal
        // thousands of groups), taken when the first signal needs it. Group
        // signals go out at once; what needs the table (stopped groups,
        // descendants that left their group) follows the batch.
        let mut table: Option<procfs::Table> = None;
        let mut signalled: Vec<(usize, i32, i32)> = Vec::new();
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let follow = match action {
                Action::Spawn(idx) => self.spawn(idx),
                Action::Probe {
                    id,
                    idx,
                    pid: _,
                    role,
                } => self.start_probe(id, idx, role),
                Action::CancelProbe { id } => {
                    self.probes.cancel(id, &self.poller);
                    Vec::new()
                }
                Action::ReadConfig => {
                    self.scale.clear(); // a reload: the config's counts again
                    self.read_config()
                }
                Action::DropFds(idx) => {
                    let name = self.sup.specs()[idx].name.clone();
                    self.fd_store.drop_all(&name);
                    Vec::new()
                }
                Action::ArmSockets { idx, on } => {
                    self.arm_sockets(idx, on);
                    Vec::new()
                }
                Action::Rewire(idx) => {
                    if let Err(e) = self.router.update(self.sup.specs(), &[idx]) {
                        log::error!("reload: log streams of {}: {e}", self.sup.specs()[idx].name);
                    }
                    Vec::new()
                }
                Action::SignalGroup { idx, pid, sig } => {
                    if sys::kill(-pid, sig).is_err() {
                        // The group may be gone while the leader is a zombie,
                        // or the leader may have moved to a new group itself.
                        let _ = sys::kill(pid, sig);
                    }
                    signalled.push((idx, pid, sig));
                    Vec::new()
                }
                Action::SignalProcess { idx, pid, sig } => {
                    self.signal_process(idx, pid, sig);
                    Vec::new()
                }
                Action::Sweep(sig) => {
                    self.sweep(table.get_or_insert_with(procfs::Table::read), sig);
                    // Whatever is already gone must be reaped now, and an
                    // empty table reported, or the pod would wait for nothing.
                    self.reap();
                    Vec::new()
                }
                Action::Exit(code) => {
                    self.exit = Some(code);
                    Vec::new()
                }
            };
            queue.extend(follow);
        }
        if !signalled.is_empty() {
            // The signalled processes may wait for this CPU: let them run
            // their handlers before the follow-up work (a /proc read).
            nix::sched::sched_yield().ok();
            let t = table.get_or_insert_with(procfs::Table::read);
            for (idx, pid, sig) in signalled {
                self.signal_group_rest(t, idx, pid, sig);
            }
        }
    }

    /// `Action::Probe`: starts the probe; a result known at once (a file
    /// probe, a failed start) goes straight back to the supervisor.
    fn start_probe(&mut self, id: u64, idx: usize, role: Role) -> Vec<Action> {
        let spec = &self.sup.specs()[idx];
        let probe = match role {
            Role::Ready => spec.ready.as_deref(),
            Role::Health => spec.health.as_deref(),
            Role::Readiness => spec.readiness.as_deref(),
            Role::PostStart => spec.post_start.as_deref().and_then(|h| h.probe()),
            Role::PreStop => spec.pre_stop.as_deref().and_then(|h| h.probe()),
        };
        let null = self.router.null();
        let started = probe.and_then(|p| {
            self.probes
                .start(id, spec, p, &self.base_env, null, &self.poller)
        });
        match started {
            Some(result) => self.feed(Input::ProbeResult { id, result }),
            None => Vec::new(),
        }
    }

    /// `Action::SignalProcess`: a failure is only worth a debug line (the
    /// process may have exited a moment ago).
    fn signal_process(&self, idx: usize, pid: Pid, sig: i32) {
        if let Err(e) = sys::kill(pid, sig) {
            log::debug!(
                "forwarding SIG{} to {} (pid {pid}): {e}",
                signal_name(sig),
                self.sup.specs()[idx].name,
            );
        }
    }

    /// `Action::ReadConfig`: reads the config file again (with the same
    /// `-- COMMAND`) for the supervisor; an invalid one changes nothing.
    fn read_config(&mut self) -> Vec<Action> {
        if self.specs.is_empty() {
            return self.feed(Input::ReloadFailed("there is no config file".into()));
        }
        log::info!("reloading {}", self.specs.join(", "));
        // `podinit scale` counts reach the config as `PODINIT_SCALE:NAME`,
        // a name no real variable has.
        let scale = &self.scale;
        let env = |k: &str| match k.strip_prefix("PODINIT_SCALE:") {
            Some(name) => scale.get(name).map(u32::to_string),
            None => std::env::var(k).ok(),
        };
        match crate::config::load(&self.specs, self.command.clone(), &env) {
            Ok(cfg) => {
                // Sockets first: the reload's new runs get them.
                if let Err(e) = self.listeners.sync(&cfg.procs) {
                    return self.feed(Input::ReloadFailed(e));
                }
                let acts = self.feed(Input::Reload(Box::new(cfg)));
                self.rewatch();
                crate::sys::trim_heap();
                acts
            }
            Err(e) => self.feed(Input::ReloadFailed(e.0)),
        }
    }

    /// One input to the supervisor. Its decisions are logged at once;
    /// refusals are kept as the answer of the control request under way.
    fn feed(&mut self, input: Input) -> Vec<Action> {
        self.sup.set_clock(crate::sys::wall_ms());
        let acts = self.sup.handle(Instant::now(), input);
        for e in self.sup.take_events() {
            if e.kind == EventKind::Refused {
                self.refused.push(e.text.clone());
            }
            log::log!(e.level, "{}", e.text);
            self.publish(&e);
        }
        acts
    }

    /// An event for `podinit events` followers: state changes (info and
    /// above), not debug chatter or orphans.
    fn publish(&mut self, e: &Event) {
        let Some(c) = &mut self.control else { return };
        if !c.has_followers() || e.level > log::Level::Info || e.kind == EventKind::Orphan {
            return;
        }
        let time = crate::logs::format::rfc3339(std::time::SystemTime::now());
        let name = e.proc.map(|i| self.sup.specs()[i].name.as_str());
        let text = format!(
            "{time} {} {}: {}",
            e.kind.as_str(),
            name.unwrap_or("-"),
            e.text
        );
        let json = control::event_json(&time, e, name);
        for (id, state) in c.publish(&text, &json) {
            self.answer_state(id, Some(state));
        }
    }

    /// A process wrote to its readiness channel: a newline on its
    /// `notify_fd` pipe, or sd_notify datagrams (kept open for the process's
    /// life: STATUS, WATCHDOG, RELOADING… come later).
    fn on_notify(&mut self, idx: usize) {
        let Some(n) = self.notify.get(&idx) else {
            return;
        };
        let (pid, datagram) = (n.pid, n.datagram);
        if datagram {
            for (msg, fds) in read_sd_notify(&n.fd, pid) {
                self.store_fds(idx, &msg, fds);
                let acts = self.feed(Input::SdNotify { idx, msg });
                self.execute(acts);
            }
            return;
        }
        let mut ready = false;
        let mut done = false;
        let mut buf = [0u8; 4096];
        // Until EAGAIN: nothing more for now.
        while let Ok(r) = nix::unistd::read(n.fd.as_raw_fd(), &mut buf) {
            if r == 0 {
                done = true; // EOF of the pipe: the process closed it
                break;
            }
            ready |= buf[..r].contains(&b'\n');
        }
        if ready || done {
            self.drop_notify(idx);
        }
        if ready {
            let acts = self.feed(Input::Notified { pid });
            self.execute(acts);
        }
    }

    /// `FDSTORE=1` / `FDSTOREREMOVE=1` of a datagram; fds sent without
    /// `FDSTORE=1` are closed (as systemd does).
    fn store_fds(&mut self, idx: usize, msg: &SdMessage, fds: Vec<OwnedFd>) {
        let spec = &self.sup.specs()[idx];
        let name = msg.fdname.as_deref().unwrap_or("stored");
        if msg.fdstore_remove {
            self.fd_store.remove(&spec.name, name);
        }
        if msg.fdstore && !fds.is_empty() {
            self.fd_store.add(&spec.name, name, fds, spec.fd_store_max);
        } else if !fds.is_empty() {
            log::warn!(
                "{}: sd_notify: {} fd(s) sent without FDSTORE=1 were closed",
                spec.name,
                fds.len()
            );
        }
    }

    fn drop_notify(&mut self, idx: usize) {
        if let Some(n) = self.notify.remove(&idx) {
            self.poller.remove(n.fd.as_raw_fd());
        }
    }

    fn drop_notify_of(&mut self, pid: Pid) {
        if let Some((&idx, _)) = self.notify.iter().find(|(_, n)| n.pid == pid) {
            self.drop_notify(idx);
        }
    }
}
