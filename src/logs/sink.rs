//! Sinks: what a sink writes to, its queue, and the writes themselves (a
//! file opened again when deleted and rotated at a line boundary). The
//! router decides when to write; this file only writes.

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub(super) enum Kind {
    Console(OwnedFd),
    File {
        path: PathBuf,
        file: Option<File>,
        size: u64,
        max_size: Option<u64>,
        max_files: u32,
    },
    /// The stdin pipe of a consumer process.
    Pipe {
        read: OwnedFd,
        write: OwnedFd,
    },
    Discard,
}

pub(super) struct Sink {
    pub(super) kind: Kind,
    pub(super) label: String,
    pub(super) queue: Vec<u8>,
    pub(super) sent: usize,
    pub(super) feeders: Vec<usize>,
    pub(super) failing: bool,
    /// The last write error, for the report of what was lost at exit.
    pub(super) last_error: Option<String>,
    pub(super) retry_at: Option<Instant>,
    pub(super) want_out: bool,
    /// Since when a consumer's stdin has been full, and whether that was said.
    pub(super) blocked_since: Option<Instant>,
    pub(super) stall_reported: bool,
}

/// A failing sink is retried this often.
pub(super) const RETRY: Duration = Duration::from_secs(1);

/// A consumer that has not read its stdin for this long is reported (once).
pub(super) const STALL: Duration = Duration::from_secs(5);

impl Sink {
    pub(super) fn pending(&self) -> usize {
        self.queue.len() - self.sent
    }

    /// Writes the queue until it is empty, the target is full (`true`:
    /// wait for room) or a write fails (a retry is set). Bytes a closed
    /// console swallows are counted in `dropped`.
    pub(super) fn write_out(&mut self, now: Instant, dropped: &mut u64) -> bool {
        let sink = self;
        while sink.pending() > 0 {
            let result = match &mut sink.kind {
                Kind::Discard => {
                    *dropped += sink.pending() as u64;
                    Ok(sink.pending())
                }
                Kind::Console(fd) => write_fd(fd, &sink.queue[sink.sent..]),
                Kind::Pipe { write, .. } => write_fd(write, &sink.queue[sink.sent..]),
                Kind::File { .. } => write_file(sink),
            };
            match result {
                Ok(n) => {
                    sink.sent += n;
                    // Any progress means the reader is alive.
                    if n > 0 {
                        sink.blocked_since = None;
                        if std::mem::take(&mut sink.stall_reported) {
                            log::info!("{} is read again; delivery resumed", sink.label);
                        }
                    }
                    if sink.failing {
                        sink.failing = false;
                        log::info!("writing to {} works again; delivery resumed", sink.label);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if matches!(sink.kind, Kind::Pipe { .. }) && sink.blocked_since.is_none() {
                        sink.blocked_since = Some(now);
                    }
                    return true;
                }
                Err(e)
                    if e.raw_os_error() == Some(libc::EPIPE)
                        && matches!(sink.kind, Kind::Console(_)) =>
                {
                    log::warn!(
                        "podinit's {} is closed ({e}); console output is dropped from now on",
                        sink.label
                    );
                    sink.kind = Kind::Discard;
                }
                Err(e) => {
                    sink.last_error = Some(e.to_string());
                    if !sink.failing {
                        sink.failing = true;
                        log::error!(
                            "cannot write to {}: {e}; keeping the output and retrying every second",
                            sink.label
                        );
                    }
                    sink.retry_at = Some(now + RETRY);
                    return false;
                }
            }
        }
        false
    }
}

pub(super) fn sink_fd(kind: &Kind) -> Option<RawFd> {
    match kind {
        Kind::Console(fd) => Some(fd.as_raw_fd()),
        Kind::Pipe { write, .. } => Some(write.as_raw_fd()),
        _ => None,
    }
}

pub(super) fn write_fd(fd: &OwnedFd, data: &[u8]) -> io::Result<usize> {
    nix::unistd::write(fd, data).map_err(io::Error::from)
}

/// Writes to a file sink: (re)opens it, rotates at a line boundary. Long
/// on purpose: reopen, cut at the last line that fits, write, rotate are
/// one write's steps on the same borrowed fields.
pub(super) fn write_file(sink: &mut Sink) -> io::Result<usize> {
    let data = &sink.queue[sink.sent..];
    let Kind::File {
        path,
        file,
        size,
        max_size,
        max_files,
    } = &mut sink.kind
    else {
        return Ok(0);
    };
    // A file deleted under us (its directory removed, say) is reopened.
    if let Some(f) = file
        && f.metadata().map(|m| m.nlink() == 0).unwrap_or(true)
    {
        *file = None;
    }
    if file.is_none() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o640)
            .custom_flags(libc::O_CLOEXEC)
            .open(&*path)?;
        *size = f.metadata()?.len();
        *file = Some(f);
    }
    let mut chunk = data;
    if let Some(max) = *max_size {
        let room = max.saturating_sub(*size) as usize;
        if chunk.len() > room {
            // Up to the last line end that fits; rotate first if none does.
            match chunk[..room].iter().rposition(|&b| b == b'\n') {
                Some(pos) => chunk = &chunk[..pos + 1],
                None if *size > 0 => {
                    rotate(path, *max_files)?;
                    *file = None;
                    return Ok(0);
                }
                None => {
                    // A single line longer than the limit: it goes whole.
                    let end = chunk
                        .iter()
                        .position(|&b| b == b'\n')
                        .map_or(chunk.len(), |p| p + 1);
                    chunk = &chunk[..end];
                }
            }
        }
    }
    let f = file
        .as_mut()
        .ok_or_else(|| io::Error::other("file not open"))?;
    let n = f.write(chunk)?;
    *size += n as u64;
    if max_size.is_some_and(|m| *size >= m) {
        rotate(path, *max_files)?;
        *file = None;
    }
    Ok(n)
}

/// NAME → NAME.1 → … → NAME.N (the oldest is dropped).
pub(super) fn rotate(path: &std::path::Path, keep: u32) -> io::Result<()> {
    let name = |n: u32| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        PathBuf::from(p)
    };
    let _ = std::fs::remove_file(name(keep));
    for n in (1..keep).rev() {
        let _ = std::fs::rename(name(n), name(n + 1));
    }
    std::fs::rename(path, name(1))
}
