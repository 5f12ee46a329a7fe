//! fork/exec of one process: its own process group, a clean signal state,
//! stdin, environment, PATH lookup, and exec errors reported by errno.
//!
//! Boundary: turns a [`ProcSpec`] into a running child or an error with the
//! shell's status (127 not found, 126 not executable). Everything the child
//! needs is allocated before `fork`; between `fork` and `exec` the child only
//! makes async-signal-safe calls.

mod fast;
mod limits;

use std::ffi::{CString, OsStr, OsString};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::config::ProcSpec;
use crate::supervisor::{ExitStatus, Pid};
use crate::sys;
pub use crate::sys::Stdio;
use std::os::unix::ffi::OsStringExt;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a command could not be executed: the status it counts as, and a message.
#[derive(Debug)]
pub struct SpawnError {
    pub status: ExitStatus,
    pub message: String,
}

/// Everything about a spawn that is not in the process's spec.
pub struct Setup {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
    /// (fd in podinit, fd number in the child), e.g. a notify_fd pipe.
    pub extra_fds: Vec<(RawFd, i32)>,
    /// Variables set after the process's own (e.g. NOTIFY_SOCKET).
    pub extra_env: Vec<(OsString, OsString)>,
    /// Make the child's process group the foreground of the terminal on
    /// its stdin (the `-- COMMAND` process when podinit runs interactively).
    pub foreground: bool,
    /// Set `WATCHDOG_PID` to the child's own pid (known only after fork).
    pub watchdog_pid: bool,
    /// Set `LISTEN_PID` to the child's own pid (socket activation).
    pub listen_pid: bool,
    /// The `cgroup.procs` of the process's own cgroup: the child joins it
    /// before exec, so nothing it starts is outside.
    pub cgroup: Option<std::ffi::CString>,
}

impl Setup {
    pub fn new(stdin: Stdio) -> Setup {
        Setup {
            stdin,
            stdout: Stdio::Inherit,
            stderr: Stdio::Inherit,
            extra_fds: Vec::new(),
            extra_env: Vec::new(),
            foreground: false,
            watchdog_pid: false,
            listen_pid: false,
            cgroup: None,
        }
    }
}

/// The step of the child that failed, reported with its errno.
const STEP_EXEC: u8 = 0;
const STEP_GROUPS: u8 = 1;
const STEP_GID: u8 = 2;
const STEP_UID: u8 = 3;
const STEP_CHDIR: u8 = 4;
const STEP_FDS: u8 = 5;
const STEP_CGROUP: u8 = 11;

/// A failed start that is not the command's fault: 126, naming the key.
fn setup_error(_spec: &ProcSpec, key: &str, msg: impl std::fmt::Display) -> SpawnError {
    SpawnError {
        status: ExitStatus::Code(126),
        message: format!("cannot start: {key}: {msg}"),
    }
}

/// An `env` value with its `${file:PATH}` secrets read, each file's
/// trailing newline stripped, as bytes (a secret need not be text). Read
/// at each start, by podinit as its own user, without blocking and within
/// the kernel's 128 KiB for one environment string; an unreadable,
/// non-regular or larger file fails the start (126) naming the key.
fn with_secrets(spec: &ProcSpec, key: &str, value: &str) -> Result<OsString, SpawnError> {
    use crate::config::units::{Piece, has_secret, secret_pieces};
    if !has_secret(value) {
        return Ok(value.into());
    }
    let mut out: Vec<u8> = Vec::new();
    for piece in secret_pieces(value) {
        match piece {
            Piece::Text(t) => out.extend_from_slice(t.as_bytes()),
            Piece::File(path) => {
                let bad = |msg: String| setup_error(spec, &format!("env.{key}"), msg);
                let (bytes, _) = sys::read_bounded(Path::new(path), sys::MAX_SECRET)
                    .map_err(|e| bad(format!("cannot read the secret {path}: {e}")))?;
                let text = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.contains(&0) {
                    return Err(bad(format!("the secret {path} holds a NUL byte")));
                }
                out.extend_from_slice(text);
            }
        }
    }
    if out.len() + key.len() + 2 > sys::MAX_SECRET as usize {
        return Err(setup_error(
            spec,
            &format!("env.{key}"),
            format!(
                "the value is {} bytes with its secrets; one environment string may hold at most {}",
                out.len(),
                sys::human_size(sys::MAX_SECRET)
            ),
        ));
    }
    Ok(OsString::from_vec(out))
}

