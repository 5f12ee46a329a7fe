//! The log router: every process's stdout and stderr, through podinit, to
//! its own target, in its own format, losing nothing.
//!
//! Each process stream is a pipe that podinit holds both ends of for the
//! whole pod (so a restart loses nothing and the next run appends). Its read
//! end is non-blocking and watched by the event loop. Bytes go through a
//! [`format::Framer`] into the queue of a sink (console, file, a consumer's
//! stdin). A sink whose queue is over `HIGH` pauses the streams that feed it
//! (their processes then block on a full pipe: backpressure for them alone);
//! below `LOW` they resume. A failing sink keeps its queue, says so once, and
//! retries every second. Boundary: I/O on pipes, files and the console only;
//! decisions about processes stay in the supervisor.

pub mod format;
mod sink;
pub mod syslog;
mod tail;

use std::collections::HashMap;

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::time::{Duration, Instant, SystemTime};

use nix::fcntl::{FcntlArg, fcntl};

use crate::config::{LogFormat, ProbeKind, ProcSpec, Target};
use crate::sys::Stdio;
pub use format::StreamKind;
use format::{Framer, LineWatch};
use sink::{Kind, STALL, Sink, sink_fd};
use tail::{Tail, bytecount_newlines};

/// What a sink writes to: one sink per console stream, file and consumer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum SinkKey {
    Console(StreamKind),
    File(String),
    Process(usize),
}

/// The output settings a process's streams were made for.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Signature {
    stdout: Target,
    stderr: Target,
    log_format: Option<LogFormat>,
    log_timestamps: bool,
    log_max_size: Option<u64>,
    log_max_files: u32,
    from_command_line: bool,
}

/// The "process" of a built-in source's stream (the syslog receiver).
pub const SOURCE: usize = usize::MAX;

/// A sink queue over this pauses its feeders; under `LOW` they resume.
const HIGH: usize = 1 << 20;
const LOW: usize = 256 << 10;
const READ_CHUNK: usize = 256 << 10;
/// Pipe capacity asked for (the default is 64 KiB; more means fewer wake-ups).
const PIPE_SIZE: i32 = 1 << 20;

struct Stream {
    proc: usize,
    read: OwnedFd,
    /// The child's end, kept open by podinit across restarts (never read:
    /// holding it is the point).
    #[allow(dead_code)]
    write: OwnedFd,
    framer: Framer,
    sink: usize,
    paused: bool,
    watch: Option<Box<LineWatch>>,
    kind: StreamKind,
    /// Newlines read so far (`podinit_log_lines_total`).
    lines: u64,
}

/// A change of what the event loop watches, for the runtime to apply: the
/// router decides, it never calls epoll (the runtime drains these with
/// [`Router::take_interest`] before it waits again).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// A new stream: watch `fd` for input as stream `sid`.
    NewStream { sid: usize, fd: RawFd },
    /// Read stream `sid` again (`true`) or pause it (`false`): its sink is
    /// over the high-water mark.
    ReadStream { sid: usize, fd: RawFd, on: bool },
    /// Wake up when sink `sink` can take more (`true`), or no longer.
    SinkRoom { sink: usize, fd: RawFd, on: bool },
}

pub struct Router {
    /// Watch changes not yet applied by the runtime.
    interest: Vec<Interest>,
    streams: Vec<Stream>,
    sinks: Vec<Sink>,
    /// Per process: what its stdin, stdout and stderr are.
    stdio: Vec<[Stdio; 3]>,
    /// Held open: `null` targets are this fd.
    #[allow(dead_code)]
    devnull: Option<OwnedFd>,
    null: Stdio,
    width: usize,
    colour: bool,
    /// Sinks by what they write to.
    by_key: HashMap<SinkKey, usize>,
    /// Per process, the output settings its current streams were made for.
    signature: Vec<Option<Signature>>,
    /// Bytes given to a `Discard` sink (a closed console).
    dropped: u64,
    /// Per process: its latest output, for `podinit logs`.
    tails: Vec<Tail>,
    /// The processes someone follows (`podinit logs -f`).
    watched: Vec<usize>,
    buf: Vec<u8>,
}

/// A stream pipe: close-on-exec, the read end non-blocking, and large.
fn pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let (r, w) = crate::sys::pipe()?;
    // A larger pipe is only an optimisation.
    let _ = fcntl(r.as_raw_fd(), FcntlArg::F_SETPIPE_SZ(PIPE_SIZE));
    Ok((r, w))
}

