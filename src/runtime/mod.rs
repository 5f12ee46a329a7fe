//! The event loop: the only place where podinit waits.
//!
//! One thread, one `epoll_wait` over a signalfd (and, later, pipes and
//! sockets), with the timeout the supervisor asks for — or none, so an idle
//! pod costs no wake-up at all. Every SIGCHLD drains `waitpid(-1, WNOHANG)`,
//! which reaps orphans as well as our own processes. Boundary: executes the
//! supervisor's actions and reports their results; decides nothing.

pub mod procfs;

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use crate::config::{Config, signal_name};
use crate::spawn::{self, Stdin};
use crate::supervisor::{Action, ExitStatus, Input, Supervisor};

/// Signals podinit must not block: faults of its own, which must kill it
/// loudly rather than hang, and those nobody can catch. SIGPIPE stays ignored
/// (Rust's default) so a closed console gives EPIPE, not a signal.
fn unblockable(sig: i32) -> bool {
    matches!(
        sig,
        libc::SIGKILL
            | libc::SIGSTOP
            | libc::SIGPIPE
            | libc::SIGSEGV
            | libc::SIGBUS
            | libc::SIGILL
            | libc::SIGFPE
            | libc::SIGABRT
            | libc::SIGTRAP
            | libc::SIGSYS
    )
}

fn os_err(call: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{call}: {e}"))
}

