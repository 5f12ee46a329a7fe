//! The router's promises without an event loop: real pipes and files, no
//! epoll. Each test reads the `Interest` changes the router decides and
//! plays the loop's part itself (calling `on_stream`, `on_sink`, `retry`).

use std::os::fd::RawFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::config;

fn specs(toml: &str) -> Vec<ProcSpec> {
    config::parse(toml, "test.toml", None, &|_| None)
        .unwrap()
        .procs
}

/// A fresh directory of this test's own.
fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let d = std::env::temp_dir().join(format!("podinit-router-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn fd_of(s: Stdio) -> RawFd {
    match s {
        Stdio::Fd(fd) => fd,
        other => panic!("not a pipe: {other:?}"),
    }
}

/// Writes what fits of `data` into a (non-blocking) pipe.
fn put(fd: RawFd, data: &[u8]) -> usize {
    // SAFETY: a write from a live buffer to an fd the router holds open.
    let n = unsafe { libc::write(fd, data.as_ptr().cast(), data.len()) };
    n.max(0) as usize
}

/// Reads all a (non-blocking) pipe holds now.
fn take(fd: RawFd) -> Vec<u8> {
    crate::sys::set_nonblocking(fd, true);
    let mut out = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        // SAFETY: a read into a live buffer of its length.
        let n = unsafe { libc::read(fd, buf.as_mut_ptr().cast(), buf.len()) };
        if n <= 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n as usize]);
    }
}

/// The stream ids the router asked to watch, by read fd.
fn new_streams(changes: &[Interest]) -> Vec<usize> {
    changes
        .iter()
        .filter_map(|c| match c {
            Interest::NewStream { sid, .. } => Some(*sid),
            _ => None,
        })
        .collect()
}

#[test]
fn a_slow_consumer_pauses_only_its_writer_and_loses_nothing() {
    let specs = specs(
        "[process.app]\ncommand = \"app\"\nstdout = \"process:ship\"\nlog_format = \"raw\"\n\
         [process.ship]\ncommand = \"ship\"\n",
    );
    let mut r = Router::new(&specs).unwrap();
    let first = r.take_interest();
    let app = specs.iter().position(|s| s.name == "app").unwrap();
    let ship = specs.iter().position(|s| s.name == "ship").unwrap();
    let out = fd_of(r.stdio(app)[1]);
    crate::sys::set_nonblocking(out, true);
    let inbox = fd_of(r.stdio(ship)[0]);
    // The app's stdout stream: the first new stream of process `app`.
    let sid = *new_streams(&first)
        .iter()
        .find(|&&s| r.streams[s].proc == app)
        .unwrap();
    let line = [b"y".repeat(1023), b"\n".to_vec()].concat();
    let (mut written, mut paused) = (0usize, false);
    for _ in 0..100_000 {
        written += put(out, &line[..]);
        r.on_stream(sid);
        let changes = r.take_interest();
        if changes.contains(&Interest::ReadStream {
            sid,
            fd: r.streams[sid].read.as_raw_fd(),
            on: false,
        }) {
            paused = true;
            break;
        }
    }
    assert!(paused, "the writer was never paused");
    assert!(r.sinks[r.streams[sid].sink].pending() >= HIGH);
    assert!(r.sinks[r.streams[sid].sink].want_out, "waits for room");
    // The consumer reads: the queue goes out, the writer resumes, and
    // every byte written arrives, in order.
    let mut got = Vec::new();
    let mut resumed = false;
    for _ in 0..10_000 {
        got.extend(take(inbox));
        let sink = r.streams[sid].sink;
        r.on_sink(sink);
        resumed |= r
            .take_interest()
            .iter()
            .any(|c| matches!(c, Interest::ReadStream { sid: s, on: true, .. } if *s == sid));
        if resumed && r.sinks[sink].pending() == 0 {
            r.on_stream(sid); // what the pipe still holds
            r.on_sink(sink);
            got.extend(take(inbox));
            if got.len() == written {
                break;
            }
        }
    }
    assert!(resumed, "the writer was never resumed");
    assert_eq!(got.len(), written);
    assert!(got.chunks(1024).all(|c| c == &line[..c.len()]));
}