/// podinit's stdout or stderr as a sink fd that never blocks the loop: a
/// new non-blocking description of a pipe or terminal (so the shared one
/// keeps its flags), the fd itself for a regular file.
fn console_fd(fd: RawFd) -> Option<OwnedFd> {
    let st = nix::sys::stat::fstat(fd).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        let path = format!("/proc/self/fd/{fd}");
        if let Ok(f) = std::fs::OpenOptions::new()
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
            .open(&path)
        {
            return Some(f.into());
        }
    }
    // Our own fd of the same description (F_DUPFD_CLOEXEC; a regular
    // file keeps its O_APPEND).
    let dup: OwnedFd = match fd {
        1 => std::io::stdout().as_fd().try_clone_to_owned(),
        _ => std::io::stderr().as_fd().try_clone_to_owned(),
    }
    .ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        crate::sys::set_nonblocking(dup.as_raw_fd(), true);
    }
    Some(dup)
}

fn is_tty(fd: RawFd) -> bool {
    nix::unistd::isatty(fd).unwrap_or(false)
}

const COLOURS: &[u8] = &[36, 33, 32, 35, 34, 96, 93, 92, 95, 94, 31];

/// The width `prefix` pads names to: the longest name with a `prefix`
/// console stream (the `-- COMMAND` process keeps podinit's stdio).
fn prefix_width(specs: &[ProcSpec]) -> usize {
    specs
        .iter()
        .filter(|s| {
            !s.keeps_terminal()
                && [&s.stdout, &s.stderr]
                    .iter()
                    .any(|t| **t == Target::Console && s.format_for(t) == LogFormat::Prefix)
        })
        .map(|s| s.name.len())
        .max()
        .unwrap_or(0)
}

impl Router {
    pub fn new(specs: &[ProcSpec]) -> io::Result<Router> {
        let devnull: Option<OwnedFd> = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/null")
            .map(OwnedFd::from)
            .map_err(|e| {
                log::warn!("cannot open /dev/null ({e}); `null` output is read and dropped")
            })
            .ok();
        let null = devnull
            .as_ref()
            .map_or(Stdio::Inherit, |f| Stdio::Fd(f.as_raw_fd()));
        let width = prefix_width(specs);
        let mut r = Router {
            interest: Vec::new(),
            streams: Vec::new(),
            sinks: Vec::new(),
            stdio: Vec::new(),
            devnull,
            null,
            width,
            colour: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            by_key: HashMap::new(),
            signature: Vec::new(),
            dropped: 0,
            tails: Vec::new(),
            watched: Vec::new(),
            buf: vec![0; READ_CHUNK],
        };
        for idx in 0..specs.len() {
            r.add(idx, specs)?;
        }
        r.link_consumers(specs);
        Ok(r)
    }

    /// What of a spec decides its streams: a change makes new ones.
    fn signature_of(spec: &ProcSpec) -> Signature {
        Signature {
            stdout: spec.stdout.clone(),
            stderr: spec.stderr.clone(),
            log_format: spec.log_format,
            log_timestamps: spec.log_timestamps,
            log_max_size: spec.log_max_size,
            log_max_files: spec.log_max_files,
            from_command_line: spec.keeps_terminal(),
        }
    }

    /// After a reload: streams for new processes and for those whose output
    /// settings changed (their old streams stay, to be drained).
    pub fn update(&mut self, specs: &[ProcSpec], touched: &[usize]) -> io::Result<()> {
        for &idx in touched {
            if self.signature.get(idx).and_then(Option::as_ref)
                == Some(&Self::signature_of(&specs[idx]))
            {
                continue;
            }
            for s in self.streams.iter_mut().filter(|s| s.proc == idx) {
                s.watch = None;
            }
            self.add(idx, specs)?;
        }
        self.link_consumers(specs);
        // A longer name came in: every console prefix takes the new width.
        let width = prefix_width(specs);
        if width > self.width {
            self.width = width;
            for s in &mut self.streams {
                if let Some(spec) = specs.get(s.proc) {
                    s.framer.realign(&spec.name, width);
                }
            }
        }
        Ok(())
    }