/// Blocks every catchable signal and returns a signalfd that receives them.
fn signal_fd() -> io::Result<OwnedFd> {
    // SAFETY: plain libc calls on a local sigset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in 1..=crate::config::units::SIG_MAX {
            if !unblockable(sig) {
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

fn decode(status: libc::c_int) -> Option<ExitStatus> {
    if libc::WIFEXITED(status) {
        Some(ExitStatus::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(ExitStatus::Signaled(libc::WTERMSIG(status)))
    } else {
        None
    }
}

pub struct Runtime {
    sup: Supervisor,
    epoll: OwnedFd,
    sigfd: OwnedFd,
    devnull: Option<OwnedFd>,
    base_env: Vec<(String, String)>,
    pid1: bool,
    exit: Option<i32>,
}

impl Runtime {
    pub fn new(cfg: &Config) -> io::Result<Runtime> {
        // SAFETY: getpid cannot fail.
        let pid1 = unsafe { libc::getpid() } == 1;
        if !pid1 {
            // Orphans of our processes must come back to us, not to the real init.
            // SAFETY: prctl with integer arguments.
            if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) } != 0 {
                log::warn!(
                    "{}; orphans of the pod will not be reaped by podinit",
                    os_err("prctl(PR_SET_CHILD_SUBREAPER)")
                );
            }
        }
        let sigfd = signal_fd()?;
        // SAFETY: epoll_create1 with a flag.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(os_err("epoll_create1"));
        }
        // SAFETY: fresh fd from epoll_create1.
        let epoll = unsafe { OwnedFd::from_raw_fd(ep) };
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: 0,
        };
        // SAFETY: both fds are open; ev lives across the call.
        if unsafe {
            libc::epoll_ctl(
                epoll.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                sigfd.as_raw_fd(),
                &mut ev,
            )
        } != 0
        {
            return Err(os_err("epoll_ctl"));
        }
        let devnull = std::fs::OpenOptions::new()
            .read(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| log::warn!("cannot open /dev/null ({e}); processes get a closed stdin"))
            .ok();
        Ok(Runtime {
            sup: Supervisor::new(cfg),
            epoll,
            sigfd,
            devnull,
            base_env: std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
                .collect(),
            pid1,
            exit: None,
        })
    }

    /// Runs the pod to its end; returns podinit's exit status.
    pub fn run(mut self) -> i32 {
        let first = self.sup.start(Instant::now());
        self.execute(first);
        loop {
            if let Some(code) = self.exit {
                return code;
            }
            let timeout = match self.sup.next_deadline() {
                None => -1,
                Some(t) => {
                    let d = t.saturating_duration_since(Instant::now());
                    // Round up, so that a deadline is never polled for early.
                    d.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32
                }
            };
            let mut events = [libc::epoll_event { events: 0, u64: 0 }; 8];
            // SAFETY: events is a valid buffer of the given length.
            let n = unsafe {
                libc::epoll_wait(
                    self.epoll.as_raw_fd(),
                    events.as_mut_ptr(),
                    events.len() as i32,
                    timeout,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                if e.kind() != io::ErrorKind::Interrupted {
                    log::error!("epoll_wait: {e}");
                }
            }
            let mut reap = false;
            let mut signals = Vec::new();
            self.read_signals(&mut reap, &mut signals);
            if reap {
                self.reap();
            }
            for sig in signals {
                let acts = self.sup.handle(Instant::now(), Input::Signal(sig));
                self.execute(acts);
            }
            let acts = self.sup.handle(Instant::now(), Input::Tick);
            self.execute(acts);
        }
    }

    fn read_signals(&mut self, reap: &mut bool, signals: &mut Vec<i32>) {
        loop {
            // SAFETY: signalfd_siginfo is plain data; we read exactly its size.
            let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
            let size = std::mem::size_of::<libc::signalfd_siginfo>();
            // SAFETY: reading into a local of that size.
            let n = unsafe {
                libc::read(
                    self.sigfd.as_raw_fd(),
                    (&mut info as *mut libc::signalfd_siginfo).cast(),
                    size,
                )
            };
            if n != size as isize {
                break;
            }
            let sig = info.ssi_signo as i32;
            if sig == libc::SIGCHLD {
                *reap = true;
            } else {
                log::debug!("received SIG{} from pid {}", signal_name(sig), info.ssi_pid);
                signals.push(sig);
            }
        }
    }

    /// Reaps every exited child; reports NoChildren when none is left.
    fn reap(&mut self) {
        loop {
            let mut status = 0;
            // SAFETY: status is a valid out-pointer.
            let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
            if pid > 0 {
                // Orphans are most of what a storm reaps: they cost one
                // waitpid each, and the supervisor only hears of its own.
                if let Some(st) = decode(status)
                    && self.sup.manages(pid)
                {
                    let acts = self
                        .sup
                        .handle(Instant::now(), Input::Reaped { pid, status: st });
                    self.execute(acts);
                }
                continue;
            }
            if pid < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD) {
                let acts = self.sup.handle(Instant::now(), Input::NoChildren);
                self.execute(acts);
            }
            break;
        }
    }

    fn execute(&mut self, actions: Vec<Action>) {
        let mut queue: VecDeque<Action> = actions.into();
        while let Some(action) = queue.pop_front() {
            let follow = match action {
                Action::Spawn(idx) => {
                    let spec = &self.sup.specs()[idx];
                    let stdin = if spec.from_command_line {
                        Stdin::Inherit
                    } else {
                        match &self.devnull {
                            Some(fd) => Stdin::Fd(fd.as_raw_fd()),
                            None => Stdin::Inherit,
                        }
                    };
                    let input = match spawn::spawn(spec, &self.base_env, stdin) {
                        Ok(pid) => Input::Spawned { idx, pid },
                        Err(e) => {
                            log::error!("{}: {}", spec.name, e.message);
                            Input::SpawnFailed {
                                idx,
                                status: e.status,
                            }
                        }
                    };
                    self.sup.handle(Instant::now(), input)
                }
                Action::SignalGroup { idx, pid, sig } => {
                    self.signal_group(idx, pid, sig);
                    Vec::new()
                }
                Action::SignalProcess { idx, pid, sig } => {
                    // SAFETY: kill with integer arguments.
                    if unsafe { libc::kill(pid, sig) } != 0 {
                        log::debug!(
                            "forwarding SIG{} to {} (pid {pid}): {}",
                            signal_name(sig),
                            self.sup.specs()[idx].name,
                            io::Error::last_os_error()
                        );
                    }
                    Vec::new()
                }
                Action::Sweep(sig) => {
                    self.sweep(sig);
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
    }

    /// `sig` to the process group, and to descendants that left it.
    fn signal_group(&self, idx: usize, pid: i32, sig: i32) {
        let name = &self.sup.specs()[idx].name;
        // SAFETY: kill with integer arguments.
        if unsafe { libc::kill(-pid, sig) } != 0 {
            // The group may be gone while the leader is a zombie, or the leader
            // may have moved to a new group itself.
            // SAFETY: as above.
            unsafe { libc::kill(pid, sig) };
        }
        for (d, pgrp) in procfs::descendants(pid) {
            if pgrp != pid {
                log::debug!(
                    "SIG{} to {d}, a descendant of {name} outside its process group",
                    signal_name(sig)
                );
                // SAFETY: as above.
                unsafe { libc::kill(d, sig) };
            }
        }
        if sig != libc::SIGKILL && sig != libc::SIGCONT {
            // A stopped process acts on the signal only once continued.
            // SAFETY: as above.
            unsafe { libc::kill(-pid, libc::SIGCONT) };
        }
    }

    /// `sig` to every process left: all of the container as PID 1, else
    /// every descendant of podinit.
    fn sweep(&self, sig: i32) {
        if self.pid1 {
            // SAFETY: kill(-1) from PID 1 reaches everything in its namespace but itself.
            unsafe {
                libc::kill(-1, sig);
                if sig != libc::SIGKILL {
                    libc::kill(-1, libc::SIGCONT);
                }
            }
            return;
        }
        // SAFETY: getpid cannot fail.
        let me = unsafe { libc::getpid() };
        for (pid, _) in procfs::descendants(me) {
            // SAFETY: kill with integer arguments.
            unsafe {
                libc::kill(pid, sig);
                if sig != libc::SIGKILL {
                    libc::kill(pid, libc::SIGCONT);
                }
            }
        }
    }
}