/// An `env_file`: read as config files are (regular, at most 1 MiB, never
/// blocking) and refused when someone else could write it (it can set
/// `LD_PRELOAD` or `PATH` for a root process), unless
/// `PODINIT_ALLOW_UNTRUSTED_CONFIG` says otherwise.
fn read_env_file(spec: &ProcSpec, path: &str) -> Result<Vec<(OsString, OsString)>, SpawnError> {
    let bad = |msg: String| setup_error(spec, "env_file", msg);
    let (bytes, meta) = sys::read_bounded(Path::new(path), sys::MAX_ENV_FILE)
        .map_err(|e| bad(format!("cannot read {path}: {e}")))?;
    let allowed = std::env::var_os("PODINIT_ALLOW_UNTRUSTED_CONFIG")
        .is_some_and(|v| !v.is_empty() && v != "0");
    if let Some(why) = sys::untrusted(&meta).filter(|_| !allowed) {
        return Err(bad(format!(
            "{path}: refused: {why}; fix its owner or mode, or set PODINIT_ALLOW_UNTRUSTED_CONFIG=1"
        )));
    }
    let text = String::from_utf8(bytes).map_err(|_| bad(format!("{path}: not UTF-8 text")))?;
    let vars = crate::sys::parse_env_file(&text).map_err(|e| bad(format!("{path}: {e}")))?;
    Ok(vars
        .into_iter()
        .map(|(k, v)| (k.into(), v.into()))
        .collect())
}

/// An environment: names and values as bytes, exactly as podinit got them
/// (neither has to be UTF-8).
pub type Env = Vec<(OsString, OsString)>;

/// The environment a process gets: podinit's, plus its own additions;
/// of a name given twice the last one counts (`env` over `env_file`), and
/// only it is passed (getenv would find the first).
pub fn environment(base: &[(OsString, OsString)], extra: &[(OsString, OsString)]) -> Env {
    let mut env: Env = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    for (i, (k, v)) in extra.iter().enumerate() {
        if !extra[i + 1..].iter().any(|(later, _)| later == k) {
            env.push((k.clone(), v.clone()));
        }
    }
    env
}

/// Finds the program as `execvp` would, but with the PATH of the process's
/// own environment. `Err` carries the status a shell would give.
pub fn resolve(program: &OsStr, env: &[(OsString, OsString)]) -> Result<PathBuf, SpawnError> {
    let not_exec = |p: &Path, why: &str| SpawnError {
        status: ExitStatus::Code(126),
        message: format!("cannot execute {}: {why}", p.display()),
    };
    let shown = program.to_string_lossy();
    if program.as_bytes().contains(&b'/') {
        let p = PathBuf::from(program);
        return match std::fs::metadata(&p) {
            Err(_) => Err(SpawnError {
                status: ExitStatus::Code(127),
                message: format!("cannot execute {shown}: no such file"),
            }),
            Ok(m) if m.is_dir() => Err(not_exec(&p, "is a directory")),
            Ok(_) => Ok(p),
        };
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_bytes())
        .unwrap_or(DEFAULT_PATH.as_bytes());
    let mut denied: Option<PathBuf> = None;
    for dir in path.split(|&b| b == b':') {
        let dir = if dir.is_empty() { b"." } else { dir };
        let candidate = Path::new(OsStr::from_bytes(dir)).join(program);
        let Ok(meta) = std::fs::metadata(&candidate) else {
            continue;
        };
        if meta.is_dir() {
            continue;
        }
        if executable(&candidate) {
            return Ok(candidate);
        }
        denied.get_or_insert(candidate);
    }
    match denied {
        Some(p) => Err(not_exec(&p, "permission denied")),
        None => Err(SpawnError {
            status: ExitStatus::Code(127),
            message: format!(
                "cannot execute {shown}: command not found in PATH ({})",
                String::from_utf8_lossy(path)
            ),
        }),
    }
}