#[test]
fn a_stalled_consumer_is_reported_after_stall_time() {
    let specs = specs(
        "[process.app]\ncommand = \"app\"\nstdout = \"process:ship\"\n\
         [process.ship]\ncommand = \"ship\"\n",
    );
    let mut r = Router::new(&specs).unwrap();
    let app = specs.iter().position(|s| s.name == "app").unwrap();
    let sid = new_streams(&r.take_interest())[0];
    let out = fd_of(r.stdio(app)[1]);
    crate::sys::set_nonblocking(out, true);
    let chunk = vec![b'z'; 1 << 16];
    let t0 = Instant::now();
    while r.sinks[r.streams[sid].sink].blocked_since.is_none() {
        put(out, &chunk);
        r.on_stream(sid);
    }
    let sink = r.streams[sid].sink;
    let due = r.next_retry().expect("a stall check is due");
    assert!(due >= t0 + STALL && due <= Instant::now() + STALL);
    r.retry(due);
    assert!(r.sinks[sink].stall_reported);
    assert!(r.next_retry().is_none(), "said once, no more wake-ups");
}

#[test]
fn draining_at_exit_keeps_an_unterminated_last_line() {
    let dir = temp_dir("drain");
    let file = dir.join("app.log");
    let specs = specs(&format!(
        "[process.app]\ncommand = \"app\"\nstdout = \"file:{}\"\nlog_format = \"prefix\"\n",
        file.display()
    ));
    let mut r = Router::new(&specs).unwrap();
    r.take_interest();
    let out = fd_of(r.stdio(0)[1]);
    // `prefix` and `json` make it a line (`raw` is the bytes as written).
    put(out, b"one\ntwo\nthe last, unterminated");
    // The process is gone: its exit is acted on only after this.
    r.drain(0);
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "app | one\napp | two\napp | the last, unterminated\n"
    );
    assert_eq!(r.finish(Duration::ZERO), 0, "nothing lost");
    let _ = std::fs::remove_dir_all(dir);
}

/// A router whose one process writes (raw) to a file that cannot be
/// opened: a directory stands where the file should be.
fn unwritable_file(tag: &str) -> (PathBuf, PathBuf, Router) {
    let dir = temp_dir(tag);
    let file = dir.join("app.log");
    std::fs::create_dir(&file).unwrap();
    let specs = specs(&format!(
        "[process.app]\ncommand = \"app\"\nstdout = \"file:{}\"\nlog_format = \"raw\"\n",
        file.display()
    ));
    (dir, file, Router::new(&specs).unwrap())
}

#[test]
fn a_failing_sink_keeps_its_lines_and_retries_each_second() {
    let (dir, file, mut r) = unwritable_file("failing");
    let sid = new_streams(&r.take_interest())[0];
    let out = fd_of(r.stdio(0)[1]);
    put(out, b"kept 1\n");
    let before = Instant::now();
    r.on_stream(sid);
    let sink = r.streams[sid].sink;
    assert!(r.sinks[sink].failing);
    let retry = r.next_retry().expect("a retry is due");
    assert!(retry >= before + sink::RETRY);
    put(out, b"kept 2\n");
    r.on_stream(sid); // queued behind the failure, not written
    r.retry(retry - Duration::from_millis(1));
    assert!(r.sinks[sink].failing, "not retried early");
    std::fs::remove_dir(&file).unwrap();
    r.retry(retry);
    assert!(!r.sinks[sink].failing);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "kept 1\nkept 2\n");
    assert!(r.next_retry().is_none());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn what_cannot_be_written_by_the_end_is_counted_as_lost() {
    let (dir, _, mut r) = unwritable_file("lost");
    r.take_interest();
    put(fd_of(r.stdio(0)[1]), b"twelve bytes");
    // finish drains what the pipe holds and tries the sink once more.
    assert_eq!(r.finish(Duration::ZERO), 12);
    let _ = std::fs::remove_dir_all(dir);
}
