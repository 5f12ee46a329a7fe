//! The optional HTTP endpoint (`[podinit] http`): `GET /readyz`, `/livez`
//! and `/metrics`, for Kubernetes probes without a fork per probe and for
//! Prometheus. Inside the one event loop: non-blocking, within [`BUDGET`]
//! (a full table evicts its oldest incomplete client: a complete request,
//! a probe, is always served), read-only (nothing reachable over HTTP
//! changes the pod), no TLS.
//!
//! Boundary: HTTP framing and the metrics text; what is ready or live is
//! the supervisor's answer, the numbers the supervisor's and the router's.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

use super::clients::{self, Budget, Table};

/// An unauthenticated network's budget (RELIABILITY.md): 32 clients at
/// once, a request of at most 4 KiB complete within 2 s of its accept (a
/// kubelet's is complete at once), an answer read within 5 s. A full
/// table evicts its oldest incomplete client, so a complete request is
/// always served.
const BUDGET: Budget = Budget {
    requests: 32,
    followers: 0,
    max_request: 4096,
    head_timeout: Duration::from_secs(2),
    answer_timeout: Duration::from_secs(5),
};

pub struct Http {
    listener: TcpListener,
    clients: Table<TcpStream, ()>,
}

/// What a client's event led to.
pub enum Step {
    /// Nothing yet (a partial request, or a response still going out).
    Wait,
    /// A complete request for this path: answer it with [`Http::respond`].
    Request(String),
    /// Done with this client (answered, gone, or refused): stop watching.
    Closed(RawFd),
    /// The response is pending: watch this fd for writing.
    Writing(RawFd),
}