    /// Consumers read their stdin from the pipe of their sink.
    fn link_consumers(&mut self, specs: &[ProcSpec]) {
        for (idx, spec) in specs.iter().enumerate() {
            if spec.keeps_terminal() {
                continue;
            }
            if let Some(&s) = self.by_key.get(&SinkKey::Process(idx))
                && let Kind::Pipe { read, .. } = &self.sinks[s].kind
            {
                self.stdio[idx][0] = Stdio::Fd(read.as_raw_fd());
            }
        }
    }

    /// Sets up the streams of process `idx` (and the sinks they need).
    fn add(&mut self, idx: usize, specs: &[ProcSpec]) -> io::Result<()> {
        let spec = &specs[idx];
        let null = self.null;
        if self.stdio.len() <= idx {
            self.stdio
                .resize(idx + 1, [null, Stdio::Inherit, Stdio::Inherit]);
            self.signature.resize(idx + 1, None);
        }
        self.signature[idx] = Some(Self::signature_of(spec));
        if self.tails.len() <= idx {
            self.tails.resize_with(idx + 1, Tail::default);
        }
        self.tails[idx].cap = spec.log_buffer as usize;
        if spec.keeps_terminal() {
            // The `-- COMMAND` process (or `tty = true`) keeps podinit's stdio, as with tini.
            self.stdio[idx] = [Stdio::Inherit, Stdio::Inherit, Stdio::Inherit];
            return Ok(());
        }
        self.stdio[idx] = [null, Stdio::Inherit, Stdio::Inherit];
        for (stream, target) in [
            (StreamKind::Stdout, &spec.stdout),
            (StreamKind::Stderr, &spec.stderr),
        ] {
            let fd = stream.console_fd() as usize; // its index in stdio
            match target {
                // One pipe for both streams keeps their order exactly.
                Target::Stdout => self.stdio[idx][2] = self.stdio[idx][1],
                Target::Null => self.stdio[idx][fd] = null,
                _ => {
                    let sink = self.sink_for(target, stream, spec, specs)?;
                    self.add_stream(idx, stream, sink, spec, target)?;
                }
            }
        }
        Ok(())
    }

    /// The sink of a target, made on first use (console, file, consumer).
    fn sink_for(
        &mut self,
        target: &Target,
        stream: StreamKind,
        spec: &ProcSpec,
        specs: &[ProcSpec],
    ) -> io::Result<usize> {
        let (key, label) = match target {
            Target::Console => (SinkKey::Console(stream), stream.as_str().to_string()),
            Target::File(p) => (SinkKey::File(p.clone()), p.clone()),
            Target::Process(c) => (
                SinkKey::Process(*c),
                format!("the stdin of {}", specs[*c].name),
            ),
            Target::Null | Target::Stdout => unreachable!("no sink of their own"),
        };
        if let Some(&s) = self.by_key.get(&key) {
            return Ok(s);
        }
        let kind = match target {
            Target::Console => match console_fd(stream.console_fd()) {
                Some(fd) => Kind::Console(fd),
                None => {
                    log::warn!("podinit's {label} is closed; console output of the pod is dropped");
                    Kind::Discard
                }
            },
            Target::File(p) => Kind::File {
                path: PathBuf::from(p),
                file: None,
                size: 0,
                max_size: spec.log_max_size,
                max_files: spec.log_max_files,
            },
            _ => {
                let (read, write) = pipe()?;
                // The consumer reads its stdin blocking, as usual.
                crate::sys::set_nonblocking(read.as_raw_fd(), false);
                crate::sys::set_nonblocking(write.as_raw_fd(), true);
                Kind::Pipe { read, write }
            }
        };
        self.sinks.push(Sink {
            kind,
            label,
            queue: Vec::new(),
            sent: 0,
            feeders: Vec::new(),
            failing: false,
            last_error: None,
            retry_at: None,
            want_out: false,
            blocked_since: None,
            stall_reported: false,
        });
        self.by_key.insert(key, self.sinks.len() - 1);
        Ok(self.sinks.len() - 1)
    }

    /// A new stream pipe of process `idx` into `sink` (to be watched: `Interest::NewStream`).
    fn add_stream(
        &mut self,
        idx: usize,
        stream: StreamKind,
        sink: usize,
        spec: &ProcSpec,
        target: &Target,
    ) -> io::Result<()> {
        let (read, write) = pipe()?;
        let sid = self.streams.len();
        self.interest.push(Interest::NewStream {
            sid,
            fd: read.as_raw_fd(),
        });
        self.stdio[idx][stream.console_fd() as usize] = Stdio::Fd(write.as_raw_fd());
        let framer = Self::framer(spec, target, self.width, self.colour, idx, stream);
        self.push_stream(idx, (read, write), framer, sink, stream);
        Ok(())
    }

