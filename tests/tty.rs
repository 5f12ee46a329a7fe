//! Interactive use under a pseudo-terminal: `podinit -- bash -i` behaves as
//! bash would without podinit (echo, Ctrl-C, Ctrl-Z, exit status).

mod common;

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::*;

/// A new pty: (master, slave path).
fn openpty() -> (std::fs::File, String) {
    // SAFETY: plain libc pty calls; the buffer outlives ptsname_r.
    unsafe {
        let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
        assert!(m >= 0, "posix_openpt");
        assert_eq!(libc::grantpt(m), 0);
        assert_eq!(libc::unlockpt(m), 0);
        let mut buf = [0 as libc::c_char; 128];
        assert_eq!(libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()), 0);
        let name = std::ffi::CStr::from_ptr(buf.as_ptr())
            .to_string_lossy()
            .into_owned();
        (std::fs::File::from(OwnedFd::from_raw_fd(m)), name)
    }
}

struct Term {
    master: std::fs::File,
    seen: String,
}

impl Term {
    fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    /// Reads until `needle` has appeared (after what was already matched).
    fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut buf = [0u8; 4096];
        while !self.seen.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not seen; screen so far:\n{}",
                self.seen
            );
            match self.master.read(&mut buf) {
                Ok(n) if n > 0 => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
        // Later expectations look only at what comes after.
        let at = self.seen.find(needle).unwrap() + needle.len();
        self.seen.drain(..at);
    }
}

#[test]
fn an_interactive_bash_under_podinit_behaves_as_without_it() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIPPED: bash is not installed");
        return;
    }
    let (master, slave) = openpty();
    // SAFETY: fcntl on our fd.
    unsafe { libc::fcntl(master.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    let tty = || {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&slave)
            .unwrap()
    };
    let mut cmd = Command::new(BIN);
    cmd.args(["--", "bash", "--norc", "--noprofile", "-i"])
        .env("PS1", "PROMPT$ ")
        .env("PODINIT_LOG", "warn")
        .stdin(Stdio::from(tty()))
        .stdout(Stdio::from(tty()))
        .stderr(Stdio::from(tty()));
    // SAFETY: only async-signal-safe calls: a new session whose controlling
    // terminal is the pty, as a terminal emulator (or `docker run -it`) does.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            libc::ioctl(0, libc::TIOCSCTTY, 0);
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    let mut t = Term {
        master,
        seen: String::new(),
    };
    t.expect("PROMPT$ ");
    // Echo, and bash's own output.
    t.send("echo hel''lo\n");
    t.expect("hello");
    t.expect("PROMPT$ ");
    // Ctrl-C interrupts the foreground job only.
    t.send("sleep 30\n");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\x03");
    t.expect("PROMPT$ ");
    t.send("echo alive-$((40+2))\n");
    t.expect("alive-42");
    // Ctrl-Z stops a job; job control works.
    t.send("sleep 31\n");
    std::thread::sleep(Duration::from_millis(300));
    t.send("\x1a");
    t.expect("Stopped");
    t.send("jobs\n");
    t.expect("sleep 31");
    t.send("kill -9 %1\n");
    t.expect("PROMPT$ ");
    std::thread::sleep(Duration::from_millis(100));
    // `exit 5` makes podinit exit 5.
    t.send("exit 5\n");
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "podinit did not exit; screen:\n{}",
            t.seen
        );
        let mut buf = [0u8; 4096];
        let _ = t.master.read(&mut buf);
        std::thread::sleep(Duration::from_millis(10));
    };
    assert_eq!(status.code(), Some(5), "screen:\n{}", t.seen);
    let _ = TempDir::new("tty"); // the harness's helpers are shared with other tests
}
