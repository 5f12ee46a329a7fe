//! A tiny harness: a temp dir, a config, and the real podinit binary run as
//! PID 1 of a fresh PID namespace (`unshare --pid --fork --mount-proc`), or
//! as a plain child when a test wants the subreaper path.
#![allow(dead_code)]

pub mod pty;
pub mod status;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_podinit");

/// Returns early from a test that needs a PID namespace for podinit as
/// PID 1, saying why: root has one, an ordinary user gets one inside an
/// unprivileged user namespace (the non-root CI lane runs these).
#[macro_export]
macro_rules! need_root {
    () => {
        if !$crate::common::can_be_pid1() {
            eprintln!(
                "SKIPPED: this test needs a PID namespace (root, or unprivileged user namespaces)"
            );
            return;
        }
    };
}

/// Returns early from a test that needs real root privileges (switching
/// users, mounts, an engine), saying so: the root CI lane runs it.
#[macro_export]
macro_rules! need_real_root {
    () => {
        if !$crate::common::is_root() {
            eprintln!(
                "SKIPPED here: this test needs root privileges; the root lane of .ci/run runs it"
            );
            return;
        }
    };
}

/// Whether podinit can be made PID 1 of a new PID namespace by this test.
pub fn can_be_pid1() -> bool {
    static OK: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *OK.get_or_init(|| {
        is_root()
            || Command::new("unshare")
                .args([
                    "--user",
                    "--map-current-user",
                    "--pid",
                    "--fork",
                    "--mount-proc",
                    "true",
                ])
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
    })
}