    /// A new stream feeding `sink`; its id.
    fn push_stream(
        &mut self,
        proc: usize,
        (read, write): (OwnedFd, OwnedFd),
        framer: Framer,
        sink: usize,
        kind: StreamKind,
    ) -> usize {
        self.streams.push(Stream {
            proc,
            read,
            write,
            framer,
            sink,
            paused: false,
            watch: None,
            kind,
            lines: 0,
        });
        let sid = self.streams.len() - 1;
        self.sinks[sink].feeders.push(sid);
        sid
    }

    fn framer(
        spec: &ProcSpec,
        target: &Target,
        width: usize,
        colour: bool,
        idx: usize,
        stream: StreamKind,
    ) -> Framer {
        let tty = *target == Target::Console && is_tty(stream.console_fd());
        let c = (colour && tty).then(|| COLOURS[idx % COLOURS.len()]);
        Framer::new(
            spec.format_for(target),
            spec.log_timestamps,
            &spec.name,
            width,
            c,
            stream,
        )
    }

    /// A built-in log source (the syslog receiver), routed as a process's
    /// stdout would be by `spec`'s output keys; `specs` name consumers.
    /// Returns its stream id for [`Router::push_source`].
    pub fn add_source(&mut self, spec: &ProcSpec, specs: &[ProcSpec]) -> io::Result<usize> {
        let target = &spec.stdout;
        let sink = self.sink_for(target, StreamKind::Stdout, spec, specs)?;
        let width = self.width.max(spec.name.len());
        let kind = StreamKind::Stdout;
        let framer = Self::framer(spec, target, width, self.colour, specs.len(), kind);
        // Its pipe is never written nor watched: the source hands bytes
        // over directly (`push_source`).
        let sid = self.push_stream(SOURCE, pipe()?, framer, sink, kind);
        self.link_consumers(specs);
        Ok(sid)
    }

    /// Complete lines of a built-in source, if its sink has room (under
    /// `HIGH`); false: not taken, the source drops and counts them.
    pub fn push_source(&mut self, sid: usize, data: &[u8]) -> bool {
        let Some(s) = self.streams.get_mut(sid) else {
            return false;
        };
        let sink = s.sink;
        if self.sinks[sink].pending() >= HIGH {
            return false;
        }
        s.lines += bytecount_newlines(data);
        let q = &mut self.sinks[sink];
        if q.sent > 0 && q.sent == q.queue.len() {
            q.queue.clear();
            q.sent = 0;
        }
        s.framer.feed(data, SystemTime::now(), &mut q.queue);
        self.flush(sink, Instant::now());
        true
    }

    /// Lines read so far per (process, stream), across restarts and reloads.
    pub fn line_counts(&self) -> Vec<(usize, StreamKind, u64)> {
        let mut out: Vec<(usize, StreamKind, u64)> = Vec::new();
        for s in &self.streams {
            match out
                .iter_mut()
                .find(|(p, k, _)| *p == s.proc && *k == s.kind)
            {
                Some(row) => row.2 += s.lines,
                None => out.push((s.proc, s.kind, s.lines)),
            }
        }
        out
    }

    /// The last `n` lines process `idx` wrote (what its `log_buffer` holds).
    pub fn tail(&self, idx: usize, n: usize) -> Vec<u8> {
        self.tails
            .get(idx)
            .map_or_else(Vec::new, |t| t.last_lines(n))
    }

    /// Whether new output of process `idx` is kept for a follower.
    pub fn watch_tail(&mut self, idx: usize, on: bool) {
        let Some(t) = self.tails.get_mut(idx) else {
            return;
        };
        t.watched = on;
        if on {
            if !self.watched.contains(&idx) {
                self.watched.push(idx);
            }
        } else {
            t.fresh = Vec::new();
            self.watched.retain(|&i| i != idx);
        }
    }

    /// The processes whose new output is kept for a follower.
    pub fn watched_tails(&self) -> &[usize] {
        &self.watched
    }

    /// New output of the watched processes since the last call (only they
    /// are looked at: this runs at every turn of the loop).
    pub fn take_fresh(&mut self) -> Vec<(usize, Vec<u8>)> {
        let tails = &mut self.tails;
        self.watched
            .iter()
            .filter_map(|&i| {
                let t = tails.get_mut(i)?;
                (!t.fresh.is_empty()).then(|| (i, std::mem::take(&mut t.fresh)))
            })
            .collect()
    }

