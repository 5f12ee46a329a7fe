//! The fast path of a spawn, for big pods: `clone(CLONE_VM | CLONE_VFORK |
//! CLONE_FILES)`, then, first thing in the child, `close_range(SLOTS.end,
//! ~0, CLOSE_RANGE_UNSHARE)`: the child gets a table of its own holding
//! only fds 0 to `SLOTS.end - 1`. A fork copies podinit's page tables and
//! its whole fd table (4 fds per process), then exec closes them all again:
//! with 2,000 processes that was most of a start's time, and it grew with
//! the pod. The sources of the child's fds are put in reserved low slots
//! first (`reserve`), and put back to `/dev/null` after.
//!
//! Falls back to fork (None) when the slots are not reserved, a spawn needs
//! more sources than there are slots, or the kernel refuses (before Linux
//! 5.9, or a seccomp filter): then for good.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use super::{ChildSetup, Failure, Pid, RawFd, Report, Stdio, child};

/// Low fds for the sources of a child's fds.
pub const SLOTS: std::ops::Range<i32> = 3..11;
const CLOSE_RANGE_UNSHARE: libc::c_uint = 1 << 1;
const STACK: usize = 64 * 1024;

static ON: AtomicBool = AtomicBool::new(false);
/// `/dev/null`, to park the slots on between spawns.
static DEVNULL: AtomicI32 = AtomicI32::new(-1);

/// Takes the slots, before podinit opens anything else (an fd podinit
/// inherited there is closed: children never get those anyway).
pub fn reserve() {
    let Ok(null) = nix::fcntl::open(
        "/dev/null",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) else {
        return;
    };
    use std::os::fd::IntoRawFd;
    let null = null.into_raw_fd();
    // SAFETY: plain fcntl/dup3 on fds podinit owns from now on.
    let parked = unsafe {
        let keep = libc::fcntl(null, libc::F_DUPFD_CLOEXEC, SLOTS.end);
        let ok = keep >= 0
            && SLOTS
                .clone()
                .all(|fd| fd == null || libc::dup3(keep, fd, libc::O_CLOEXEC) == fd);
        if null >= SLOTS.end {
            libc::close(null);
        }
        ok.then_some(keep)
    };
    if let Some(keep) = parked {
        DEVNULL.store(keep, Ordering::Relaxed);
        ON.store(true, Ordering::Relaxed);
    }
}

struct Arg {
    setup: ChildSetup,
    failure: Failure,
}

extern "C" fn entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the parent's `Arg`, alive while it is suspended
    // (CLONE_VFORK); this task writes only `failure`, and its own table.
    unsafe {
        let arg = arg.cast::<Arg>();
        let r = libc::syscall(
            libc::SYS_close_range,
            SLOTS.end as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_UNSHARE,
        );
        if r != 0 {
            // Still sharing podinit's table: touch nothing, just go.
            std::ptr::write_volatile(&raw mut (*arg).failure, Failure::NoFastPath);
            libc::_exit(127);
        }
        child(&(*arg).setup, Report::Memory(&raw mut (*arg).failure))
    }
}

/// Spawns through the fast path; None: use fork. Long on purpose: the
/// slots, the stack, the clone and the reading of the child's report are
/// one sequence over the same raw memory.
pub fn spawn(c: &ChildSetup) -> Option<Result<Pid, (i32, u8)>> {
    if !ON.load(Ordering::Relaxed) {
        return None;
    }
    // The sources, moved into the slots.
    // SAFETY: `extra_fds` points at `nextra` pairs of the caller's Vec.
    let extra = unsafe { std::slice::from_raw_parts(c.extra_fds, c.nextra) };
    let mut sources: Vec<RawFd> = c
        .stdio
        .iter()
        .filter_map(|s| match s {
            Stdio::Fd(fd) => Some(*fd),
            Stdio::Inherit => None,
        })
        .collect();
    sources.extend(extra.iter().map(|&(src, _)| src));
    if sources.len() > SLOTS.len() {
        return None;
    }
    let mut next = SLOTS.start;
    let mut failed = false;
    let mut slot_of = |fd: RawFd| -> RawFd {
        let slot = next;
        next += 1;
        // SAFETY: dup3 onto a reserved slot of ours.
        failed |= unsafe { libc::dup3(fd, slot, libc::O_CLOEXEC) } != slot;
        slot
    };
    let stdio = c.stdio.map(|s| match s {
        Stdio::Fd(fd) => Stdio::Fd(slot_of(fd)),
        Stdio::Inherit => Stdio::Inherit,
    });
    let moved: Vec<(RawFd, i32)> = extra.iter().map(|&(src, t)| (slot_of(src), t)).collect();
    let used = next;
    let null = DEVNULL.load(Ordering::Relaxed);
    let park = || {
        for slot in SLOTS.start..used {
            // SAFETY: parks the slot again on /dev/null.
            unsafe { libc::dup3(null, slot, libc::O_CLOEXEC) };
        }
    };
    if failed {
        park();
        return None; // fork copes with the fds where they are
    }
    let mut arg = Arg {
        setup: ChildSetup {
            stdio,
            extra_fds: moved.as_ptr(),
            nextra: moved.len(),
            fd_floor: c.fd_floor.max(SLOTS.end),
            ..*c
        },
        failure: Failure::None,
    };
    let mut stack = vec![0u8; STACK];
    // SAFETY: the child runs `entry` on its own stack, in podinit's
    // memory, while podinit is suspended until it execs or exits.
    let pid = unsafe {
        let top = stack.as_mut_ptr().add(STACK - 64);
        libc::clone(
            entry,
            top.cast(),
            libc::CLONE_VM | libc::CLONE_VFORK | libc::CLONE_FILES | libc::SIGCHLD,
            (&raw mut arg).cast(),
        )
    };
    park();
    if pid < 0 {
        ON.store(false, Ordering::Relaxed);
        return None;
    }
    // SAFETY: the child has exec'ed or exited: it writes no more.
    let failure = unsafe { std::ptr::read_volatile(&raw const arg.failure) };
    if failure == Failure::None {
        return Some(Ok(pid));
    }
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    match failure {
        Failure::Step(errno, step) => Some(Err((errno, step))),
        _ => {
            log::debug!("clone with a private fd table is refused here; spawning with fork");
            ON.store(false, Ordering::Relaxed);
            None
        }
    }
}