pub fn is_root() -> bool {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// A private temporary directory, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let p = std::env::temp_dir().join(format!(
            "podinit-test-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = fs::remove_dir_all(&p);
        fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The path as a string, for use inside configs and shell scripts.
    pub fn s(&self, name: &str) -> String {
        self.join(name).to_string_lossy().into_owned()
    }

    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        fs::write(&p, text).unwrap();
        p
    }

    pub fn read(&self, name: &str) -> String {
        fs::read_to_string(self.join(name)).unwrap_or_default()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if self.0.as_os_str().is_empty() {
            return;
        }
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A running podinit.
pub struct Pod {
    pub dir: TempDir,
    child: Child,
    /// podinit's pid as seen from the test (host namespace).
    pub pid: i32,
    pub started: Instant,
}

pub struct Outcome {
    /// The pod's directory, kept until the outcome is dropped.
    pub dir: TempDir,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl Outcome {
    pub fn code(&self) -> i32 {
        self.status.code().unwrap_or(-1)
    }
}

/// How to run podinit beyond its arguments: as whom, under which fd limit,
/// with which environment.
#[derive(Clone, Default)]
pub struct Opts {
    /// (uid, gid) to run as; the pod's dir is handed to that user. Needs
    /// root unless it is the test's own identity.
    pub user: Option<(u32, u32)>,
    /// The soft RLIMIT_NOFILE podinit starts with (the hard one is kept).
    pub nofile: Option<u64>,
    /// Start from an empty environment (PATH and TEST_DIR are still set).
    pub clear_env: bool,
    pub env: Vec<(String, String)>,
    /// Leave PODINIT_LOG unset (podinit's own default level).
    pub default_log: bool,
}

/// The command that makes podinit PID 1 of a new PID namespace. Without
/// root (the non-root CI lane, or a test that runs podinit as another
/// user), a user namespace that maps only the caller's own uid gives the
/// right to make it: podinit is still an ordinary user, without privileges.
pub fn pid1_command(unprivileged: bool) -> Command {
    let mut cmd = Command::new("unshare");
    if unprivileged {
        cmd.args(["--user", "--map-current-user"]);
    }
    cmd.args(["--pid", "--fork", "--mount-proc", "--kill-child", BIN]);
    cmd
}

/// PATH for processes a test starts: the system's, readable by any user
/// (a developer's PATH may point into root's home).
pub const SYSTEM_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

impl Pod {
    /// podinit as PID 1 of a new PID namespace, with `args`.
    pub fn start_pid1(dir: TempDir, args: &[&str]) -> Pod {
        Self::launch(dir, pid1_command(!is_root()), args, true)
    }

    /// podinit as PID 1 of a new PID namespace, run as `opts` say.
    pub fn start_pid1_with(dir: TempDir, args: &[&str], opts: &Opts) -> Pod {
        let unprivileged = !is_root() || opts.user.is_some_and(|(u, _)| u != 0);
        let mut cmd = pid1_command(unprivileged);
        apply(&mut cmd, &dir, opts);
        Self::launch(dir, cmd, args, true)
    }

    /// podinit as PID 1 started by `cmd`, a wrapper that ends by exec'ing
    /// `unshare --fork ... podinit` (podinit is its first child).
    pub fn start_wrapped(dir: TempDir, cmd: Command) -> Pod {
        Self::launch(dir, cmd, &[], true)
    }

    /// podinit as a plain child of the test (subreaper mode).
    pub fn start_plain(dir: TempDir, args: &[&str]) -> Pod {
        Self::launch(dir, Command::new(BIN), args, false)
    }

    fn launch(dir: TempDir, mut cmd: Command, args: &[&str], nested: bool) -> Pod {
        let out = fs::File::create(dir.join("podinit.stdout")).unwrap();
        let err = fs::File::create(dir.join("podinit.stderr")).unwrap();
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .env("TEST_DIR", dir.path());
        if cmd.get_envs().all(|(k, _)| k != "PODINIT_LOG") {
            cmd.env("PODINIT_LOG", "debug");
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("spawn podinit");
        let pid = if nested {
            find_child(&mut child)
        } else {
            child.id() as i32
        };
        Pod {
            dir,
            child,
            pid,
            started,
        }
    }

    pub fn signal(&self, sig: i32) {
        // Never kill(-1) or kill(0): a pod that is already gone has no pid.
        if self.pid > 0 {
            // SAFETY: kill with integer arguments.
            unsafe { libc::kill(self.pid, sig) };
        }
    }

    /// Waits for podinit to exit (killing it after `limit`), and collects its output.
    pub fn wait(mut self, limit: Duration) -> Outcome {
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                break st;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let st = self.child.wait().unwrap();
                panic!(
                    "podinit did not exit within {limit:?} ({st:?}); stderr:\n{}",
                    self.dir.read("podinit.stderr")
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let (stdout, stderr) = (
            self.dir.read("podinit.stdout"),
            self.dir.read("podinit.stderr"),
        );
        Outcome {
            dir: std::mem::replace(&mut self.dir, TempDir(PathBuf::new())),
            status,
            elapsed: self.started.elapsed(),
            stdout,
            stderr,
        }
    }

    /// Sends SIGTERM and waits for the exit; the outcome and how long the
    /// shutdown took from the signal on.
    pub fn terminate(self, limit: Duration) -> (Outcome, Duration) {
        let t0 = Instant::now();
        self.signal(libc::SIGTERM);
        let out = self.wait(limit);
        (out, t0.elapsed())
    }

    /// Waits until `name` exists in the pod's dir.
    pub fn wait_file(&self, name: &str, limit: Duration) {
        let p = self.dir.join(name);
        self.wait_until(&format!("{name} to appear"), limit, || p.exists());
    }

    /// Waits until `cond` holds (polled), failing after `limit` with `what`
    /// and podinit's stderr.
    pub fn wait_until(&self, what: &str, limit: Duration, cond: impl Fn() -> bool) {
        let ok = poll_until(limit, || cond().then_some(()));
        assert!(
            ok.is_some(),
            "{what}: not within {limit:?}; podinit stderr:\n{}",
            self.dir.read("podinit.stderr")
        );
    }

    /// Waits until file `name` in the pod's dir contains `needle`.
    pub fn wait_text(&self, name: &str, needle: &str, limit: Duration) {
        await_ok(&format!("{needle:?} in {name}"), limit, || {
            let text = self.dir.read(name);
            if text.contains(needle) {
                Ok(())
            } else {
                Err(text)
            }
        });
    }
}

impl Drop for Pod {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every `*.toml` under examples/ (examples/kubernetes/ too).
/// Polls `f` (every 10 ms, then less often) until it gives a value, for at
/// most `limit`. The one way the tests wait for something to happen.
pub fn poll_until<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    let mut pause = Duration::from_millis(10);
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(pause);
        pause = (pause * 3 / 2).min(Duration::from_millis(100));
    }
}

/// [`poll_until`], failing with `what` (and what the last look saw, which
/// `f` returns as `Err`) after `limit`.
pub fn await_ok<T, E: std::fmt::Display>(
    what: &str,
    limit: Duration,
    mut f: impl FnMut() -> Result<T, E>,
) -> T {
    let mut last = None;
    let got = poll_until(limit, || match f() {
        Ok(v) => Some(v),
        Err(e) => {
            last = Some(e.to_string());
            None
        }
    });
    match got {
        Some(v) => v,
        None => panic!(
            "{what}: not within {limit:?}; last seen: {}",
            last.unwrap_or_default()
        ),
    }
}

/// Waits until `cond` holds, failing with `what` after `limit`.
pub fn await_true(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    assert!(
        poll_until(limit, || cond().then_some(())).is_some(),
        "{what}: not within {limit:?}"
    );
}

pub fn example_files() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "toml") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"),
        &mut out,
    );
    out.sort();
    out
}

