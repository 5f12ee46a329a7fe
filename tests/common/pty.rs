//! A pseudo-terminal for tests of interactive use: the master end, read
//! until an expected text appears, and the slave path to give a child.

use std::io::{Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

pub struct Term {
    pub master: std::fs::File,
    pub slave: String,
    pub seen: String,
}

impl Term {
    /// A new pty whose master is non-blocking.
    pub fn open() -> Term {
        // SAFETY: plain libc pty calls; the buffer outlives ptsname_r.
        unsafe {
            let m = libc::posix_openpt(libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC);
            assert!(m >= 0, "posix_openpt");
            assert_eq!(libc::grantpt(m), 0);
            assert_eq!(libc::unlockpt(m), 0);
            let mut buf = [0 as libc::c_char; 128];
            assert_eq!(libc::ptsname_r(m, buf.as_mut_ptr(), buf.len()), 0);
            let slave = std::ffi::CStr::from_ptr(buf.as_ptr())
                .to_string_lossy()
                .into_owned();
            libc::fcntl(m, libc::F_SETFL, libc::O_NONBLOCK);
            Term {
                master: std::fs::File::from(OwnedFd::from_raw_fd(m)),
                slave,
                seen: String::new(),
            }
        }
    }

    /// The slave end, opened anew (for stdin, stdout, stderr of a child).
    pub fn slave(&self) -> std::fs::File {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&self.slave)
            .unwrap()
    }

    /// Starts `cmd` in a new session whose controlling terminal is this
    /// pty, as a terminal emulator (or `docker run -it`) does.
    pub fn spawn(&self, mut cmd: std::process::Command) -> Child {
        use std::os::unix::process::CommandExt;
        use std::process::Stdio;
        cmd.stdin(Stdio::from(self.slave()))
            .stdout(Stdio::from(self.slave()))
            .stderr(Stdio::from(self.slave()));
        // SAFETY: only async-signal-safe calls in the child.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                libc::ioctl(0, libc::TIOCSCTTY, 0);
                Ok(())
            });
        }
        cmd.spawn().unwrap()
    }

    pub fn send(&mut self, s: &str) {
        self.master.write_all(s.as_bytes()).unwrap();
    }

    fn pump(&mut self) {
        let mut buf = [0u8; 4096];
        match self.master.read(&mut buf) {
            Ok(n) if n > 0 => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }

    /// Reads until `needle` has appeared (after what was already matched).
    pub fn expect(&mut self, needle: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.seen.contains(needle) {
            assert!(
                Instant::now() < deadline,
                "{needle:?} not seen; screen so far:\n{}",
                self.seen
            );
            self.pump();
        }
        // Later expectations look only at what comes after.
        let at = self.seen.find(needle).unwrap() + needle.len();
        self.seen.drain(..at);
    }

    /// Waits for `child` to exit, reading the screen meanwhile.
    pub fn wait(&mut self, child: &mut Child) -> ExitStatus {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            assert!(
                Instant::now() < deadline,
                "the child did not exit; screen:\n{}",
                self.seen
            );
            self.pump();
        }
    }
}
