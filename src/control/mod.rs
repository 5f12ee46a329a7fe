//! The control socket: a Unix stream socket served inside the event loop,
//! and the client side of `podinit status|start|stop|restart|signal|reload`.
//!
//! Protocol, version 1 (one request per connection):
//!   request:  `podinit/1 VERB [ARG...]\n` (at most 4 KiB; ARGs have no spaces)
//!   response: `ok\n` then the verb's payload, or `error MESSAGE\n`; then the
//!             server closes the connection.
//! `status` answers one line of JSON (see [`status_json`]). Peers are
//! checked with SO_PEERCRED: only root or podinit's own uid. A client gets
//! 5 s to send its line; at most 16 are served at once.
//!
//! Boundary: socket I/O and request parsing; what a request does is the
//! supervisor's decision.

pub mod clients;
pub mod http;
pub mod request;
pub mod top;

pub use request::{Asked, Verb};

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use nix::sys::stat::{Mode, umask};

use crate::config::ProcSpec;
use crate::supervisor::{Proc, State};

pub const PROTOCOL: &str = "podinit/1";
const MAX_REQUEST: usize = 4096;
const CLIENT_TIMEOUT: Duration = Duration::from_secs(5);

/// The control socket's budget (RELIABILITY.md): 16 one-shot requests at
/// once (a full table evicts its oldest incomplete client, so `health`,
/// `status` and the verbs that change state always get through), 16
/// followers on top (`events`, `logs -f`: refused beyond, never in the
/// one-shot slots), a request line of at most 4 KiB within 5 s of its
/// accept, an answer read within 5 s.
const BUDGET: clients::Budget = clients::Budget {
    requests: 16,
    followers: 16,
    max_request: MAX_REQUEST,
    head_timeout: CLIENT_TIMEOUT,
    answer_timeout: CLIENT_TIMEOUT,
};

/// What a following client gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    /// The pod's events (true: as JSON).
    Events { json: bool },
    /// The output of process `idx`.
    Logs(usize),
}

/// A follower whose unsent events pass this is dropped, rather than ever
/// slowing the loop or growing without bound.
const MAX_BEHIND: usize = 64 * 1024;

/// Where an answer stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// All written (or the client is gone): the connection is closed; stop
    /// watching this fd.
    Done(RawFd),
    /// All written so far, and the client follows events: watch this fd
    /// for input only (its close).
    Following(RawFd),
    /// The client's socket is full: watch this fd for EPOLLOUT and call
    /// [`Server::write_answer`] again.
    Pending(RawFd),
}

pub struct Server {
    listener: UnixListener,
    path: String,
    clients: clients::Table<UnixStream, Follow>,
}

use crate::json::quoted as json_str;

/// `{"processes":[{"name":…,"state":…,"pid":…,"uptime_ms":…,"restarts":…,
/// "last_exit":…,"ready":…,"probe_failure":…}, …]}`: pid, uptime_ms,
/// last_exit and probe_failure are null when there is none; last_exit is
/// the status as a shell gives it; probe_failure why the last readiness or
/// health probe failed; next_run a scheduled job's next time, local.
/// What a running process and everything it started use (`status`,
/// `top`, `/metrics`), read from /proc when asked.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// CPU time, user and system, in ms (integers keep float formatting
    /// out of the binary).
    pub cpu_ms: u64,
    /// Resident memory (RSS) of them all.
    pub memory_bytes: u64,
    pub threads: u64,
}

impl Usage {
    /// CPU seconds as decimal text with milliseconds (`12.345`).
    pub fn cpu_seconds(&self) -> String {
        format!("{}.{:03}", self.cpu_ms / 1000, self.cpu_ms % 1000)
    }
}

