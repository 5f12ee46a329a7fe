//! Small syscall helpers shared by the runtime and the log router.

use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::unistd::AccessFlags;

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
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| nix_err("pipe2", e))?;
    set_nonblocking(r.as_raw_fd(), true);
    Ok((r, w))
}

/// Sets or clears O_NONBLOCK on an open fd (of its file description).
pub fn set_nonblocking(fd: RawFd, on: bool) {
    if let Ok(fl) = fcntl(fd, FcntlArg::F_GETFL) {
        let mut fl = OFlag::from_bits_retain(fl);
        fl.set(OFlag::O_NONBLOCK, on);
        let _ = fcntl(fd, FcntlArg::F_SETFL(fl));
    }
}

/// A nix error as an io::Error naming the call.
pub fn nix_err(call: &str, e: nix::errno::Errno) -> io::Error {
    let e = io::Error::from(e);
    io::Error::new(e.kind(), format!("{call}: {e}"))
}

/// `kill(pid, sig)` for any signal number, real-time ones included (nix's
/// `Signal` has no real-time signals, and stop signals may be `RTMIN+N`).
/// A negative pid is a process group, -1 everything but PID 1 itself.
pub fn kill(pid: i32, sig: i32) -> io::Result<()> {
    // SAFETY: kill takes two integers and touches no memory.
    if unsafe { libc::kill(pid, sig) } == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// podinit's effective uid.
pub fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Whether podinit may create files in `dir` (asked with `access`).
pub fn writable_dir(dir: &std::path::Path) -> bool {
    nix::unistd::access(dir, AccessFlags::W_OK | AccessFlags::X_OK).is_ok()
}

/// Why podinit could not create or append to the file `path` (its
/// directories made as needed), or None when it can. Asked with podinit's
/// own rights (`access`), so a read-only mount, a missing HOME or another
/// user's directory all show up here before the pod starts.
pub fn write_problem(path: &std::path::Path) -> Option<String> {
    let can = |p: &std::path::Path, mode: AccessFlags| -> Result<(), io::Error> {
        nix::unistd::access(p, mode).map_err(io::Error::from)
    };
    if path.exists() {
        return can(path, AccessFlags::W_OK)
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
    can(dir, AccessFlags::W_OK | AccessFlags::X_OK)
        .err()
        .map(|e| format!("cannot create {} in {}: {e}", path.display(), dir.display()))
}

/// The offset from UTC, in seconds, of local time at `t` (Unix seconds):
/// the C library's answer from `TZ` and the zone files (UTC without them).
/// The zone of cron `schedule`s.
pub fn utc_offset(t: i64) -> i32 {
    // SAFETY: localtime_r writes only into `tm`, which we own; a null
    // return (a time out of range) leaves the offset at 0.
    unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        let tt: libc::time_t = t;
        if libc::localtime_r(&tt, &mut tm).is_null() {
            return 0;
        }
        tm.tm_gmtoff as i32
    }
}

/// The wall clock, in milliseconds since the epoch.
pub fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Gives the heap's free pages back to the system (after the start and a
/// reload, whose parsing and set-up leave much of it free).
pub fn trim_heap() {
    // SAFETY: malloc_trim only releases memory malloc holds free.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Limits of the files podinit reads on the loop's thread (RELIABILITY.md,
/// "Files podinit reads"): a config file or drop-in, an `env_file`,
/// `/etc/passwd` and `/etc/group`.
pub const MAX_CONFIG_FILE: u64 = 4 << 20;
pub const MAX_ENV_FILE: u64 = 1 << 20;
pub const MAX_ACCOUNTS_FILE: u64 = 16 << 20;
/// A `${file:…}` secret: the kernel's limit for one environment string
/// (MAX_ARG_STRLEN, 32 pages), so a larger one could never be passed.
pub const MAX_SECRET: u64 = 128 << 10;

/// Reads a whole file without ever blocking and within `max` bytes: it is
/// opened non-blocking (a FIFO's open returns at once), refused unless it
/// is a regular file, and refused when longer than `max` (nothing is
/// allocated beyond `max + 1` bytes). The error says which rule failed.
pub fn read_bounded(path: &std::path::Path, max: u64) -> io::Result<(Vec<u8>, std::fs::Metadata)> {
    use std::io::Read;
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let kind = if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_dir() {
            "a directory"
        } else if ft.is_socket() {
            "a socket"
        } else if ft.is_char_device() || ft.is_block_device() {
            "a device"
        } else {
            "not a regular file"
        };
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("it is {kind}, not a regular file; podinit reads only regular files"),
        ));
    }
    let too_big = || {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("it is larger than the limit of {}", human_size(max)),
        )
    };
    if meta.len() > max {
        return Err(too_big());
    }
    let mut out = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut out)?;
    if out.len() as u64 > max {
        return Err(too_big());
    }
    Ok((out, meta))
}

