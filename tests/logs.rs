//! Log routing with the real binary as PID 1: lossless floods to every kind
//! of target and format, ordering, last lines, rotation, a consumer killed
//! mid-flood, a slow console, a full disk.

mod common;

use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(120);

/// Perl that prints `n` numbered lines `TAG NNNNNNNNN xxx…` (100 bytes each).
fn flood(tag: &str, n: usize) -> String {
    format!(r#"["perl", "-e", "for $i (1..{n}) {{ printf \"{tag} %09d %s\\n\", $i, 'x' x 87 }}"]"#)
}

/// Checks that `lines` carry exactly the numbers 1..=n of `tag`, in order,
/// each intact.
fn check_sequence(what: &str, tag: &str, lines: &[String], n: usize) {
    let mut want = 1;
    for l in lines {
        let Some(pos) = l.find(&format!("{tag} ")) else {
            continue;
        };
        let rest = &l[pos + tag.len() + 1..];
        let num: usize = rest[..9]
            .parse()
            .unwrap_or_else(|_| panic!("{what}: corrupt line {l:?}"));
        assert_eq!(
            num, want,
            "{what}: line {want} expected, got {num} (lost, duplicated or reordered)"
        );
        assert!(
            rest[10..].starts_with(&"x".repeat(87)),
            "{what}: corrupt line {l:?}"
        );
        want += 1;
    }
    assert_eq!(want - 1, n, "{what}: {} of {n} lines arrived", want - 1);
}

fn lines(text: &str) -> Vec<String> {
    text.lines().map(str::to_string).collect()
}

#[test]
fn four_floods_to_four_targets_lose_nothing() {
    need_root!();
    let _x = exclusive();
    const N: usize = 671_089; // 64 MiB of 100-byte lines each
    let toml = format!(
        r#"
[process.sink]
command = ["sh", "-c", "exec cat > $DIR/consumed"]
[process.raw]
command = {}
oneshot = true
stdout = "file:$DIR/raw.log"
[process.json]
command = {}
oneshot = true
stdout = "file:$DIR/json.log"
log_format = "json"
log_timestamps = true
[process.console]
command = {}
oneshot = true
[process.piped]
command = {}
oneshot = true
stdout = "process:sink"
[process.main]
command = ["sh", "-c", "while [ ! -e $DIR/stop ]; do sleep 0.05; done"]
main = true
depends_on = ["raw", "json", "console", "piped"]
"#,
        flood("R", N),
        flood("J", N),
        flood("C", N),
        flood("P", N)
    );
    let pod = pod_pid1("flood", &toml, &[]);
    // Wait until the consumer has everything, then end the pod.
    let consumed = pod.dir.join("consumed");
    pod.wait_until("the consumer has everything", LIMIT, || {
        std::fs::metadata(&consumed).map(|m| m.len()).unwrap_or(0) >= (N * 100) as u64
    });
    std::fs::write(pod.dir.join("stop"), "").unwrap();
    let out = pod.wait(LIMIT);
    assert_eq!(
        out.code(),
        0,
        "{}",
        out.stderr.lines().take(20).collect::<Vec<_>>().join("\n")
    );
    check_sequence("raw file", "R", &lines(&out.dir.read("raw.log")), N);
    let json = lines(&out.dir.read("json.log"));
    assert!(
        json[0].starts_with("{\"time\":\"20")
            && json[0]
                .contains("\"process\":\"json\",\"stream\":\"stdout\",\"line\":\"J 000000001 "),
        "{}",
        json[0]
    );
    check_sequence("json file", "J", &json, N);
    let console: Vec<String> = lines(&out.stdout)
        .into_iter()
        .filter(|l| l.starts_with("console | "))
        .collect();
    check_sequence("console", "C", &console, N);
    check_sequence("process target", "P", &lines(&out.dir.read("consumed")), N);
}

#[test]
fn stderr_into_stdout_keeps_the_exact_order() {
    need_root!();
    let toml = r#"
[process.both]
command = ["perl", "-e", "$| = 1; for $i (1..2000) { print STDOUT \"out $i\\n\"; print STDERR \"err $i\\n\" }"]
main = true
stdout = "file:$DIR/both.log"
stderr = "stdout"
"#;
    let out = pod_pid1("interleave", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let got = out.dir.read("both.log");
    let want: String = (1..=2000).map(|i| format!("out {i}\nerr {i}\n")).collect();
    assert!(
        got == want,
        "order differs; first lines: {:?}",
        got.lines().take(6).collect::<Vec<_>>()
    );
}

#[test]
fn the_last_unterminated_line_is_delivered_as_a_line() {
    need_root!();
    let toml = r#"
[process.a]
command = ["sh", "-c", "printf 'first\nlast without newline'; printf 'err tail' >&2"]
main = true
[process.b]
command = ["sh", "-c", "printf 'json tail'"]
stdout = "file:$DIR/b.json"
log_format = "json"
oneshot = true
"#;
    // b must be done before a ends the pod.
    let toml = &toml.replace("main = true\n", "main = true\ndepends_on = [\"b\"]\n");
    let out = pod_pid1("lastline", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("a | first\na | last without newline\n"),
        "{:?}",
        out.stdout
    );
    assert!(out.stderr.contains("a | err tail\n"), "{}", out.stderr);
    // Its lines come before podinit reports the exit.
    let tail = out.stderr.find("a | err tail").unwrap();
    let exited = out.stderr.find("a exited").unwrap();
    assert!(tail < exited, "{}", out.stderr);
    assert!(out.dir.read("b.json").contains("\"line\":\"json tail\"}\n"));
}

#[test]
fn rotation_keeps_whole_lines_and_the_newest_files() {
    need_root!();
    let toml = format!(
        r#"
[process.r]
command = {}
main = true
stdout = "file:$DIR/r.log"
log_max_size = "10KiB"
log_max_files = 3
"#,
        flood("L", 500)
    );
    let out = pod_pid1("rotate", &toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let names = ["r.log.3", "r.log.2", "r.log.1", "r.log"];
    let mut all = Vec::new();
    for n in names {
        let text = out.dir.read(n);
        assert!(text.len() <= 10 * 1024, "{n} is {} bytes", text.len());
        assert!(text.is_empty() || text.ends_with('\n'), "{n} ends mid-line");
        all.extend(lines(&text));
    }
    assert!(
        !out.dir.join("r.log.4").exists(),
        "only 3 rotated files are kept"
    );
    // What is kept is the newest lines, contiguous, ending with the last one.
    let nums: Vec<usize> = all.iter().map(|l| l[2..11].parse().unwrap()).collect();
    assert_eq!(*nums.last().unwrap(), 500);
    assert!(nums.windows(2).all(|w| w[1] == w[0] + 1), "not contiguous");
    assert!(nums.len() >= 300, "only {} lines kept", nums.len());
}

/// `rchar - wchar` of a process (/proc/PID/io): what it has read and not
/// (yet) written, plus whatever it read at start-up.
fn io_gap(pid: i32) -> Option<i64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    let field = |k: &str| -> Option<i64> {
        io.lines()
            .find(|l| l.starts_with(k))?
            .split_whitespace()
            .nth(1)?
            .parse()
            .ok()
    };
    Some(field("rchar:")? - field("wchar:")?)
}

/// The gap of the consumer program when it holds nothing (its start-up reads).
fn idle_gap(script: &str) -> i64 {
    let dir = TempDir::new("idlegap");
    let mut child = std::process::Command::new("perl")
        .args([
            "-e",
            &script.replace("$DIR", &dir.path().to_string_lossy()),
            "consumer-marker",
        ])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Perl has started and waits on its empty stdin.
    let pid = child.id();
    await_true("the consumer waiting on stdin", LIMIT, || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        String::from_utf8_lossy(&cmd).contains("consumer-marker")
            && stat.rsplit(") ").next().is_some_and(|r| r.starts_with('S'))
    });
    let gap = io_gap(child.id() as i32).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    gap
}

/// SIGSTOPs `pid` at a moment it holds no data it has read but not written
/// (its io gap is the idle one), so that a SIGKILL loses nothing.
fn stop_at_chunk_boundary(pid: i32, idle: i64) {
    for _ in 0..2000 {
        // SAFETY: signals to a test-owned process.
        unsafe { libc::kill(pid, libc::SIGSTOP) };
        std::thread::sleep(Duration::from_millis(2));
        if io_gap(pid) == Some(idle) {
            return;
        }
        // SAFETY: as above.
        unsafe { libc::kill(pid, libc::SIGCONT) };
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("could not catch {pid} between chunks");
}

fn pid_of(pod_pid: i32, needle: &str) -> Option<i32> {
    processes_in_ns(pod_pid)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
}

#[test]
fn a_consumer_killed_twice_mid_flood_gets_every_line_exactly_once() {
    need_root!();
    let _x = exclusive();
    const N: usize = 300_000;
    let script = "open(F, '>>', '$DIR/got') or die; while (($n = sysread(STDIN, $b, 65536)) > 0) { syswrite(F, $b) == $n or die }";
    let idle = idle_gap(script);
    let toml = format!(
        r#"
[process.consumer]
command = ["perl", "-e", "{script}", "consumer-marker"]
restart_delay = "0s"
[process.producer]
command = ["perl", "-e", "for $i (1..{N}) {{ printf \"P %09d %s\\n\", $i, 'x' x 87; select(undef, undef, undef, 0.001) if $i % 1000 == 0 }}"]
stdout = "process:consumer"
oneshot = true
[process.main]
command = ["sh", "-c", "while [ ! -e $DIR/stop ]; do sleep 0.05; done"]
main = true
"#
    );
    let pod = pod_pid1("consumer", &toml, &[]);
    let got = pod.dir.join("got");
    let size = || std::fs::metadata(&got).map(|m| m.len()).unwrap_or(0);
    let deadline = Instant::now() + LIMIT;
    for kill_at in [(N * 100 / 4) as u64, (N * 100 / 2) as u64] {
        while size() < kill_at {
            assert!(
                Instant::now() < deadline,
                "flood stalled at {} bytes",
                size()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        let pid = pid_of(pod.pid, "consumer-marker").expect("consumer running");
        stop_at_chunk_boundary(pid, idle);
        // SAFETY: a test-owned process.
        unsafe { libc::kill(pid, libc::SIGKILL) };
        // Wait for the replacement.
        while pid_of(pod.pid, "consumer-marker").is_none_or(|p| p == pid) {
            assert!(Instant::now() < deadline, "consumer not restarted");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    while size() < (N * 100) as u64 {
        assert!(
            Instant::now() < deadline,
            "only {} of {} bytes",
            size(),
            N * 100
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::fs::write(pod.dir.join("stop"), "").unwrap();
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        out.stderr
            .matches("consumer exited (killed by SIGKILL")
            .count(),
        2,
        "{}",
        out.stderr
    );
    check_sequence("consumer", "P", &lines(&out.dir.read("got")), N);
}

#[test]
fn a_slow_console_slows_only_its_own_writer() {
    need_root!();
    let _x = exclusive();
    let dir = TempDir::new("slowconsole");
    let d = dir.path().to_string_lossy().into_owned();
    let toml = format!(
        r#"
[process.chatty]
command = ["perl", "-e", "print 'c' x 99, \"\\n\" while 1"]
[process.filer]
command = ["perl", "-e", "$SIG{{TERM}} = sub {{ open(T, '>', '{d}/filer-term'); exit 0 }}; $| = 1; for $i (1..100000) {{ printf \"F %09d %s\\n\", $i, 'x' x 87 }} open(D, '>', '{d}/filer-done'); close D; select(undef, undef, undef, 0.01) while 1"]
stdout = "file:{d}/filer.log"
"#
    );
    let cfg = dir.write("pod.toml", &toml);
    // podinit's stdout is a pipe nobody reads: the console is stuck.
    let mut child = pid1_command(!is_root())
        .arg("-c")
        .arg(&cfg)
        .stdout(std::process::Stdio::piped())
        .stderr(std::fs::File::create(dir.join("stderr")).unwrap())
        .spawn()
        .unwrap();
    let t0 = Instant::now();
    let done = dir.join("filer-done");
    while !done.exists() {
        assert!(
            t0.elapsed() < Duration::from_secs(20),
            "the file writer was held up by the console"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let filer_took = t0.elapsed();
    let podinit = {
        let kids =
            std::fs::read_to_string(format!("/proc/{0}/task/{0}/children", child.id())).unwrap();
        kids.split_whitespace()
            .next()
            .unwrap()
            .parse::<i32>()
            .unwrap()
    };
    let t1 = Instant::now();
    // SAFETY: signalling our podinit.
    unsafe { libc::kill(podinit, libc::SIGTERM) };
    let term = dir.join("filer-term");
    while !term.exists() {
        assert!(
            t1.elapsed() < Duration::from_secs(2),
            "SIGTERM was not acted on while the console is stuck"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let reacted = t1.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    check_sequence(
        "file beside a stuck console",
        "F",
        &lines(&dir.read("filer.log")),
        100_000,
    );
    assert!(
        reacted < Duration::from_millis(500),
        "took {reacted:?} to act on SIGTERM"
    );
    eprintln!("file writer finished in {filer_took:?}; SIGTERM acted on in {reacted:?}");
}

#[test]
fn a_full_disk_loses_nothing_once_space_returns() {
    need_real_root!();
    let _x = exclusive();
    let dir = TempDir::new("fulldisk");
    let mnt = dir.join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let m = mnt.to_string_lossy().into_owned();
    let ok = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs", &m])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        eprintln!("SKIPPED: cannot mount a tmpfs");
        return;
    }
    struct Unmount(String);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount")
                .arg("-l")
                .arg(&self.0)
                .status();
        }
    }
    let _u = Unmount(m.clone());
    const N: usize = 30_000; // 3 MB: does not fit in 1 MiB
    let toml = format!(
        r#"
[process.w]
command = {}
oneshot = true
stdout = "file:{m}/w.log"
[process.main]
command = ["sh", "-c", "while [ ! -e {d}/stop ]; do sleep 0.05; done"]
main = true
"#,
        flood("W", N),
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml);
    let cfg = cfg.to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_text("podinit.stderr", "No space left on device", LIMIT);
    // Nothing to await: a retry or two must fail in this time, and the test
    // proves they are not said again (one message below).
    std::thread::sleep(Duration::from_millis(1500));
    let ok = std::process::Command::new("mount")
        .args(["-o", "remount,size=16m", &m])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "remount failed");
    let log = std::path::PathBuf::from(format!("{m}/w.log"));
    pod.wait_until("delivery resumed", LIMIT, || {
        std::fs::metadata(&log).map(|x| x.len()).unwrap_or(0) >= (N * 100) as u64
    });
    std::fs::write(pod.dir.join("stop"), "").unwrap();
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("No space left on device").count(),
        1,
        "reported once:\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("delivery resumed"), "{}", out.stderr);
    check_sequence(
        "file on a full disk",
        "W",
        &lines(&std::fs::read_to_string(&log).unwrap()),
        N,
    );
}

#[test]
fn log_probe_sees_a_line_of_output() {
    need_root!();
    let toml = r#"
[process.dep]
command = ["sh", "-c", "echo booting; sleep 0.3; echo 'server: ready to accept connections'; exec sleep 100"]
ready = { log = "ready to accept" }
[process.app]
command = ["touch", "$DIR/app-ran"]
main = true
depends_on = ["dep"]
"#;
    let out = pod_pid1("logprobe", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let ready = out.stderr.find("dep is ready").expect("ready logged");
    let app = out.stderr.find("app started").expect("app started");
    assert!(ready < app, "{}", out.stderr);
}
