//! fork/exec of one process: its own process group, a clean signal state,
//! stdin, environment, PATH lookup, and exec errors reported by errno.
//!
//! Boundary: turns a [`ProcSpec`] into a running child or an error with the
//! shell's status (127 not found, 126 not executable). Everything the child
//! needs is allocated before `fork`; between `fork` and `exec` the child only
//! makes async-signal-safe calls.

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::config::ProcSpec;
use crate::supervisor::{ExitStatus, Pid};

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Why a command could not be executed: the status it counts as, and a message.
#[derive(Debug)]
pub struct SpawnError {
    pub status: ExitStatus,
    pub message: String,
}

/// What the child gets as stdin.
#[derive(Clone, Copy)]
pub enum Stdin {
    /// podinit's own stdin (the `-- COMMAND` process).
    Inherit,
    /// This fd (e.g. /dev/null), dup'ed onto 0.
    Fd(RawFd),
}

/// The environment a process gets: podinit's, plus its own additions.
pub fn environment(base: &[(String, String)], extra: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = base
        .iter()
        .filter(|(k, _)| !extra.iter().any(|(e, _)| e == k))
        .cloned()
        .collect();
    env.extend(extra.iter().cloned());
    env
}

/// Finds the program as `execvp` would, but with the PATH of the process's
/// own environment. `Err` carries the status a shell would give.
pub fn resolve(program: &str, env: &[(String, String)]) -> Result<PathBuf, SpawnError> {
    let not_exec = |p: &Path, why: &str| SpawnError {
        status: ExitStatus::Code(126),
        message: format!("cannot execute {}: {why}", p.display()),
    };
    if program.contains('/') {
        let p = PathBuf::from(program);
        return match std::fs::metadata(&p) {
            Err(_) => Err(SpawnError {
                status: ExitStatus::Code(127),
                message: format!("cannot execute {program}: no such file"),
            }),
            Ok(m) if m.is_dir() => Err(not_exec(&p, "is a directory")),
            Ok(_) => Ok(p),
        };
    }
    let path = env
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str())
        .unwrap_or(DEFAULT_PATH);
    let mut denied: Option<PathBuf> = None;
    for dir in path.split(':') {
        let dir = if dir.is_empty() { "." } else { dir };
        let candidate = Path::new(dir).join(program);
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
            message: format!("cannot execute {program}: command not found in PATH ({path})"),
        }),
    }
}

fn executable(p: &Path) -> bool {
    let Ok(c) = CString::new(p.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a valid NUL-terminated path.
    unsafe { libc::access(c.as_ptr(), libc::X_OK) == 0 }
}

fn cstring(s: &str) -> CString {
    // Config validation rejects NUL bytes; strip any that slipped through.
    CString::new(s.replace('\0', "")).unwrap_or_default()
}

/// Spawns `spec` in a new process group. Returns its pid once it has
/// successfully exec'ed, or why it could not.
pub fn spawn(
    spec: &ProcSpec,
    base_env: &[(String, String)],
    stdin: Stdin,
) -> Result<Pid, SpawnError> {
    let env = environment(base_env, &spec.env);
    let path = resolve(&spec.argv[0], &env)?;
    let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| SpawnError {
        status: ExitStatus::Code(127),
        message: format!("bad path {}", path.display()),
    })?;
    let argv: Vec<CString> = spec.argv.iter().map(|a| cstring(a)).collect();
    let envp: Vec<CString> = env
        .iter()
        .map(|(k, v)| cstring(&format!("{k}={v}")))
        .collect();
    let mut argv_p: Vec<*const libc::c_char> = argv.iter().map(|a| a.as_ptr()).collect();
    argv_p.push(std::ptr::null());
    let mut envp_p: Vec<*const libc::c_char> = envp.iter().map(|a| a.as_ptr()).collect();
    envp_p.push(std::ptr::null());

    // The exec-status pipe: closes on a successful exec, carries errno otherwise.
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SpawnError {
            status: ExitStatus::Code(126),
            message: format!("pipe2 failed: {}", std::io::Error::last_os_error()),
        });
    }
    // SAFETY: pipe2 just returned these two fresh fds.
    let (rd, wr) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };

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
        unsafe {
            child(
                c_path.as_ptr(),
                argv_p.as_ptr(),
                envp_p.as_ptr(),
                stdin,
                wr.as_raw_fd(),
            )
        }
    }
    drop(wr);
    let mut buf = [0u8; 4];
    let n = loop {
        // SAFETY: reading into a local buffer of the given size.
        let n = unsafe { libc::read(rd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        break n;
    };
    if n == 4 {
        let errno = i32::from_ne_bytes(buf);
        // The child _exits right away; reap it here so it never looks like ours.
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
        let err = std::io::Error::from_raw_os_error(errno);
        let status = if errno == libc::ENOENT { 127 } else { 126 };
        return Err(SpawnError {
            status: ExitStatus::Code(status),
            message: format!("cannot execute {}: {err}", path.display()),
        });
    }
    Ok(pid)
}

/// The child between fork and exec.
///
/// # Safety
/// Only in a freshly forked child of a single-threaded parent.
unsafe fn child(
    path: *const libc::c_char,
    argv: *const *const libc::c_char,
    envp: *const *const libc::c_char,
    stdin: Stdin,
    report: RawFd,
) -> ! {
    unsafe {
        // Own process group, so that stop signals reach its whole tree.
        libc::setpgid(0, 0);
        // Dispositions and mask as a fresh process expects them: podinit blocks
        // almost everything (signalfd) and Rust ignores SIGPIPE.
        for sig in 1..=crate::config::units::SIG_MAX {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
        if let Stdin::Fd(fd) = stdin
            && fd != 0
        {
            libc::dup2(fd, 0);
        }
        libc::execve(path, argv, envp);
        let errno = *libc::__errno_location();
        let bytes = errno.to_ne_bytes();
        libc::write(report, bytes.as_ptr().cast(), bytes.len());
        libc::_exit(127);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(path: &str) -> Vec<(String, String)> {
        vec![("PATH".into(), path.into())]
    }

    #[test]
    fn resolve_finds_programs_in_the_process_path() {
        assert_eq!(
            resolve("sh", &env("/nonexistent:/bin")).unwrap(),
            PathBuf::from("/bin/sh")
        );
        let e = resolve("no-such-program-xyz", &env("/bin")).unwrap_err();
        assert_eq!(e.status, ExitStatus::Code(127));
        assert!(e.message.contains("no-such-program-xyz"), "{}", e.message);
        let e = resolve("/no/such/file", &env("/bin")).unwrap_err();
        assert_eq!(e.status, ExitStatus::Code(127));
        let e = resolve("/tmp", &env("/bin")).unwrap_err();
        assert_eq!(e.status, ExitStatus::Code(126));
    }

    #[test]
    fn environment_overrides_base() {
        let base = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
        let extra = vec![("B".into(), "3".into()), ("C".into(), "4".into())];
        let e = environment(&base, &extra);
        assert_eq!(
            e,
            vec![
                ("A".to_string(), "1".to_string()),
                ("B".to_string(), "3".to_string()),
                ("C".to_string(), "4".to_string())
            ]
        );
    }
}