/// Applies `opts` to a command that starts podinit (directly or through
/// unshare), and hands the pod's dir to the user it runs as.
pub fn apply(cmd: &mut Command, dir: &TempDir, opts: &Opts) {
    use std::os::unix::process::CommandExt;
    if opts.clear_env {
        cmd.env_clear().env("PATH", SYSTEM_PATH);
    }
    for (k, v) in &opts.env {
        cmd.env(k, v);
    }
    if opts.default_log {
        cmd.env_remove("PODINIT_LOG");
    } else {
        cmd.env("PODINIT_LOG", "debug");
    }
    if let Some((uid, gid)) = opts.user {
        chown_tree(dir.path(), uid, gid);
        cmd.uid(uid).gid(gid);
    }
    if let Some(soft) = opts.nofile {
        // SAFETY: only setrlimit between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                let mut lim = libc::rlimit {
                    rlim_cur: 0,
                    rlim_max: 0,
                };
                libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
                lim.rlim_cur = soft;
                if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
}

/// Gives a tree to a user (a no-op for a test that is that user already).
pub fn chown_tree(p: &Path, uid: u32, gid: u32) {
    let _ = std::os::unix::fs::lchown(p, Some(uid), Some(gid));
    if p.is_dir() && !p.is_symlink() {
        for e in fs::read_dir(p).unwrap().flatten() {
            chown_tree(&e.path(), uid, gid);
        }
    }
}

/// The effective (uid, gid) of the test.
pub fn my_ids() -> (u32, u32) {
    // SAFETY: geteuid/getegid cannot fail.
    unsafe { (libc::geteuid(), libc::getegid()) }
}

/// The first child of `parent` (podinit under unshare); -1 when podinit
/// has already come and gone (a config error exits at once).
fn find_child(parent: &mut Child) -> i32 {
    let id = parent.id();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let kids = fs::read_to_string(format!("/proc/{id}/task/{id}/children")).unwrap_or_default();
        if let Some(p) = kids.split_whitespace().next() {
            return p.parse().unwrap();
        }
        if matches!(parent.try_wait(), Ok(Some(_))) {
            return -1;
        }
        assert!(Instant::now() < deadline, "unshare did not start podinit");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Writes a config into a fresh dir and runs podinit on it as PID 1.
pub fn pod_pid1(tag: &str, toml: &str, extra: &[&str]) -> Pod {
    let dir = TempDir::new(tag);
    let toml = toml.replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml);
    let cfg = cfg.to_string_lossy().into_owned();
    let mut args = vec!["-c", cfg.as_str()];
    args.extend_from_slice(extra);
    Pod::start_pid1(dir, &args)
}

/// pids of processes in the same PID namespace as `pid` (itself included),
/// with their state letter.
pub fn processes_in_ns(pid: i32) -> Vec<(i32, char)> {
    let Ok(ns) = fs::read_link(format!("/proc/{pid}/ns/pid")) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if fs::read_link(format!("/proc/{p}/ns/pid")).ok().as_ref() != Some(&ns) {
            continue;
        }
        let stat = fs::read_to_string(format!("/proc/{p}/stat")).unwrap_or_default();
        if let Some(i) = stat.rfind(')') {
            let st = stat[i + 1..].trim_start().chars().next().unwrap_or('?');
            out.push((p, st));
        }
    }
    out
}

