//! The epoll instance, the only place podinit waits, and its tokens.
//!
//! Ground floor: the runtime registers every fd here, under tokens of the
//! kinds it names; this file knows no kind of fd (the log router, below the
//! runtime, never calls epoll: it returns `logs::Interest` changes).

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::sys::os_err;

/// An epoll token: a kind of source (the runtime names them) in the top
/// byte, an id below.
pub fn token(kind: u64, id: u64) -> u64 {
    (kind << 56) | (id & ((1 << 56) - 1))
}

/// The epoll instance: the only place podinit waits.
///
/// Raw libc, with the three unsafe blocks below: nix's `Epoll` registers
/// `BorrowedFd`s, while the loop, the router, the probes and the control
/// server register fds they own in their own structures, by number; the
/// calls touch no memory but the event buffers passed in.
pub struct Poller {
    fd: OwnedFd,
}

impl Poller {
    pub fn new() -> io::Result<Poller> {
        // SAFETY: epoll_create1 with a flag.
        let ep = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if ep < 0 {
            return Err(os_err("epoll_create1"));
        }
        // SAFETY: a fresh fd from epoll_create1.
        Ok(Poller {
            fd: unsafe { OwnedFd::from_raw_fd(ep) },
        })
    }

    fn ctl(&self, op: i32, fd: RawFd, events: u32, tok: u64) -> io::Result<()> {
        let mut ev = libc::epoll_event { events, u64: tok };
        // SAFETY: both fds are open; ev lives across the call.
        if unsafe { libc::epoll_ctl(self.fd.as_raw_fd(), op, fd, &mut ev) } != 0 {
            return Err(os_err("epoll_ctl"));
        }
        Ok(())
    }

    pub fn add(&self, fd: RawFd, events: u32, tok: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_ADD, fd, events, tok)
    }

    pub fn modify(&self, fd: RawFd, events: u32, tok: u64) -> io::Result<()> {
        self.ctl(libc::EPOLL_CTL_MOD, fd, events, tok)
    }

    pub fn remove(&self, fd: RawFd) {
        let _ = self.ctl(libc::EPOLL_CTL_DEL, fd, 0, 0);
    }

    pub fn wait(&self, events: &mut [libc::epoll_event], timeout_ms: i32) -> usize {
        // SAFETY: events is a valid buffer of the given length.
        let n = unsafe {
            libc::epoll_wait(
                self.fd.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                timeout_ms,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                log::error!("epoll_wait: {e}");
            }
            return 0;
        }
        n as usize
    }
}

/// The kind and the id of a token.
pub fn split(tok: u64) -> (u64, u64) {
    (tok >> 56, tok & ((1 << 56) - 1))
}
