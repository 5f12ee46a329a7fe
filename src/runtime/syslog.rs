//! The `/dev/log` receiver (`[podinit] syslog`): a Unix datagram socket
//! whose messages become lines of the `syslog` log source.
//!
//! Bounded: each message goes at once to the router's sink of the source
//! (`Router::push_source`) while that sink's queue is under its bound (1
//! MiB); a message that does not fit is dropped and counted, never queued
//! elsewhere in podinit's memory. A datagram
//! sender gets no backpressure from podinit (a blocked `syslog(3)` would
//! hang the program that calls it); the drops are reported in podinit's
//! log as soon as a message gets through again, and at exit.

use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::time::SystemTime;

use crate::logs::Router;
use crate::logs::format::rfc3339;
use crate::logs::syslog::{format, parse};

/// Messages read per readiness event, so a flood cannot starve the loop.
const BATCH: usize = 256;
/// The longest message kept whole (longer ones are cut).
const MAX_MESSAGE: usize = 64 * 1024;

pub struct Receiver {
    sock: UnixDatagram,
    path: String,
    /// The source's stream in the router (None: `stdout = "null"`, read
    /// and dropped).
    out: Option<usize>,
    json: bool,
    /// Messages dropped so far, and how many of them were reported.
    pub dropped: u64,
    reported: u64,
    buf: Vec<u8>,
    line: Vec<u8>,
}

impl Receiver {
    /// Binds `path`: a stale socket there is replaced; a live one (another
    /// syslog daemon) or anything that is not a socket is an error, and is
    /// never deleted. The socket is made writable by every user of the
    /// container, as `/dev/log` is.
    pub fn bind(path: &str, out: Option<usize>, json: bool) -> Result<Receiver, String> {
        let bad = |msg: String| format!("[podinit] syslog: {path}: {msg}");
        match std::fs::symlink_metadata(path) {
            Ok(m) if !m.file_type().is_socket() => {
                return Err(bad(
                    "exists and is not a socket; podinit never deletes it (give syslog another path)".into(),
                ));
            }
            Ok(_) => {
                let probe = UnixDatagram::unbound().map_err(|e| bad(e.to_string()))?;
                if probe.connect(path).is_ok() {
                    return Err(bad("another syslog daemon is listening there".into()));
                }
                std::fs::remove_file(path)
                    .map_err(|e| bad(format!("cannot replace a stale socket: {e}")))?;
            }
            Err(_) => {}
        }
        let sock = UnixDatagram::bind(path).map_err(|e| {
            let hint = if e.kind() == io::ErrorKind::PermissionDenied {
                " (without root, give syslog a path podinit may create, and point the daemon at it)"
            } else {
                ""
            };
            bad(format!("cannot bind: {e}{hint}"))
        })?;
        sock.set_nonblocking(true).map_err(|e| bad(e.to_string()))?;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666));
        Ok(Receiver {
            sock,
            path: path.to_string(),
            out,
            json,
            dropped: 0,
            reported: 0,
            buf: vec![0; MAX_MESSAGE],
            line: Vec::new(),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }

    /// The socket is readable: up to `BATCH` messages to the router.
    pub fn on_readable(&mut self, router: &mut Router) {
        for _ in 0..BATCH {
            let n = match self.sock.recv(&mut self.buf) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return, // WouldBlock: all read
            };
            let Some(out) = self.out else {
                continue;
            };
            let text = String::from_utf8_lossy(&self.buf[..n]);
            let msg = parse(&text);
            self.line.clear();
            let time = if self.json {
                rfc3339(SystemTime::now())
            } else {
                String::new()
            };
            format(&msg, self.json, &time, &mut self.line);
            if router.push_source(out, &self.line) {
                self.report();
            } else {
                self.dropped += 1;
            }
        }
    }

    /// Says how many messages were dropped since the last time it said so.
    pub fn report(&mut self) {
        if self.dropped > self.reported {
            log::warn!(
                "{} syslog messages on {} were dropped: the syslog target is slower than the senders (datagrams have no backpressure)",
                self.dropped - self.reported,
                self.path
            );
            self.reported = self.dropped;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