fn executable(p: &Path) -> bool {
    nix::unistd::access(p, nix::unistd::AccessFlags::X_OK).is_ok()
}

fn cstring(s: &[u8]) -> CString {
    // Config validation rejects NUL bytes (and the kernel hands none to
    // podinit); strip any that slipped through.
    CString::new(s.iter().copied().filter(|&b| b != 0).collect::<Vec<u8>>()).unwrap_or_default()
}

/// `KEY=value` as the kernel takes it.
fn env_entry(k: &OsStr, v: &OsStr) -> CString {
    let mut b = Vec::with_capacity(k.len() + v.len() + 1);
    b.extend_from_slice(k.as_bytes());
    b.push(b'=');
    b.extend_from_slice(v.as_bytes());
    cstring(&b)
}

/// Spawns `spec` in a new process group. Returns its pid once it has
/// successfully exec'ed, or why it could not (as a status and a message).
/// Long on purpose: everything the child needs is built here, before the
/// fork, in the order the child uses it (nothing may allocate after).
pub fn spawn(
    spec: &ProcSpec,
    base_env: &[(OsString, OsString)],
    setup: &Setup,
) -> Result<Pid, SpawnError> {
    let (identity, mut extra) = identity_of(spec)?;
    if let Some(path) = &spec.env_file {
        extra.extend(read_env_file(spec, path)?);
    }
    for (k, v) in &spec.env {
        extra.push((k.into(), with_secrets(spec, k, v)?));
    }
    extra.extend(setup.extra_env.iter().cloned());
    let env = environment(base_env, &extra);
    let path = resolve(&spec.argv[0], &env)?;
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| SpawnError {
        status: ExitStatus::Code(127),
        message: format!("bad path {}", path.display()),
    })?;
    let cwd = match &spec.working_dir {
        Some(d) => Some(
            CString::new(d.as_bytes()).map_err(|_| setup_error(spec, "working_dir", "bad path"))?,
        ),
        None => None,
    };
    let argv: Vec<CString> = spec.argv.iter().map(|a| cstring(a.as_bytes())).collect();
    let mut envp: Vec<CString> = env.iter().map(|(k, v)| env_entry(k, v)).collect();
    // Room for the child to write its own pid into (`WATCHDOG_PID=`,
    // `LISTEN_PID=`), at the end of the environment.
    let mut pid_vars = 0;
    for (wanted, var) in [
        (setup.watchdog_pid, "WATCHDOG_PID=0000000000"),
        (setup.listen_pid, "LISTEN_PID=0000000000"),
    ] {
        if wanted {
            // podinit's own (it may be socket-activated itself) must not shadow it.
            let name = &var.as_bytes()[..=var.find('=').unwrap_or(0)];
            envp.retain(|e| !e.as_bytes().starts_with(name));
            envp.push(CString::new(var).unwrap_or_default());
            pid_vars += 1;
        }
    }
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());
    // Sources are moved above every target fd before the dup2s.
    let highest_target = setup.extra_fds.iter().map(|&(_, t)| t).fold(2, i32::max);
    let child_setup = ChildSetup {
        path: c_path.as_ptr(),
        argv: argv_p.as_ptr(),
        envp: envp_p.as_ptr(),
        cwd: cwd.as_ref().map_or(std::ptr::null(), |c| c.as_ptr()),
        identity: identity.as_ref().map(|i| (i.uid, i.gid)),
        groups: identity
            .as_ref()
            .map_or(std::ptr::null(), |i| i.groups.as_ptr()),
        ngroups: identity.as_ref().map_or(0, |i| i.groups.len()),
        umask: spec.umask,
        stdio: [setup.stdin, setup.stdout, setup.stderr],
        extra_fds: setup.extra_fds.as_ptr(),
        nextra: setup.extra_fds.len(),
        fd_floor: highest_target + 1,
        nofile: original_fd_limit(),
        foreground: setup.foreground,
        pid_vars: {
            let mut at = [std::ptr::null_mut(); 2];
            for (k, c) in envp[envp.len() - pid_vars..].iter().enumerate() {
                at[k] = c.as_ptr() as *mut libc::c_char;
            }
            at
        },
        no_new_privs: spec.no_new_privs
            || limits::ChildLimits::forces_no_new_privs(&spec.resources),
        ignored: ignored_signals(),
        limits: limits::ChildLimits::new(&spec.resources),
        cgroup: setup
            .cgroup
            .as_ref()
            .map_or(std::ptr::null(), |c| c.as_ptr()),
    };

    let started = match fast::spawn(&child_setup) {
        Some(r) => r,
        None => fork_exec(&child_setup)?,
    };
    match started {
        Ok(pid) => Ok(pid),
        Err((errno, step)) => Err(child_failure(spec, &path, errno, step)),
    }
}

