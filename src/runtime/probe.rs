//! Running probes inside the event loop, never blocking it: an exec probe is
//! a child process reaped like any other, a tcp/http probe a non-blocking
//! socket watched by epoll, a file probe one `stat`. The supervisor decides
//! when to probe and when a probe has timed out; this only runs them.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::os::fd::{AsRawFd, OwnedFd};

use super::KIND_PROBE;
use crate::config::{Probe, ProbeKind, ProcSpec};
use crate::poll::{Poller, token};
use crate::spawn::{self, Setup, Stdio};
use crate::supervisor::{ExitStatus, Pid, ProbeResult};

enum Running {
    /// An exec probe: its pid (and process group).
    Exec(Pid),
    Net(Net),
}

struct Net {
    fd: OwnedFd,
    /// The HTTP request still to send (None for tcp, or once sent).
    request: Option<Vec<u8>>,
    http: bool,
    response: Vec<u8>,
}

#[derive(Default)]
pub struct Probes {
    running: HashMap<u64, Running>,
    exec_pids: HashMap<Pid, u64>,
}

/// Resolves a probe host: an IP, `localhost`, or a name from /etc/hosts.
/// (No DNS: a static binary has no resolver, and probes target the pod.)
pub fn resolve_host(host: &str, port: u16) -> Option<SocketAddr> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, port));
    }
    // Read as every file on the loop's thread: regular, bounded, never blocking.
    let hosts =
        crate::sys::read_bounded(std::path::Path::new("/etc/hosts"), crate::sys::MAX_ENV_FILE)
            .map(|(b, _)| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
    for line in hosts.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut fields = line.split_whitespace();
        let Some(ip) = fields.next().and_then(|i| i.parse::<IpAddr>().ok()) else {
            continue;
        };
        if fields.any(|n| n == host) {
            return Some(SocketAddr::new(ip, port));
        }
    }
    (host == "localhost").then(|| SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
}

/// A non-blocking connect; Ok(true) when connected at once.
fn connect(addr: SocketAddr) -> io::Result<(OwnedFd, bool)> {
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6, socket};
    let family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fd = socket(
        family,
        SockType::Stream,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )?;
    let connected = match addr {
        SocketAddr::V4(a) => nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    };
    match connected {
        Ok(()) => Ok((fd, true)),
        Err(nix::errno::Errno::EINPROGRESS) => Ok((fd, false)),
        Err(e) => Err(e.into()),
    }
}

/// The pending error of a socket (0: its connect succeeded).
fn so_error(fd: &OwnedFd) -> libc::c_int {
    nix::sys::socket::getsockopt(fd, nix::sys::socket::sockopt::SocketError).unwrap_or(libc::EIO)
}