    /// Output bytes discarded (a console podinit could not write to).
    pub fn dropped_bytes(&self) -> u64 {
        self.dropped
    }

    /// `/dev/null` as a child's stdio (inherited when there is none).
    pub fn null(&self) -> Stdio {
        self.null
    }

    /// stdin, stdout, stderr for process `idx`.
    pub fn stdio(&self, idx: usize) -> [Stdio; 3] {
        self.stdio[idx]
    }

    /// Arms the `log` readiness probe of `idx` for its new run.
    pub fn watch(&mut self, idx: usize, spec: &ProcSpec) {
        let text = match spec.ready.as_ref().map(|p| &p.kind) {
            Some(ProbeKind::Log(t)) => Some(t.clone()),
            _ => None,
        };
        for s in self.streams.iter_mut().filter(|s| s.proc == idx) {
            s.watch = text.as_deref().map(|t| Box::new(LineWatch::new(t)));
        }
    }

    /// A stream is readable. Returns the process whose `log` probe just passed.
    pub fn on_stream(&mut self, sid: usize) -> Option<usize> {
        let sink = self.streams.get(sid)?.sink;
        if self.sinks[sink].pending() >= HIGH {
            self.pause(sid);
            return None;
        }
        let found = self.read_once(sid);
        self.flush(sink, Instant::now());
        if self.sinks[sink].pending() >= HIGH {
            self.pause(sid);
        }
        found
    }

    /// One read; Some(proc) when its log probe matched.
    fn read_once(&mut self, sid: usize) -> Option<usize> {
        let s = &mut self.streams[sid];
        let n = match nix::unistd::read(s.read.as_raw_fd(), &mut self.buf) {
            Ok(n) if n > 0 => n,
            _ => return None,
        };
        let data = &self.buf[..n];
        s.lines += bytecount_newlines(data);
        if let Some(t) = self.tails.get_mut(s.proc) {
            t.feed(data);
        }
        let sink = &mut self.sinks[s.sink];
        if sink.sent > 0 && sink.sent == sink.queue.len() {
            sink.queue.clear();
            sink.sent = 0;
        }
        s.framer.feed(data, SystemTime::now(), &mut sink.queue);
        let matched = s.watch.as_mut().is_some_and(|w| w.feed(data));
        if matched {
            s.watch = None;
            return Some(s.proc);
        }
        None
    }

    fn pause(&mut self, sid: usize) {
        let s = &mut self.streams[sid];
        if !s.paused {
            s.paused = true;
            self.interest.push(Interest::ReadStream {
                sid,
                fd: s.read.as_raw_fd(),
                on: false,
            });
        }
    }

    fn resume_feeders(&mut self, sink: usize) {
        for &sid in &self.sinks[sink].feeders {
            let s = &mut self.streams[sid];
            if s.paused {
                s.paused = false;
                self.interest.push(Interest::ReadStream {
                    sid,
                    fd: s.read.as_raw_fd(),
                    on: true,
                });
            }
        }
    }

    /// The watch changes decided since the last call, in order.
    pub fn take_interest(&mut self) -> Vec<Interest> {
        std::mem::take(&mut self.interest)
    }

    /// The loop could not watch sink `sink` for room (its fd cannot be
    /// polled): the next flush asks again.
    pub fn no_room_watch(&mut self, sink: usize) {
        if let Some(s) = self.sinks.get_mut(sink) {
            s.want_out = false;
        }
    }

    /// A sink that was full became writable.
    pub fn on_sink(&mut self, sink: usize) {
        if sink < self.sinks.len() {
            self.flush(sink, Instant::now());
        }
    }

    /// Everything a process left in its pipes, before its exit is acted on;
    /// an unterminated last line becomes a line. Returns a log-probe match.
    pub fn drain(&mut self, idx: usize) -> bool {
        let mut matched = false;
        let ids: Vec<usize> = (0..self.streams.len())
            .filter(|&s| self.streams[s].proc == idx)
            .collect();
        for sid in ids {
            // Bounded by what the pipe holds: the writer is gone.
            for _ in 0..(PIPE_SIZE as usize / READ_CHUNK + 2) {
                let before = self.sinks[self.streams[sid].sink].queue.len();
                matched |= self.read_once(sid).is_some();
                if self.sinks[self.streams[sid].sink].queue.len() == before {
                    break;
                }
            }
            let s = &mut self.streams[sid];
            let sink = &mut self.sinks[s.sink];
            s.framer.finish(SystemTime::now(), &mut sink.queue);
            let sink = s.sink;
            self.flush(sink, Instant::now());
        }
        matched
    }