/// Forks; the child sets itself up and execs. Ok(pid) once it has exec'ed,
/// or the child's (errno, step) when it could not.
fn fork_exec(child_setup: &ChildSetup) -> Result<Result<Pid, (i32, u8)>, SpawnError> {
    // The exec-status pipe: closes on a successful exec, carries errno otherwise.
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| SpawnError {
        status: ExitStatus::Code(126),
        message: format!("pipe2 failed: {e}"),
    })?;

    // SAFETY: podinit is single-threaded; the child only calls
    // async-signal-safe functions on memory prepared above, then execs or _exits.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        let e = std::io::Error::last_os_error();
        return Err(SpawnError {
            status: ExitStatus::Code(126),
            message: format!("fork failed: {e}"),
        });
    }
    if pid == 0 {
        // SAFETY: in the child, see above.
        unsafe { child(child_setup, Report::Pipe(wr.as_raw_fd())) }
    }
    drop(wr);
    let mut buf = [0u8; 5];
    let mut got = 0;
    while got < buf.len() {
        match nix::unistd::read(rd.as_raw_fd(), &mut buf[got..]) {
            Err(nix::errno::Errno::EINTR) => continue,
            Ok(n) if n > 0 => got += n,
            _ => break,
        }
    }
    if got == 0 {
        return Ok(Ok(pid));
    }
    // The child _exits right away; reap it here so it never looks like ours.
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    Ok(Err((
        i32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]),
        buf[4],
    )))
}

/// The identity to switch to (None: none, or it is podinit's own already)
/// and the login variables it brings (`USER`, `LOGNAME`, `HOME`).
fn identity_of(spec: &ProcSpec) -> Result<(Option<crate::users::Identity>, Env), SpawnError> {
    let mut vars: Env = Vec::new();
    if spec.user.is_none() && spec.group.is_none() {
        return Ok((None, vars));
    }
    let key = if spec.user.is_some() { "user" } else { "group" };
    let id = crate::users::lookup(spec.user.as_deref(), spec.group.as_deref())
        .map_err(|e| setup_error(spec, if e.contains("group") { "group" } else { "user" }, e))?;
    if let Some(name) = &id.name {
        vars.push(("USER".into(), name.into()));
        vars.push(("LOGNAME".into(), name.into()));
    }
    if let Some(home) = &id.home {
        vars.push(("HOME".into(), home.into()));
    }
    match crate::users::switch_needed(&id) {
        Ok(needed) => Ok((needed.then_some(id), vars)),
        Err(why) => Err(setup_error(spec, key, why)),
    }
}