/// An HTTP response: status code and reason, content type, body.
pub struct Response {
    pub code: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Response {
    pub fn text(code: u16, body: impl Into<String>) -> Response {
        Response {
            code,
            content_type: "text/plain; charset=utf-8",
            body: body.into(),
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// What a request's bytes so far are (pure: the fuzz target's entry).
#[derive(Debug, PartialEq, Eq)]
pub enum Head {
    /// Not complete yet.
    Partial,
    /// `GET` of this path.
    Get(String),
    /// Complete, but not one we serve: answer this.
    Refuse(u16, &'static str),
}

/// Reads a request head: complete at its blank line, or at the end of
/// input (`eof`: the client shut its write side) once the request line is
/// there; at most `max` bytes.
pub fn parse_head(buf: &[u8], eof: bool, max: usize) -> Head {
    let blank = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .or_else(|| buf.windows(2).position(|w| w == b"\n\n"));
    let line_end = buf.iter().position(|&b| b == b'\n');
    if blank.is_none() && !(eof && line_end.is_some()) {
        if buf.len() > max {
            return Head::Refuse(431, "request too large\n");
        }
        return if eof {
            Head::Refuse(400, "bad request\n")
        } else {
            Head::Partial
        };
    }
    let line = &buf[..line_end.unwrap_or(buf.len())];
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("GET"), Some(path)) => Head::Get(path.to_string()),
        (Some(_), Some(_)) => Head::Refuse(405, "only GET: this endpoint is read-only\n"),
        _ => Head::Refuse(400, "bad request\n"),
    }
}

impl Http {
    /// Listens on `addr`; an address that cannot be bound is an error
    /// naming the key (nothing has started yet).
    pub fn bind(addr: SocketAddr) -> Result<Http, String> {
        let listener = TcpListener::bind(addr)
            .map_err(|e| format!("podinit.http: cannot listen on {addr}: {e}"))?;
        listener
            .set_nonblocking(true)
            .map_err(|e| format!("podinit.http: {e}"))?;
        Ok(Http {
            listener,
            clients: Table::new(BUDGET),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Accepts what is waiting: (client id, fd) to watch for input, and the
    /// clients evicted to make room (unwatch, then drop them).
    pub fn accept(&mut self, now: Instant) -> (Vec<(u64, RawFd)>, Vec<TcpStream>) {
        let listener = &self.listener;
        let mut accept = || listener.accept().map(|(s, _)| s);
        let mut admit = |s: &mut TcpStream| s.set_nonblocking(true).is_ok();
        self.clients
            .accept(now, &mut accept, &mut admit, &mut || false)
    }

    /// Closes the oldest client without a complete request, to free its fd
    /// for the control socket (false: none).
    pub fn evict_incomplete(&mut self) -> bool {
        self.clients.evict_incomplete().is_some()
    }

    /// A client's socket is readable or writable.
    pub fn on_event(&mut self, id: u64) -> Step {
        let Some(c) = self.clients.get_mut(id) else {
            return Step::Wait;
        };
        if c.out.is_some() {
            return self.write(id);
        }
        let eof = match clients::read_into(&mut c.stream, &mut c.buf, BUDGET.max_request) {
            Ok(eof) => eof,
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                return self.respond(id, &Response::text(431, "request too large\n"));
            }
            Err(_) => return self.close(id),
        };
        match parse_head(&c.buf, eof, BUDGET.max_request) {
            Head::Partial => Step::Wait,
            Head::Get(path) => Step::Request(path),
            Head::Refuse(code, text) => self.respond(id, &Response::text(code, text)),
        }
    }

    /// Starts sending a response; the connection closes after it.
    pub fn respond(&mut self, id: u64, r: &Response) -> Step {
        let head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            r.code,
            reason(r.code),
            r.content_type,
            r.body.len()
        );
        let mut out = head.into_bytes();
        out.extend_from_slice(r.body.as_bytes());
        if !self.clients.answer(id, out, Instant::now()) {
            return Step::Wait;
        }
        self.write(id)
    }

    fn write(&mut self, id: u64) -> Step {
        let Some(c) = self.clients.get_mut(id) else {
            return Step::Wait;
        };
        let Some((out, sent)) = c.out.as_mut() else {
            return Step::Wait;
        };
        while *sent < out.len() {
            match c.stream.write(&out[*sent..]) {
                Ok(n) if n > 0 => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Step::Writing(c.stream.as_raw_fd());
                }
                _ => break,
            }
        }
        self.close(id)
    }

    fn close(&mut self, id: u64) -> Step {
        match self.clients.remove(id) {
            Some(s) => Step::Closed(s.as_raw_fd()),
            None => Step::Wait,
        }
    }

    /// Clients past their deadline: dropped; their fds (already closed).
    pub fn expire(&mut self, now: Instant) -> Vec<RawFd> {
        let late = self.clients.expire(now);
        late.iter().map(|s| s.as_raw_fd()).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.next_deadline()
    }
}

/// The answer to a path: `/readyz` and `/livez` (200 or 503 with a one-line
/// reason), `/metrics` (Prometheus text format), 404 otherwise.
pub fn route(
    path: &str,
    sup: &crate::supervisor::Supervisor,
    router: &crate::logs::Router,
    usage: &dyn Fn() -> Vec<Option<super::Usage>>,
) -> Response {
    use crate::supervisor::Check;
    let path = path.split('?').next().unwrap_or(path);
    let conditions = sup.conditions_line();
    let probe = |check| match sup.health(check) {
        Ok(ok) => Response::text(200, format!("{ok}\n{conditions}\n")),
        Err(why) => Response::text(503, format!("{why}\n{conditions}\n")),
    };
    match path {
        "/readyz" => probe(Check::Ready),
        "/livez" => probe(Check::Live),
        "/metrics" => Response {
            code: 200,
            content_type: "text/plain; version=0.0.4; charset=utf-8",
            body: metrics(sup, router, &usage()),
        },
        _ => Response::text(404, "not found: try /readyz, /livez or /metrics\n"),
    }
}

/// Prometheus label value: `\`, `"` and newlines escaped.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// The metrics of the pod, in the Prometheus text format. Long on purpose:
/// one metric family after another, each HELP/TYPE beside its values.
pub fn metrics(
    sup: &crate::supervisor::Supervisor,
    router: &crate::logs::Router,
    usage: &[Option<super::Usage>],
) -> String {
    use std::fmt::Write;
    let now = Instant::now();
    // Whole seconds: every value here is an integer, and integer
    // formatting keeps float formatting out of the binary.
    let wall = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs() as i64;
    let (specs, procs) = (sup.specs(), sup.procs());
    let current = sup.current();
    let mut out = String::new();
    let mut family = |name: &str, kind: &str, help: &str, value: &dyn Fn(usize) -> Option<i64>| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for &i in &current {
            if let Some(v) = value(i) {
                let _ = writeln!(out, "{name}{{process=\"{}\"}} {v}", label(&specs[i].name));
            }
        }
    };
    family(
        "podinit_process_up",
        "gauge",
        "1 while the process runs.",
        &|i| Some(i64::from(procs[i].pid.is_some())),
    );
    family(
        "podinit_process_ready",
        "gauge",
        "1 while the process is ready.",
        &|i| Some(i64::from(procs[i].state == crate::supervisor::State::Ready)),
    );
    family(
        "podinit_process_restarts_total",
        "counter",
        "Restarts so far.",
        &|i| Some(i64::from(procs[i].restarts)),
    );
    family(
        "podinit_process_last_exit_code",
        "gauge",
        "The status of the last run as a shell gives it (128+N for signal N).",
        &|i| procs[i].last_exit.map(|e| i64::from(e.shell_code())),
    );
    family(
        "podinit_process_oom_kills_total",
        "counter",
        "Runs the kernel's OOM killer ended.",
        &|i| Some(i64::from(procs[i].oom_kills)),
    );
    family(
        "podinit_process_start_time_seconds",
        "gauge",
        "When the current run started, in seconds since the epoch.",
        &|i| {
            let t = procs[i].started_at.filter(|_| procs[i].pid.is_some())?;
            Some(wall - now.saturating_duration_since(t).as_secs() as i64)
        },
    );
    let used = |i: usize| usage.get(i).copied().flatten();
    family(
        "podinit_process_memory_bytes",
        "gauge",
        "Resident memory of the process and everything it started.",
        &|i| used(i).map(|u| u.memory_bytes as i64),
    );
    family(
        "podinit_process_threads",
        "gauge",
        "Threads of the process and everything it started.",
        &|i| used(i).map(|u| u.threads as i64),
    );
    let _ = writeln!(
        out,
        "# HELP podinit_process_cpu_seconds_total CPU time of the process and everything it started (user and system).\n# TYPE podinit_process_cpu_seconds_total counter"
    );
    for &i in &current {
        if let Some(u) = used(i) {
            let name = label(&specs[i].name);
            let _ = writeln!(
                out,
                "podinit_process_cpu_seconds_total{{process=\"{name}\"}} {}",
                u.cpu_seconds()
            );
        }
    }
    out += &exits_by_reason(sup);
    out += &log_metrics(sup, router);
    out
}

/// `podinit_process_exits_total{process,reason}`.
fn exits_by_reason(sup: &crate::supervisor::Supervisor) -> String {
    use std::fmt::Write;
    let (specs, procs) = (sup.specs(), sup.procs());
    let current = sup.current();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP podinit_process_exits_total Ended runs, by cause (exit, signal, oom, liveness, watchdog, operator).\n# TYPE podinit_process_exits_total counter"
    );
    for &i in &current {
        for (k, reason) in crate::supervisor::ExitReason::ALL.iter().enumerate() {
            let _ = writeln!(
                out,
                "podinit_process_exits_total{{process=\"{}\",reason=\"{}\"}} {}",
                label(&specs[i].name),
                reason.as_str(),
                procs[i].exits_by_reason[k]
            );
        }
    }
    out
}

/// The router's counters: lines per process and stream, bytes dropped.
fn log_metrics(sup: &crate::supervisor::Supervisor, router: &crate::logs::Router) -> String {
    use std::fmt::Write;
    let specs = sup.specs();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# HELP podinit_log_lines_total Lines of output read from each process's stream.\n# TYPE podinit_log_lines_total counter"
    );
    for (idx, stream, lines) in router.line_counts() {
        if let Some(spec) = specs.get(idx) {
            let _ = writeln!(
                out,
                "podinit_log_lines_total{{process=\"{}\",stream=\"{}\"}} {lines}",
                label(&spec.name),
                stream.as_str()
            );
        }
    }
    let _ = writeln!(
        out,
        "# HELP podinit_log_bytes_dropped_total Output bytes podinit discarded (a closed console). Stays 0.\n# TYPE podinit_log_bytes_dropped_total counter\npodinit_log_bytes_dropped_total {}",
        router.dropped_bytes()
    );
    out
}