/// `status --json`: one object per process of `names`; `usage` gives the
/// figures of a running one.
pub fn status_json(
    specs: &[ProcSpec],
    procs: &[Proc],
    names: &[usize],
    now: Instant,
    usage: &dyn Fn(usize) -> Option<Usage>,
    conditions: &[(&str, bool)],
) -> String {
    let rows: Vec<String> = names
        .iter()
        .map(|&i| {
            let used = usage(i).map_or(
                "\"cpu_seconds\":null,\"memory_bytes\":null,\"threads\":null".to_string(),
                |u| {
                    format!(
                        "\"cpu_seconds\":{},\"memory_bytes\":{},\"threads\":{}",
                        u.cpu_seconds(),
                        u.memory_bytes,
                        u.threads
                    )
                },
            );
            let (s, p) = (&specs[i], &procs[i]);
            let pid = p.pid.map_or("null".into(), |v| v.to_string());
            let uptime = match (p.pid, p.started_at) {
                (Some(_), Some(t)) => now.saturating_duration_since(t).as_millis().to_string(),
                _ => "null".into(),
            };
            let last = p.last_exit.map_or("null".into(), |e| e.shell_code().to_string());
            let probe = p.probe_failure.as_deref().map_or("null".into(), json_str);
            let reason = p.last_exit_reason.map_or("null".into(), |r| json_str(r.as_str()));
            let said = p.status_text.as_deref().map_or("null".into(), json_str);
            let next = p.due.map_or("null".into(), |d| {
                json_str(&crate::config::schedule::format_local(d.wall, crate::sys::utc_offset))
            });
            format!(
                "{{\"name\":{},\"state\":\"{}\",\"pid\":{pid},\"uptime_ms\":{uptime},\"restarts\":{},\"last_exit\":{last},\"last_exit_reason\":{reason},\"oom_kills\":{},\"ready\":{},\"probe_failure\":{probe},\"status_text\":{said},\"next_run\":{next},{used}}}",
                json_str(&s.name),
                p.state_name(),
                p.restarts,
                p.oom_kills,
                p.state == State::Ready && (s.readiness.is_none() || p.serving)
            )
        })
        .collect();
    let conds: Vec<String> = conditions
        .iter()
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    format!(
        "{{\"processes\":[{}],\"conditions\":{{{}}}}}",
        rows.join(","),
        conds.join(",")
    )
}

/// Why a directory is not safe for podinit's socket: it must belong to
/// podinit's user or root, and be writable by nobody else (unless sticky,
/// like /run or /tmp, where others cannot replace what is ours).
fn unfit_dir(dir: &std::path::Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = match std::fs::metadata(dir) {
        Ok(m) => m,
        Err(e) => return Some(format!("{}: {e}", dir.display())),
    };
    let me = crate::sys::euid();
    if m.uid() != me && m.uid() != 0 {
        return Some(format!(
            "{} belongs to uid {}, not to podinit's uid {me} or root; refusing to put the control socket there",
            dir.display(),
            m.uid()
        ));
    }
    if m.mode() & 0o022 != 0 && m.mode() & 0o1000 == 0 {
        return Some(format!(
            "{} is writable by other users (mode {:o}); refusing to put the control socket there",
            dir.display(),
            m.mode() & 0o7777
        ));
    }
    None
}

fn peer_uid(stream: &UnixStream) -> Option<u32> {
    nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials)
        .ok()
        .map(|c| c.uid())
}

