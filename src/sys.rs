//! Small syscall helpers shared by the runtime and the log router.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// Where one of the child's standard fds comes from.
#[derive(Clone, Copy, Debug)]
pub enum Stdio {
    /// podinit's own (fd 0, 1 or 2 as it is).
    Inherit,
    /// This fd, dup'ed onto the standard one.
    Fd(RawFd),
}

/// The last OS error, prefixed with the call that failed.
pub fn os_err(call: &str) -> io::Error {
    let e = io::Error::last_os_error();
    io::Error::new(e.kind(), format!("{call}: {e}"))
}

/// A close-on-exec pipe whose read end is non-blocking.
pub fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0; 2];
    // SAFETY: fds is a valid array of two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(os_err("pipe2"));
    }
    // SAFETY: fresh fds from pipe2.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on an open fd.
    unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    Ok((r, w))
}

/// Whether podinit may create files in `dir` (asked with `access`).
pub fn writable_dir(dir: &std::path::Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    // SAFETY: a NUL-terminated path and a mode.
    unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) == 0 }
}

/// Why podinit could not create or append to the file `path` (its
/// directories made as needed), or None when it can. Asked with podinit's
/// own rights (`access`), so a read-only mount, a missing HOME or another
/// user's directory all show up here before the pod starts.
pub fn write_problem(path: &std::path::Path) -> Option<String> {
    use std::os::unix::ffi::OsStrExt;
    let can = |p: &std::path::Path, mode: i32| -> Result<(), io::Error> {
        let c = std::ffi::CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)?;
        // SAFETY: a NUL-terminated path and a mode.
        if unsafe { libc::access(c.as_ptr(), mode) } == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    };
    if path.exists() {
        return can(path, libc::W_OK)
            .err()
            .map(|e| format!("{} is not writable: {e}", path.display()));
    }
    // The nearest directory that exists must let us create what is below.
    let mut dir = path.parent()?;
    while !dir.exists() {
        dir = dir.parent()?;
    }
    if !dir.is_dir() {
        return Some(format!("{} is not a directory", dir.display()));
    }
    can(dir, libc::W_OK | libc::X_OK)
        .err()
        .map(|e| format!("cannot create {} in {}: {e}", path.display(), dir.display()))
}