    /// When a failing sink should be retried.
    pub fn next_retry(&self) -> Option<Instant> {
        let stalls = self
            .sinks
            .iter()
            .filter(|s| !s.stall_reported)
            .filter_map(|s| s.blocked_since.map(|t| t + STALL));
        self.sinks
            .iter()
            .filter_map(|s| s.retry_at)
            .chain(stalls)
            .min()
    }

    pub fn retry(&mut self, now: Instant) {
        for sink in &mut self.sinks {
            if let Some(t) = sink.blocked_since
                && !sink.stall_reported
                && now >= t + STALL
            {
                sink.stall_reported = true;
                log::warn!(
                    "{} has not been read for {}s; holding its writers' output until it is",
                    sink.label,
                    STALL.as_secs()
                );
            }
        }
        for i in 0..self.sinks.len() {
            if self.sinks[i].retry_at.is_some_and(|t| now >= t) {
                self.sinks[i].retry_at = None;
                self.flush(i, now);
            }
        }
    }

    /// At podinit's exit: every stream drained, every sink flushed (waiting
    /// up to `limit` for slow ones; a failing one gets one last try). What
    /// still could not be delivered is said, with where it was meant to go
    /// and why; returns the bytes lost.
    ///
    /// This is the one place podinit sleeps outside `epoll_wait`: the loop
    /// is over, nothing else is left to serve, and a slow console is worth
    /// a few milliseconds more rather than lost lines.
    pub fn finish(&mut self, limit: Duration) -> u64 {
        let procs: Vec<usize> = self.streams.iter().map(|s| s.proc).collect();
        for p in procs {
            self.drain(p);
        }
        for i in 0..self.sinks.len() {
            if self.sinks[i].failing {
                self.sinks[i].retry_at = None;
                self.flush(i, Instant::now());
            }
        }
        let deadline = Instant::now() + limit;
        loop {
            let waiting: Vec<usize> = (0..self.sinks.len())
                .filter(|&i| {
                    let s = &self.sinks[i];
                    s.pending() > 0 && !s.failing && !matches!(s.kind, Kind::Pipe { .. })
                })
                .collect();
            if waiting.is_empty() || Instant::now() >= deadline {
                break;
            }
            for i in waiting {
                self.flush(i, Instant::now());
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let mut lost = 0;
        for s in &self.sinks {
            let n = s.pending() as u64;
            if n == 0 || matches!(s.kind, Kind::Discard) {
                continue;
            }
            lost += n;
            let why = match (&s.last_error, &s.kind) {
                (Some(e), _) => e.clone(),
                (None, Kind::Pipe { .. }) => "the consumer did not read it before the end".into(),
                (None, _) => format!("not written within {limit:?}"),
            };
            log::error!(
                "{n} bytes of output meant for {} were lost at exit: {why}",
                s.label
            );
        }
        lost
    }

    /// Writes what a sink can take now; asks for a wake-up when it is full,
    /// no more when it is empty, and resumes its feeders under `LOW`.
    fn flush(&mut self, i: usize, now: Instant) {
        let sink = &mut self.sinks[i];
        if sink.retry_at.is_some() {
            return; // failing: wait for the retry
        }
        let full = sink.write_out(now, &mut self.dropped);
        if full
            && !sink.want_out
            && let Some(fd) = sink_fd(&sink.kind)
        {
            sink.want_out = true;
            self.interest.push(Interest::SinkRoom {
                sink: i,
                fd,
                on: true,
            });
        }
        if sink.pending() == 0 {
            sink.queue.clear();
            sink.sent = 0;
            if sink.want_out {
                sink.want_out = false;
                if let Some(fd) = sink_fd(&sink.kind) {
                    self.interest.push(Interest::SinkRoom {
                        sink: i,
                        fd,
                        on: false,
                    });
                }
            }
        } else if sink.sent > HIGH {
            // Keep the queue from growing at the front.
            sink.queue.drain(..sink.sent);
            sink.sent = 0;
        }
        if self.sinks[i].pending() <= LOW {
            self.resume_feeders(i);
        }
    }
}

#[cfg(test)]
mod tests;