impl Server {
    /// Binds the socket (mode 0600). A live podinit already there is left
    /// alone (Err); a stale socket is replaced; anything else at the path
    /// (a regular file, a directory, a symlink) is never touched (Err). A
    /// missing directory is made (0700 unless root); a directory another
    /// user controls is refused, so nobody else can own the socket path.
    pub fn bind(path: &str) -> io::Result<Server> {
        use std::os::unix::fs::{DirBuilderExt, FileTypeExt};
        if let Some(dir) = std::path::Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            let root = crate::sys::euid() == 0;
            let _ = std::fs::DirBuilder::new()
                .recursive(true)
                .mode(if root { 0o755 } else { 0o700 })
                .create(dir);
            if let Some(why) = unfit_dir(dir) {
                return Err(io::Error::new(io::ErrorKind::PermissionDenied, why));
            }
        }
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_socket() => {
                if UnixStream::connect(path).is_ok() {
                    return Err(io::Error::new(
                        io::ErrorKind::AddrInUse,
                        format!("{path}: another podinit is listening there"),
                    ));
                }
                std::fs::remove_file(path)?; // stale: its podinit is gone
            }
            Ok(_) => {
                return Err(io::Error::new(
                    io::ErrorKind::AlreadyExists,
                    format!("{path} exists and is not a socket; podinit will not replace it"),
                ));
            }
            Err(_) => {}
        }
        // Bound (and listening) under a temporary name, then renamed into
        // place: a client that sees the path never meets a socket that is
        // not listening yet.
        let tmp = format!("{path}.{}", std::process::id());
        let _ = std::fs::remove_file(&tmp);
        // podinit has one thread: the umask is ours alone until restored.
        let old = umask(Mode::from_bits_truncate(0o177));
        let listener = UnixListener::bind(&tmp);
        umask(old);
        let listener = listener?;
        listener.set_nonblocking(true)?;
        if let Err(e) = std::fs::rename(&tmp, path) {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
        Ok(Server {
            listener,
            path: path.to_string(),
            clients: clients::Table::new(BUDGET),
        })
    }

    pub fn fd(&self) -> RawFd {
        self.listener.as_raw_fd()
    }

    /// Accepts what is waiting: (client id, fd) to watch, and the clients
    /// evicted to make room (told so; unwatch, then drop them).
    /// `free_fd` is asked for an fd when the limit is reached (the runtime
    /// evicts an incomplete HTTP client: operators come before the network).
    pub fn accept(
        &mut self,
        now: Instant,
        free_fd: &mut dyn FnMut() -> bool,
    ) -> (Vec<(u64, RawFd)>, Vec<UnixStream>) {
        let me = crate::sys::euid();
        let listener = &self.listener;
        let mut accept = || listener.accept().map(|(s, _)| s);
        let mut admit = |stream: &mut UnixStream| {
            // A refused client's request is taken in if it is there (never
            // waited for), so that closing is less likely to reset it; the
            // client reads our answer before any reset anyway.
            let _ = stream.set_nonblocking(true);
            match peer_uid(stream) {
                Some(uid) if uid == 0 || uid == me => true,
                other => {
                    let _ = stream.read(&mut [0u8; MAX_REQUEST]);
                    log::warn!("control socket: refused a client with uid {other:?}");
                    let _ = stream.write_all(b"error permission denied: only root or podinit's own user may use this socket\n");
                    false
                }
            }
        };
        let (new, mut evicted) = self.clients.accept(now, &mut accept, &mut admit, free_fd);
        for s in &mut evicted {
            let _ = s.write(b"error busy: too many clients; this one was the oldest waiting\n");
        }
        (new, evicted)
    }

    /// Reads from a client; returns its request line once complete (a last
    /// line without its newline counts when the client shuts its write
    /// side). A client that sends too much or leaves is dropped (`Err` with
    /// its fd).
    pub fn read(&mut self, id: u64) -> Result<Option<String>, RawFd> {
        let Some(c) = self.clients.get_mut(id) else {
            return Ok(None);
        };
        let eof = match clients::read_into(&mut c.stream, &mut c.buf, MAX_REQUEST) {
            Ok(eof) => eof,
            Err(e) => {
                if e.kind() == io::ErrorKind::InvalidData {
                    let _ = c.stream.write_all(b"error request too long\n");
                }
                return Err(self.drop_client(id).unwrap_or(-1));
            }
        };
        let end = c.buf.iter().position(|&b| b == b'\n');
        match end.or(Some(c.buf.len()).filter(|&n| eof && n > 0)) {
            Some(nl) => Ok(Some(String::from_utf8_lossy(&c.buf[..nl]).into_owned())),
            None if eof => Err(self.drop_client(id).unwrap_or(-1)),
            None => Ok(None),
        }
    }

    /// Starts sending the answer, without ever blocking the loop: what
    /// the socket does not take now is written as the client reads (a
    /// client that reads nothing for 5 s is dropped).
    pub fn answer(&mut self, id: u64, text: &[u8], now: Instant) -> Option<Answered> {
        if !self.clients.answer(id, text.to_vec(), now) {
            return None;
        }
        self.write_answer(id)
    }

    /// An event on a client being answered or following: a follower says
    /// nothing, so input from one is its close (or garbage); then write
    /// what its socket takes.
    pub fn on_answering(&mut self, id: u64) -> Option<Answered> {
        let c = self.clients.get_mut(id)?;
        if c.follow.is_some() {
            let mut buf = [0u8; 256];
            match c.stream.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                _ => return self.drop_client(id).map(Answered::Done),
            }
        }
        self.write_answer(id)
    }

    /// Writes what the client's socket takes now.
    pub fn write_answer(&mut self, id: u64) -> Option<Answered> {
        let c = self.clients.get_mut(id)?;
        let fd = c.stream.as_raw_fd();
        let (out, sent) = c.out.as_mut()?;
        while *sent < out.len() {
            match c.stream.write(&out[*sent..]) {
                Ok(n) if n > 0 => *sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    return Some(Answered::Pending(fd));
                }
                _ => return self.drop_client(id).map(Answered::Done), // gone
            }
        }
        if c.follow.is_some() {
            out.clear();
            *sent = 0;
            return Some(Answered::Following(fd));
        }
        self.drop_client(id).map(Answered::Done)
    }

    /// Whether client `id` is being answered or follows events (its events
    /// are for writing, or its close).
    pub fn answering(&self, id: u64) -> bool {
        self.clients.get(id).is_some_and(|c| c.out.is_some())
    }

    /// `events [--json]` or `logs -f`: the client follows from now on,
    /// after `first` (the answer's start: `ok` and what is there already).
    /// Beyond the followers' budget it is answered with a refusal instead.
    pub fn follow(&mut self, id: u64, what: Follow, first: Vec<u8>) -> Option<Answered> {
        if !self.clients.follow(id, what) {
            let text = format!(
                "error busy: {} clients follow already (the limit); one-shot verbs still work\n",
                BUDGET.followers
            );
            return self.answer(id, text.as_bytes(), Instant::now());
        }
        self.clients.answer(id, first, Instant::now());
        self.write_answer(id)
    }

    /// Whether anyone follows events (formatting them costs nothing then).
    pub fn has_followers(&self) -> bool {
        self.clients
            .iter()
            .any(|(_, c)| matches!(c.follow, Some(Follow::Events { .. })))
    }

    /// The processes whose output someone follows.
    pub fn followed_logs(&self) -> Vec<usize> {
        self.clients
            .iter()
            .filter_map(|(_, c)| match c.follow {
                Some(Follow::Logs(i)) => Some(i),
                _ => None,
            })
            .collect()
    }

    /// An event for every events follower, as a line of text or JSON.
    pub fn publish(&mut self, text: &str, json: &str) -> Vec<(u64, Answered)> {
        self.push_to(
            |f| matches!(f, Follow::Events { .. }),
            |f| {
                let mut line = if f == (Follow::Events { json: true }) {
                    json
                } else {
                    text
                }
                .as_bytes()
                .to_vec();
                line.push(b'\n');
                line
            },
        )
    }

    /// New output of process `idx` for its followers.
    pub fn publish_logs(&mut self, idx: usize, data: &[u8]) -> Vec<(u64, Answered)> {
        self.push_to(|f| f == Follow::Logs(idx), |_| data.to_vec())
    }

    /// Appends `what` to every follower `to` picks, and writes what its
    /// socket takes. A follower that has fallen `MAX_BEHIND` bytes behind is
    /// told so and dropped.
    fn push_to(
        &mut self,
        to: impl Fn(Follow) -> bool,
        what: impl Fn(Follow) -> Vec<u8>,
    ) -> Vec<(u64, Answered)> {
        let ids: Vec<(u64, Follow)> = self
            .clients
            .iter()
            .filter_map(|(id, c)| c.follow.filter(|&f| to(f)).map(|f| (id, f)))
            .collect();
        let mut out = Vec::new();
        for (id, follow) in ids {
            let Some(c) = self.clients.get_mut(id) else {
                continue;
            };
            let Some((buf, sent)) = c.out.as_mut() else {
                continue;
            };
            if buf.len() - *sent > MAX_BEHIND {
                let _ = c
                    .stream
                    .write(b"\nerror dropped: this client fell too far behind\n");
                log::warn!("control socket: dropped a following client that fell behind");
                if let Some(fd) = self.drop_client(id) {
                    out.push((id, Answered::Done(fd)));
                }
                continue;
            }
            buf.extend_from_slice(&what(follow));
            if let Some(state) = self.write_answer(id) {
                out.push((id, state));
            }
        }
        out
    }

    fn drop_client(&mut self, id: u64) -> Option<RawFd> {
        self.clients.remove(id).map(|s| s.as_raw_fd())
    }

    /// Clients that did not send a request (or read their answer) in time:
    /// their fds, dropped.
    pub fn expire(&mut self, now: Instant) -> Vec<RawFd> {
        let late = self.clients.expire(now);
        late.iter().map(|s| s.as_raw_fd()).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.clients.next_deadline()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Client side: connects to a server that is root's or ours, and sends
/// one request line.
fn send_request(
    path: &str,
    verb: Verb,
    args: &[String],
) -> Result<(UnixStream, io::Result<()>), String> {
    let mut s = UnixStream::connect(path).map_err(|e| {
        format!("no podinit is listening on {path} ({e}); is it running, and is this its control_socket?")
    })?;
    // Only root or our own user may answer in the pod's name: on a shared
    // host, another user could have put a socket of theirs at this path.
    let me = crate::sys::euid();
    match peer_uid(&s) {
        Some(uid) if uid == 0 || uid == me => {}
        other => {
            return Err(format!(
                "refusing to talk to {path}: it is served by uid {}, neither root nor you (uid {me})",
                other.map_or("unknown".to_string(), |u| u.to_string())
            ));
        }
    }
    let mut line = format!("{PROTOCOL} {}", verb.as_str());
    for a in args {
        if a.is_empty() || a.contains(char::is_whitespace) {
            return Err(format!("bad argument {a:?}"));
        }
        line.push(' ');
        line.push_str(a);
    }
    line.push('\n');
    let sent = s.write_all(line.as_bytes());
    Ok((s, sent))
}

/// Client side: `events` or `logs -f`: copies what comes to `out` as it
/// comes, until the server closes (the pod ended, or this client fell
/// behind).
pub fn follow(path: &str, verb: Verb, args: &[String], out: &mut dyn Write) -> Result<(), String> {
    let (s, sent) = send_request(path, verb, args)?;
    sent.map_err(|e| format!("{path}: {e}"))?;
    let mut r = std::io::BufReader::new(s);
    let mut first = String::new();
    std::io::BufRead::read_line(&mut r, &mut first).map_err(|e| e.to_string())?;
    if let Some(msg) = first.strip_prefix("error ") {
        return Err(msg.trim_end().to_string());
    }
    if first != "ok\n" {
        return Err(format!("unexpected answer from {path}: {first:?}"));
    }
    let mut line = String::new();
    loop {
        line.clear();
        match std::io::BufRead::read_line(&mut r, &mut line) {
            Ok(0) => return Ok(()),
            Ok(_) if line.starts_with("error ") => {
                return Err(line["error ".len()..].trim_end().to_string());
            }
            Ok(_) => {
                out.write_all(line.as_bytes()).map_err(|e| e.to_string())?;
                let _ = out.flush();
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Client side: sends one request, returns (ok, payload or message).
pub fn request(path: &str, verb: Verb, args: &[String]) -> Result<(bool, String), String> {
    let (mut s, sent) = send_request(path, verb, args)?;
    // A server that refuses us may have answered and closed already: read
    // its answer even when our request could not be sent.
    let mut bytes = Vec::new();
    // A server that refuses us may close before reading our request; what it
    // said before the reset still counts.
    let read = s.read_to_end(&mut bytes);
    if bytes.is_empty() {
        let e = sent.err().or(read.err());
        return Err(format!(
            "{path}: {}",
            e.map_or("no answer".to_string(), |e| e.to_string())
        ));
    }
    let answer = String::from_utf8_lossy(&bytes).into_owned();
    if let Some(rest) = answer.strip_prefix("ok\n") {
        Ok((true, rest.to_string()))
    } else if let Some(msg) = answer.strip_prefix("error ") {
        Ok((false, msg.trim_end().to_string()))
    } else {
        Err(format!("unexpected answer from {path}: {answer:?}"))
    }
}

/// One event as a line of JSON for `podinit events --json`.
pub fn event_json(time: &str, e: &crate::supervisor::Event, process: Option<&str>) -> String {
    format!(
        "{{\"time\":{},\"kind\":{},\"process\":{},\"level\":{},\"message\":{}}}",
        json_str(time),
        json_str(e.kind.as_str()),
        process.map_or("null".into(), json_str),
        json_str(&e.level.as_str().to_ascii_lowercase()),
        json_str(&e.text)
    )
}

/// A JSON status as a table for people.
/// The objects of a `status --json` answer (each one's text).
pub fn json_objects(json: &str) -> impl Iterator<Item = &str> {
    json.split("},{")
}

/// A field of a status object as text (`-` for null or missing): enough
/// for the answers podinit itself writes.
pub fn json_field(obj: &str, k: &str) -> String {
    let key = format!("\"{k}\":");
    let Some(i) = obj.find(&key) else {
        return "-".into();
    };
    let rest = &obj[i + key.len()..];
    let v = if let Some(r) = rest.strip_prefix('"') {
        r.split('"').next().unwrap_or("")
    } else {
        rest.split([',', '}', ']']).next().unwrap_or("")
    };
    if v == "null" {
        "-".into()
    } else {
        v.to_string()
    }
}

/// The pod's conditions line of `status` (`Initialized ✓ …`), from the JSON.
fn conditions_row(json: &str) -> String {
    let Some(i) = json.find("\"conditions\":{") else {
        return String::new();
    };
    let c = &json[i..];
    let cell = |k: &str| match json_field(c, k).as_str() {
        "true" => format!("{k}=True"),
        _ => format!("{k}=False"),
    };
    format!(
        "pod: {} {} {}\n",
        cell("Initialized"),
        cell("ContainersReady"),
        cell("Ready")
    )
}

pub fn status_table(json: &str) -> String {
    let scheduled = json.contains("\"next_run\":\"");
    let mut out = format!(
        "{:<16} {:<10} {:>7} {:>10} {:>6} {:>7} {:>8} {:>9} {:<5}{}\n",
        "NAME",
        "STATE",
        "PID",
        "UPTIME",
        "CPU",
        "MEM",
        "RESTARTS",
        "LAST-EXIT",
        "READY",
        if scheduled { " NEXT-RUN" } else { "" }
    );
    for obj in json_objects(json) {
        let field = |k: &str| json_field(obj, k);
        let up = field("uptime_ms");
        let (cpu, mem) = usage_cells(&up, &field("cpu_seconds"), &field("memory_bytes"));
        let up = match up.parse::<u64>() {
            Ok(ms) => human(ms),
            Err(_) => up,
        };
        let next = if scheduled {
            format!(" {}", field("next_run"))
        } else {
            String::new()
        };
        out.push_str(&format!(
            "{:<16} {:<10} {:>7} {:>10} {:>6} {:>7} {:>8} {:>9} {:<5}{next}\n",
            field("name"),
            field("state"),
            field("pid"),
            up,
            cpu,
            mem,
            field("restarts"),
            field("last_exit"),
            match (field("state").as_str(), field("ready").as_str()) {
                // A scheduled job between runs has no readiness: its state
                // and NEXT-RUN say what it is.
                ("scheduled", _) => "-",
                (_, "true") => "yes",
                _ => "no",
            }
        ));
    }
    out + &conditions_row(json)
}

/// The CPU cell (its average share of a core since it started: `status`
/// is one look; `top` shows the share between two looks) and the memory
/// cell of a status row, from its JSON fields.
pub fn usage_cells(uptime_ms: &str, cpu_seconds: &str, memory: &str) -> (String, String) {
    let cpu_ms = parse_millis(cpu_seconds);
    let cpu = match (uptime_ms.parse::<u64>(), cpu_ms) {
        (Ok(up), Some(c)) if up > 0 => percent(c, up),
        _ => "-".into(),
    };
    let mem = memory.parse::<u64>().map_or("-".into(), human_bytes);
    (cpu, mem)
}

/// `12.345` (seconds) as milliseconds.
pub fn parse_millis(secs: &str) -> Option<u64> {
    let (whole, frac) = secs.split_once('.').unwrap_or((secs, "0"));
    let frac = format!("{frac:0<3}");
    Some(whole.parse::<u64>().ok()? * 1000 + frac.get(..3)?.parse::<u64>().ok()?)
}

/// `part` of `whole` as a percentage with one decimal (`12.5%`).
pub fn percent(part: u64, whole: u64) -> String {
    let tenths = part.saturating_mul(1000) / whole.max(1);
    format!("{}.{}%", tenths / 10, tenths % 10)
}

/// Bytes as `980K`, `12.4M`, `1.2G`.
pub fn human_bytes(n: u64) -> String {
    let tenths = |unit: u64| n * 10 / unit;
    match n {
        n if n < 1 << 20 => format!("{}K", n.div_ceil(1024)),
        n if n < 1 << 30 => format!("{}.{}M", tenths(1 << 20) / 10, tenths(1 << 20) % 10),
        _ => format!("{}.{}G", tenths(1 << 30) / 10, tenths(1 << 30) % 10),
    }
}

pub fn human(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m{}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h{}m", s / 3600, s % 3600 / 60),
        _ => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table() {
        let j = r#"{"processes":[{"name":"db","state":"ready","pid":12,"uptime_ms":61000,"restarts":0,"last_exit":null,"ready":true,"cpu_seconds":6.100,"memory_bytes":13002342,"threads":3},{"name":"job","state":"completed","pid":null,"uptime_ms":null,"restarts":0,"last_exit":0,"ready":false,"cpu_seconds":null,"memory_bytes":null,"threads":null}]}"#;
        let t = status_table(j);
        assert!(
            t.contains("db               ready           12       1m1s  10.0%   12.3M        0         - yes"),
            "{t}"
        );
        assert!(
            t.contains("job              completed        -          -      -       -        0         0 no"),
            "{t}"
        );
    }

    #[test]
    fn usage_cells_in_integers() {
        assert_eq!(parse_millis("12.345"), Some(12_345));
        assert_eq!(parse_millis("2"), Some(2_000));
        assert_eq!(parse_millis("0.5"), Some(500));
        assert_eq!(percent(250, 1000), "25.0%");
        assert_eq!(percent(2_000, 1000), "200.0%");
        assert_eq!(human_bytes(1000), "1K");
        assert_eq!(human_bytes(5 << 30), "5.0G");
        assert_eq!(
            Usage {
                cpu_ms: 1_005,
                memory_bytes: 0,
                threads: 1
            }
            .cpu_seconds(),
            "1.005"
        );
    }
}