/// `HTTP/1.x NNN` → NNN.
pub fn http_status(response: &[u8]) -> Option<u16> {
    let line = response.split(|&b| b == b'\n').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split_whitespace();
    if !parts.next()?.starts_with("HTTP/") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// An HTTP probe passes on a 2xx or 3xx status.
fn http_result(response: &[u8]) -> ProbeResult {
    match http_status(response) {
        Some(c) if (200..400).contains(&c) => ProbeResult::pass(format!("HTTP {c}")),
        Some(c) => ProbeResult::fail(format!("HTTP {c}")),
        None => ProbeResult::fail("no HTTP status line in the answer"),
    }
}

impl Probes {
    /// Starts probe `id`; returns its result when it is known at once.
    /// Long on purpose: one arm per probe kind (exec, tcp, http, file, log),
    /// each a few lines, side by side.
    pub fn start(
        &mut self,
        id: u64,
        spec: &ProcSpec,
        probe: &Probe,
        base_env: &[(std::ffi::OsString, std::ffi::OsString)],
        null: Stdio,
        poller: &Poller,
    ) -> Option<ProbeResult> {
        match &probe.kind {
            ProbeKind::File(p) => Some(if std::path::Path::new(p).exists() {
                ProbeResult::pass(format!("{p} exists"))
            } else {
                ProbeResult::fail(format!("{p} does not exist"))
            }),
            ProbeKind::Exec(argv) => {
                let mut s = spec.clone();
                s.argv = argv.iter().map(Into::into).collect();
                let mut setup = Setup::new(null);
                setup.stdout = null;
                setup.stderr = null;
                match spawn::spawn(&s, base_env, &setup) {
                    Ok(pid) => {
                        self.exec_pids.insert(pid, id);
                        self.running.insert(id, Running::Exec(pid));
                        None
                    }
                    Err(e) => Some(ProbeResult::fail(e.message)),
                }
            }
            ProbeKind::Tcp { host, port } | ProbeKind::Http { host, port, .. } => {
                let Some(addr) = resolve_host(host, *port) else {
                    return Some(ProbeResult::fail(format!(
                        "cannot resolve {host:?} (IPs, localhost and /etc/hosts names only)"
                    )));
                };
                let http = matches!(probe.kind, ProbeKind::Http { .. });
                let request = match &probe.kind {
                    ProbeKind::Http { host, path, .. } => {
                        let mut head = format!("GET {path} HTTP/1.0\r\n");
                        let given =
                            |n: &str| probe.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(n));
                        for (n, default) in [("Host", host.as_str()), ("User-Agent", "podinit")] {
                            if !given(n) {
                                head += &format!("{n}: {default}\r\n");
                            }
                        }
                        for (k, v) in &probe.headers {
                            head += &format!("{k}: {v}\r\n");
                        }
                        Some((head + "Connection: close\r\n\r\n").into_bytes())
                    }
                    _ => None,
                };
                match connect(addr) {
                    Err(e) => Some(ProbeResult::fail(format!("connect to {addr}: {e}"))),
                    Ok((_, true)) if !http => {
                        Some(ProbeResult::pass(format!("connected to {addr}")))
                    }
                    Ok((fd, _)) => {
                        let mut net = Net {
                            fd,
                            request,
                            http,
                            response: Vec::new(),
                        };
                        if let Err(e) = poller.add(
                            net.fd.as_raw_fd(),
                            libc::EPOLLOUT as u32,
                            token(KIND_PROBE, id),
                        ) {
                            return Some(ProbeResult::fail(e.to_string()));
                        }
                        net.response.reserve(64);
                        self.running.insert(id, Running::Net(net));
                        None
                    }
                }
            }
            // Triggered by the process itself; never started as a probe.
            ProbeKind::Log(_) | ProbeKind::NotifyFd(_) | ProbeKind::SdNotify => None,
        }
    }

    /// Abandons probe `id` (kills an exec probe's group, closes a socket).
    pub fn cancel(&mut self, id: u64, poller: &Poller) {
        match self.running.remove(&id) {
            Some(Running::Exec(pid)) => {
                self.exec_pids.remove(&pid);
                // The probe leads its own group.
                let _ = crate::sys::kill(-pid, libc::SIGKILL);
            }
            Some(Running::Net(net)) => poller.remove(net.fd.as_raw_fd()),
            None => {}
        }
    }

    /// An exec probe ended: (probe id, its result).
    pub fn reaped(&mut self, pid: Pid, status: ExitStatus) -> Option<(u64, ProbeResult)> {
        let id = self.exec_pids.remove(&pid)?;
        self.running.remove(&id);
        let result = if status == ExitStatus::Code(0) {
            ProbeResult::pass("exit status 0")
        } else {
            ProbeResult::fail(format!("the command ended with {status}"))
        };
        Some((id, result))
    }

    /// Readiness of a probe socket; the result once the probe is decided.
    pub fn on_event(&mut self, id: u64, poller: &Poller) -> Option<ProbeResult> {
        let Some(Running::Net(net)) = self.running.get_mut(&id) else {
            return None;
        };
        let fd = net.fd.as_raw_fd();
        let result = Self::advance(net, poller, id);
        if result.is_some() {
            poller.remove(fd);
            self.running.remove(&id);
        }
        result
    }

    fn advance(net: &mut Net, poller: &Poller, id: u64) -> Option<ProbeResult> {
        let fd = net.fd.as_raw_fd();
        let refused = |err: libc::c_int| {
            ProbeResult::fail(format!("connect: {}", io::Error::from_raw_os_error(err)))
        };
        if let Some(req) = net.request.take() {
            let err = so_error(&net.fd);
            if err != 0 {
                return Some(refused(err));
            }
            // A fresh loopback socket takes a small request whole.
            let sent = nix::sys::socket::send(fd, &req, nix::sys::socket::MsgFlags::MSG_NOSIGNAL);
            if sent != Ok(req.len()) {
                return Some(ProbeResult::fail("could not send the request"));
            }
            if let Err(e) = poller.modify(fd, libc::EPOLLIN as u32, token(KIND_PROBE, id)) {
                return Some(ProbeResult::fail(e.to_string()));
            }
            return None;
        }
        if !net.http {
            return Some(match so_error(&net.fd) {
                0 => ProbeResult::pass("connected"),
                err => refused(err),
            });
        }
        let mut buf = [0u8; 512];
        loop {
            return match nix::unistd::read(fd, &mut buf) {
                Ok(0) => Some(http_result(&net.response)),
                Ok(n) => {
                    net.response.extend_from_slice(&buf[..n]);
                    if net.response.contains(&b'\n') || net.response.len() > 4096 {
                        return Some(http_result(&net.response));
                    }
                    continue;
                }
                Err(nix::errno::Errno::EAGAIN) => None,
                Err(e) => Some(ProbeResult::fail(format!("read: {e}"))),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        assert_eq!(http_status(b"HTTP/1.1 204 No Content\r\n"), Some(204));
        assert_eq!(http_status(b"HTTP/1.0 500 Oops\r\n"), Some(500));
        assert_eq!(http_status(b"garbage\r\n"), None);
        assert_eq!(http_status(b""), None);
    }

    #[test]
    fn hosts() {
        assert_eq!(
            resolve_host("127.0.0.1", 80),
            Some("127.0.0.1:80".parse().unwrap())
        );
        assert_eq!(resolve_host("::1", 80), Some("[::1]:80".parse().unwrap()));
        assert!(resolve_host("localhost", 8080).is_some());
    }
}