/// Waits until some process has exactly this command line (NUL-separated
/// arguments, as /proc/PID/cmdline has them).
pub fn wait_process(cmdline: &str, limit: Duration) {
    await_true(&format!("a process {cmdline:?}"), limit, || {
        fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .any(|e| fs::read(e.path().join("cmdline")).is_ok_and(|c| c == cmdline.as_bytes()))
    });
}

/// Whether a pid is alive and not a zombie.
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rfind(')')
            .is_some_and(|i| !stat[i + 1..].trim_start().starts_with('Z')),
        Err(_) => false,
    }
}

/// Serializes the tests that load the machine heavily (fork storms) with
/// those that measure time, across threads and test processes alike.
pub struct Exclusive(#[allow(dead_code)] fs::File);

pub fn exclusive() -> Exclusive {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    let path = std::env::temp_dir().join("podinit-tests.lock");
    // Shared by both CI lanes: made 0666 by whichever comes first; flock
    // works on a read-only fd when the other lane's user made it.
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o666)
        .open(&path)
        .or_else(|_| fs::File::open(&path))
        .unwrap();
    // SAFETY: flock on an open fd; released when the file is closed.
    unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) };
    Exclusive(f)
}

/// Creates (once) `podinit-user` in a supplementary group: (uid, gid, extra gid).
pub fn test_user() -> Option<(u32, u32, u32)> {
    let run = |args: &[&str]| {
        std::process::Command::new(args[0])
            .args(&args[1..])
            .output()
            .ok()
    };
    let _lock = exclusive();
    run(&["groupadd", "-f", "podinit-extra"])?;
    if !run(&["id", "podinit-user"])?.status.success() {
        run(&["useradd", "-M", "-N", "-G", "podinit-extra", "podinit-user"])?;
    }
    let num = |flag: &str, name: &str| -> Option<u32> {
        String::from_utf8(run(&["id", flag, name])?.stdout)
            .ok()?
            .trim()
            .parse()
            .ok()
    };
    let extra = String::from_utf8(run(&["getent", "group", "podinit-extra"])?.stdout).ok()?;
    let extra_gid = extra.split(':').nth(2)?.parse().ok()?;
    Some((
        num("-u", "podinit-user")?,
        num("-g", "podinit-user")?,
        extra_gid,
    ))
}

/// Bytes as text, for messages.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The static podinit: `PODINIT_STATIC_BIN` if set, else built by
/// `scripts/build-static` into its own target dir (cargo's lock on the test
/// build's target dir is held while the tests run). A failed build fails
/// the tests: it is ours, not the machine's.
pub fn static_podinit() -> PathBuf {
    if let Some(p) = std::env::var_os("PODINIT_STATIC_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(root.join("scripts/build-static"))
        .env("CARGO_TARGET_DIR", root.join("target/e2e"))
        .output()
        .expect("run scripts/build-static");
    assert!(
        out.status.success(),
        "scripts/build-static failed: {}",
        text(&out.stderr)
    );
    let line = text(&out.stdout);
    let path = PathBuf::from(line.split_whitespace().next().unwrap_or_default());
    assert!(path.is_file(), "scripts/build-static printed {line:?}");
    path
}

/// A statically linked busybox (Debian's busybox-static), or why not.
pub fn static_busybox() -> Result<PathBuf, String> {
    let p = PathBuf::from("/bin/busybox");
    if !p.exists() {
        return Err("busybox is not installed (apt-get install busybox-static)".into());
    }
    let ldd = Command::new("ldd").arg(&p).output();
    match ldd {
        Ok(o) if !o.status.success() || text(&o.stdout).contains("not a dynamic") => Ok(p),
        Ok(o) if text(&o.stdout).contains("statically linked") => Ok(p),
        Ok(_) => Err("/bin/busybox is dynamically linked (apt-get install busybox-static)".into()),
        Err(e) => Err(format!("cannot run ldd: {e}")),
    }
}

/// A TCP port nobody listened on a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A control verb (`podinit VERB ARGS -c CFG`) that must succeed: its stdout.
pub fn ctl_ok(cfg: &str, args: &[&str]) -> String {
    let out = Command::new(BIN)
        .args(args)
        .args(["-c", cfg])
        .output()
        .unwrap();
    assert!(out.status.success(), "{args:?}: {}", text(&out.stderr));
    text(&out.stdout)
}

/// Whether `cmd` is on PATH (a test that drives a real tool skips without it).
pub fn has(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}