/// `n` bytes as the config writes sizes (`128 KiB`, `4 MiB`).
pub fn human_size(n: u64) -> String {
    match n {
        n if n >= 1 << 20 && n % (1 << 20) == 0 => format!("{} MiB", n >> 20),
        n if n >= 1 << 10 && n % (1 << 10) == 0 => format!("{} KiB", n >> 10),
        n => format!("{n} bytes"),
    }
}

/// Whether a config file, drop-in directory or `env_file` may be trusted
/// as podinit's own: owned by root or podinit's user, and writable by no
/// one else (group-writable only for group 0 or podinit's own group, the
/// OpenShift arrangement; a world-writable directory only with the sticky
/// bit, where each file's own owner is then checked). sshd's StrictModes,
/// sudoers' rule. The reason when not, naming the owner and the mode.
pub fn untrusted(meta: &std::fs::Metadata) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let (uid, gid, mode) = (meta.uid(), meta.gid(), meta.mode());
    let me = euid();
    let my_gid = nix::unistd::getegid().as_raw();
    let what = format!("owner uid {uid}, group {gid}, mode {:04o}", mode & 0o7777);
    if uid != 0 && uid != me {
        return Some(format!(
            "{what}: owned by a user other than root and podinit's own (uid {me})"
        ));
    }
    if mode & 0o020 != 0 && gid != 0 && gid != my_gid {
        return Some(format!("{what}: writable by group {gid}"));
    }
    let sticky_dir = meta.is_dir() && mode & 0o1000 != 0;
    if mode & 0o002 != 0 && !sticky_dir {
        return Some(format!("{what}: writable by every user"));
    }
    None
}

thread_local! {
    /// An fd kept open to be given up when the fd limit is reached, so a
    /// server can accept a connection and close it rather than leave it in
    /// the backlog (where the listener stays readable and the loop spins).
    static SPARE_FD: std::cell::RefCell<Option<OwnedFd>> = const { std::cell::RefCell::new(None) };
}

/// Opens the spare fd (once, at the runtime's start).
pub fn reserve_spare_fd() {
    SPARE_FD.with(|s| {
        if s.borrow().is_none() {
            *s.borrow_mut() = std::fs::File::open("/dev/null").ok().map(OwnedFd::from);
        }
    });
}

/// Runs `f` with the spare fd closed, then takes it back. False when there
/// was none to give up.
pub fn with_spare_fd(f: &mut dyn FnMut()) -> bool {
    let had = SPARE_FD.with(|s| s.borrow_mut().take()).is_some();
    if had {
        f();
        reserve_spare_fd();
    }
    had
}

/// Parses an env file: `KEY=value` lines, `#` comments, blank lines, an
/// optional `export ` prefix, and values in matching single or double quotes.
pub fn parse_env_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").unwrap_or(line);
        let (k, v) = line
            .split_once('=')
            .ok_or_else(|| format!("line {}: expected KEY=value", n + 1))?;
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(format!("line {}: bad variable name {k:?}", n + 1));
        }
        let v = v.trim();
        let v = if v.len() >= 2
            && ((v.starts_with('"') && v.ends_with('"'))
                || (v.starts_with('\'') && v.ends_with('\'')))
        {
            &v[1..v.len() - 1]
        } else {
            v
        };
        out.push((k.to_string(), v.replace('\0', "")));
    }
    Ok(out)
}