/// What the child reported (errno, step) as the start's error.
fn child_failure(spec: &ProcSpec, path: &Path, errno: i32, step: u8) -> SpawnError {
    let err = std::io::Error::from_raw_os_error(errno);
    match step {
        STEP_EXEC => SpawnError {
            status: ExitStatus::Code(if errno == libc::ENOENT { 127 } else { 126 }),
            message: format!("cannot execute {}: {err}", path.display()),
        },
        STEP_CHDIR => setup_error(
            spec,
            "working_dir",
            format!(
                "cannot change to {}: {err}",
                spec.working_dir.as_deref().unwrap_or("")
            ),
        ),
        STEP_GROUPS => setup_error(spec, "user", format!("setgroups: {err}")),
        STEP_GID => setup_error(spec, "group", format!("setgid: {err}")),
        STEP_UID => setup_error(spec, "user", format!("setuid: {err}")),
        STEP_CGROUP => setup_error(spec, "cgroups", format!("joining its cgroup: {err}")),
        s => match limits::failed_step(&spec.resources, s) {
            Some((key, call)) => setup_error(spec, &key, format!("{call}: {err}")),
            None => setup_error(spec, "command", format!("setting up fds: {err}")),
        },
    }
}

/// What the child needs, as raw pointers into memory the parent keeps alive.
/// How the child reports a failed step: a pipe (fork), or memory it
/// shares with podinit (the fast path).
#[derive(Clone, Copy)]
enum Report {
    Pipe(RawFd),
    Memory(*mut Failure),
}

/// What a child of the fast path left in shared memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Failure {
    /// Nothing: it exec'ed.
    None,
    /// The kernel refused the fd table of its own: fork instead.
    NoFastPath,
    Step(i32, u8),
}

#[derive(Clone, Copy)]
struct ChildSetup {
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    cwd: *const libc::c_char,
    identity: Option<(u32, u32)>,
    groups: *const u32,
    ngroups: usize,
    umask: Option<u32>,
    stdio: [Stdio; 3],
    extra_fds: *const (RawFd, i32),
    nextra: usize,
    /// The lowest fd a source may be moved to (above every target).
    fd_floor: i32,
    /// The fd limit podinit was started with, restored for the child.
    nofile: Option<libc::rlimit>,
    foreground: bool,
    /// `WATCHDOG_PID=0000000000`, `LISTEN_PID=0000000000` in the child's
    /// copy of the environment, to be filled with its pid (null: none).
    pid_vars: [*mut libc::c_char; 2],
    no_new_privs: bool,
    /// Signals podinit ignores, bit N-1 for signal N.
    ignored: u64,
    /// Rlimits, scores, affinity, capabilities.
    limits: limits::ChildLimits,
    /// Its cgroup's `cgroup.procs` (null: none).
    cgroup: *const libc::c_char,
}

/// The kernel's `struct sigaction` as `rt_sigaction(2)` takes it. Raw,
/// because glibc's wrappers refuse signals 32 and 33 (its own), which a
/// parent may still have left ignored. All zeroes is SIG_DFL, no flags,
/// an empty mask.
#[repr(C)]
#[derive(Default)]
struct KernelSigaction {
    handler: usize,
    flags: libc::c_ulong,
    restorer: usize,
    mask: u64,
}

const SIGSET_BYTES: usize = 8;

/// Signals whose disposition is SIG_IGN in podinit (inherited from its
/// parent, e.g. under nohup, or Rust's SIGPIPE), as a bit mask. exec keeps
/// SIG_IGN but resets handlers, so these are all a child must reset. Asked
/// once: podinit itself never ignores a signal after start.
fn ignored_signals() -> u64 {
    static IGNORED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *IGNORED.get_or_init(|| {
        let mut mask = 0u64;
        for sig in 1..=crate::config::units::SIG_MAX {
            let mut old = KernelSigaction::default();
            // SAFETY: a query (no new action) into a struct of the kernel's layout.
            let r = unsafe {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    std::ptr::null::<KernelSigaction>(),
                    &mut old as *mut KernelSigaction,
                    SIGSET_BYTES,
                )
            };
            if r == 0 && old.handler == libc::SIG_IGN {
                mask |= 1 << (sig - 1);
            }
        }
        mask
    })
}

/// The child between fork and exec.
///
/// One screen and a half on purpose: a single straight sequence of
/// async-signal-safe calls whose order is the point (process group, signal
/// state, fds, limits, identity, directory, umask, exec); split into
/// functions, the order would be harder to check.
///
/// # Safety
/// Only in a freshly forked child of a single-threaded parent.
unsafe fn child(c: &ChildSetup, report: Report) -> ! {
    unsafe {
        let fail = |step: u8| -> ! {
            let errno = *libc::__errno_location();
            match report {
                Report::Pipe(fd) => {
                    let mut msg = [0u8; 5];
                    msg[..4].copy_from_slice(&errno.to_ne_bytes());
                    msg[4] = step;
                    libc::write(fd, msg.as_ptr().cast(), msg.len());
                }
                // Shared memory (CLONE_VM): the parent reads it once we are gone.
                Report::Memory(at) => std::ptr::write_volatile(at, Failure::Step(errno, step)),
            }
            libc::_exit(127);
        };
        // Own process group, so that stop signals reach its whole tree.
        libc::setpgid(0, 0);
        for var in c.pid_vars.iter().filter(|v| !v.is_null()) {
            // The child's own copy of the buffer: digits after the '='.
            let mut pid = libc::getpid() as u32;
            let mut digits = *var;
            while *digits != b'=' as libc::c_char {
                digits = digits.add(1);
            }
            let digits = digits.add(1);
            let mut tmp = [0u8; 10];
            let mut n = 0;
            loop {
                tmp[n] = b'0' + (pid % 10) as u8;
                n += 1;
                pid /= 10;
                if pid == 0 || n == tmp.len() {
                    break;
                }
            }
            for i in 0..n {
                *digits.add(i) = tmp[n - 1 - i] as libc::c_char;
            }
            *digits.add(n) = 0;
        }
        if c.foreground {
            // Still with podinit's mask, so SIGTTOU (blocked) cannot stop us.
            libc::tcsetpgrp(0, libc::getpid());
        }
        // Dispositions and mask as a fresh process expects them: podinit blocks
        // almost everything (signalfd), Rust ignores SIGPIPE, and podinit's
        // parent may have left signals ignored. Handlers reset themselves at
        // exec; ignored signals do not.
        let dfl = KernelSigaction::default(); // handler 0 is SIG_DFL
        for sig in 1..=crate::config::units::SIG_MAX {
            if c.ignored & (1 << (sig - 1)) != 0 {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    &dfl as *const KernelSigaction,
                    std::ptr::null_mut::<KernelSigaction>(),
                    SIGSET_BYTES,
                );
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        // Move every source fd above the highest target first, so that no
        // dup2 below overwrites a source that is still needed.
        let mut sources = [-1; 3];
        for (i, s) in c.stdio.iter().enumerate() {
            if let Stdio::Fd(fd) = s {
                sources[i] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, c.fd_floor);
                if sources[i] < 0 {
                    fail(STEP_FDS);
                }
            }
        }
        let extra = std::slice::from_raw_parts(c.extra_fds, c.nextra);
        let mut moved = [-1; 8];
        for (i, (src, _)) in extra.iter().take(moved.len()).enumerate() {
            moved[i] = libc::fcntl(*src, libc::F_DUPFD_CLOEXEC, c.fd_floor);
            if moved[i] < 0 {
                fail(STEP_FDS);
            }
        }
        for (target, src) in sources.iter().enumerate() {
            if *src >= 0 {
                if libc::dup2(*src, target as i32) < 0 {
                    fail(STEP_FDS);
                }
                // Each run starts with blocking stdio, whatever an earlier
                // run set on the shared pipe (Node and libuv set O_NONBLOCK).
                let fl = libc::fcntl(target as i32, libc::F_GETFL);
                if fl >= 0 && fl & libc::O_NONBLOCK != 0 {
                    libc::fcntl(target as i32, libc::F_SETFL, fl & !libc::O_NONBLOCK);
                }
            }
        }
        for (i, (_, target)) in extra.iter().take(moved.len()).enumerate() {
            if libc::dup2(moved[i], *target) < 0 {
                fail(STEP_FDS);
            }
        }
        // The limits podinit was started with (it raised its own soft
        // limit); lowering it below fds already open is allowed.
        if let Some(lim) = &c.nofile {
            libc::setrlimit(libc::RLIMIT_NOFILE, lim);
        }
        // Its own cgroup ("0": the writer itself), while podinit's rights
        // are still there.
        if !c.cgroup.is_null() {
            let fd = libc::open(c.cgroup, libc::O_WRONLY | libc::O_CLOEXEC);
            if fd < 0 || libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                fail(STEP_CGROUP);
            }
            libc::close(fd);
        }
        // The process's own limits, scores and bounding set, while podinit's
        // privileges are still there.
        if let Err(step) = c.limits.before_identity(c.identity.is_some()) {
            fail(step);
        }
        if let Some((uid, gid)) = c.identity {
            // Raw system calls: this task only (glibc's wrappers may try to
            // reach other threads, and the memory here is podinit's).
            if libc::syscall(libc::SYS_setgroups, c.ngroups, c.groups) != 0 {
                fail(STEP_GROUPS);
            }
            if libc::syscall(libc::SYS_setgid, gid) != 0 {
                fail(STEP_GID);
            }
            if libc::syscall(libc::SYS_setuid, uid) != 0 {
                fail(STEP_UID);
            }
        }
        if let Err(step) = c.limits.after_identity() {
            fail(step);
        }
        // After the switch, so the directory is checked with the user's rights.
        if !c.cwd.is_null() && libc::chdir(c.cwd) != 0 {
            fail(STEP_CHDIR);
        }
        if let Some(m) = c.umask {
            libc::umask(m as libc::mode_t);
        }
        if c.no_new_privs && libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            fail(STEP_FDS);
        }
        libc::execve(c.path, c.argv, c.envp);
        fail(STEP_EXEC);
    }
}

/// The RLIMIT_NOFILE podinit was started with, when it raised its own.
static ORIGINAL_NOFILE: std::sync::OnceLock<libc::rlimit> = std::sync::OnceLock::new();

fn original_fd_limit() -> Option<libc::rlimit> {
    ORIGINAL_NOFILE.get().copied()
}

/// Raises podinit's own soft fd limit to the hard limit: it holds a few fds
/// per process (pipes, probes, clients), so a big pod needs more than a
/// login shell's 1,024. Every child gets the limits podinit was started
/// with back before exec. Returns (old soft, new soft) when it changed.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard {
        return None;
    }
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard).ok()?;
    let _ = ORIGINAL_NOFILE.set(libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    });
    Some((soft, hard))
}

/// Reserves what the fast spawn needs (see `fast`): call before podinit
/// opens anything else.
pub fn prepare() {
    // A test hook of debug builds only: the fork path, as on a kernel that
    // refuses the fast one.
    #[cfg(debug_assertions)]
    if std::env::var_os("PODINIT_TEST_FORK").is_some() {
        return;
    }
    fast::reserve();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(path: &str) -> Env {
        vec![("PATH".into(), path.into())]
    }

    #[test]
    fn resolve_finds_programs_in_the_process_path() {
        assert_eq!(
            resolve("sh".as_ref(), &env("/nonexistent:/bin")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = resolve("no-such-program-xyz".as_ref(), &env("/bin")).unwrap_err();
        assert_eq!(e.status, ExitStatus::Code(127));
        assert!(e.message.contains("no-such-program-xyz"), "{}", e.message);
        let e = resolve("/no/such/file".as_ref(), &env("/bin")).unwrap_err();
        assert_eq!(e.status, ExitStatus::Code(127));
        let e = resolve("/tmp".as_ref(), &env("/bin")).unwrap_err();
        assert_eq!(e.status, ExitStatus::Code(126));
    }

    #[test]
    fn environment_overrides_base() {
        let base: Env = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
        let extra: Env = vec![("B".into(), "3".into()), ("C".into(), "4".into())];
        let e = environment(&base, &extra);
        let want: Env = vec![
            ("A".into(), "1".into()),
            ("B".into(), "3".into()),
            ("C".into(), "4".into()),
        ];
        assert_eq!(e, want);
    }
}
