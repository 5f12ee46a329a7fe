//! PID 1 under attack (RELIABILITY.md, "Servers and their budgets"): each
//! server podinit runs is flooded, held half-open or fed garbage while a
//! probe or an operator asks, and must still answer them.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::UnixStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

/// A kubelet's probe: connect, send the whole request, read the answer.
/// The kubelet waits 1 s; this waits 3 s, because the suite runs its tests
/// in parallel on two cores beside the flood: the test proves a probe is
/// answered, not how fast (bench/run measures latency). The status code,
/// or the error.
fn probe(port: u16, path: &str) -> Result<u16, String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nUser-Agent: kube-probe/1.31\r\n\r\n");
    s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    out.split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or(format!("no status line in {out:?}"))
}

fn http_pod(tag: &str, extra: &str) -> (Pod, u16) {
    let port = free_port();
    let toml = format!(
        "[podinit]\nhttp = \"127.0.0.1:{port}\"\ncontrol_socket = \"$DIR/ctl.sock\"\n[process.web]\ncommand = \"sleep 1000\"\n{extra}"
    );
    let pod = pod_pid1(tag, &toml, &[]);
    pod.wait_file("ctl.sock", LIMIT);
    pod.wait_until("http answers", LIMIT, || probe(port, "/livez").is_ok());
    (pod, port)
}

/// Keeps `n` connections that send an unfinished request, re-opened as
/// podinit drops them, until `stop`.
fn slow_flood(port: u16, n: usize, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<usize> {
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        let mut opened = 0;
        while !stop.load(Ordering::Relaxed) {
            held.retain(|s| {
                let mut b = [0u8; 1];
                s.set_nonblocking(true).unwrap();
                !matches!((&*s).read(&mut b), Ok(0) | Ok(_))
            });
            while held.len() < n {
                let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
                    break;
                };
                let _ = s.write_all(b"GET /readyz HTTP/1.1\r\n");
                held.push(s);
                opened += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        opened
    })
}

#[test]
fn probes_keep_answering_under_a_slow_client_flood() {
    need_root!();
    let (pod, port) = http_pod("aslow", "");
    let stop = Arc::new(AtomicBool::new(false));
    let flood = slow_flood(port, 64, stop.clone());
    // Nothing to await from outside: the flood's clients are silent. In
    // 300 ms they hold every slot (the test fails without the fix).
    std::thread::sleep(Duration::from_millis(300));
    let (mut ok, mut failed) = (0, Vec::new());
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        match probe(port, "/livez") {
            Ok(200) => ok += 1,
            other => failed.push(other),
        }
        std::thread::sleep(Duration::from_millis(100)); // a probe's period
    }
    stop.store(true, Ordering::Relaxed);
    let opened = flood.join().unwrap();
    eprintln!(
        "{ok} probes answered, {} not, against {opened} slow clients",
        failed.len()
    );
    assert!(opened > 64, "the flood never filled the table ({opened})");
    assert!(failed.is_empty(), "{ok} ok, failed: {failed:?}");
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn a_half_closed_request_is_answered() {
    need_root!();
    let (pod, port) = http_pod("ahalf", "");
    for req in [
        &b"GET /readyz HTTP/1.1\r\n\r\n"[..],
        b"GET /livez HTTP/1.0\r\n", // no blank line: the close ends it
    ] {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.write_all(req).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        assert!(out.starts_with("HTTP/1.1 200 OK"), "{req:?}: {out:?}");
    }
    // The control socket alike: a line without its newline, then EOF.
    let mut s = UnixStream::connect(pod.dir.join("ctl.sock")).unwrap();
    s.write_all(b"podinit/1 health").unwrap();
    s.shutdown(Shutdown::Write).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("ok"), "{out:?}");
    drop(pod);
}

fn ctl(pod: &Pod, args: &[&str]) -> (i32, String) {
    let cfg = pod.dir.s("pod.toml");
    let out = Command::new(BIN)
        .args(args)
        .args(["-c", &cfg])
        .output()
        .unwrap();
    let all = format!("{}{}", text(&out.stdout), text(&out.stderr));
    (out.status.code().unwrap_or(-1), all)
}

#[test]
fn followers_never_lock_operators_out() {
    need_root!();
    let (pod, _) = http_pod("afollow", "[process.quiet]\ncommand = \"sleep 1000\"\n");
    // Sixteen followers, each in before the next (its `ok` read).
    let followers: Vec<UnixStream> = (0..16)
        .map(|_| {
            let mut f = UnixStream::connect(pod.dir.join("ctl.sock")).unwrap();
            f.write_all(b"podinit/1 logs quiet -f\n").unwrap();
            f.set_read_timeout(Some(LIMIT)).unwrap();
            let mut ok = [0u8; 3];
            f.read_exact(&mut ok).unwrap();
            assert_eq!(&ok, b"ok\n");
            f
        })
        .collect();
    // Sixteen silent followers, plus sixteen silent one-shot clients.
    let sock = pod.dir.join("ctl.sock");
    let silent: Vec<_> = (0..16)
        .map(|_| UnixStream::connect(&sock).unwrap())
        .collect();
    // Nothing to await: silent clients make no sound. In 300 ms they are
    // all accepted, each in a slot.
    std::thread::sleep(Duration::from_millis(300));
    for verb in [
        &["health"][..],
        &["status"],
        &["stop", "quiet"],
        &["start", "quiet"],
    ] {
        let (code, out) = ctl(&pod, verb);
        assert_eq!(code, 0, "{verb:?}: {out}");
    }
    // A seventeenth follower is refused, saying why.
    let mut extra = UnixStream::connect(pod.dir.join("ctl.sock")).unwrap();
    extra.write_all(b"podinit/1 events\n").unwrap();
    extra.set_read_timeout(Some(LIMIT)).unwrap();
    let mut out = String::new();
    let _ = extra.read_to_string(&mut out);
    assert!(
        out.starts_with("error busy: 16 clients follow already"),
        "{out}"
    );
    drop(followers);
    drop(silent);
    drop(pod);
}

/// utime + stime of `pid`, in clock ticks.
fn cpu_ticks(pid: i32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, a)| a).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|u| u.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|s| s.parse::<u64>().ok()).unwrap_or(0)
}

#[test]
fn out_of_fds_does_not_spin_pid1_and_operators_are_answered() {
    need_root!();
    if !has("prlimit") {
        eprintln!("SKIPPED: prlimit is missing");
        return;
    }
    let dir = TempDir::new("aemfile");
    let port = free_port();
    let mut toml = format!(
        "[podinit]\nhttp = \"127.0.0.1:{port}\"\ncontrol_socket = \"{}\"\n",
        dir.s("ctl.sock")
    );
    for i in 0..8 {
        toml += &format!("[process.p{i}]\ncommand = \"sleep 1000\"\n");
    }
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let mut cmd = Command::new("prlimit");
    cmd.args(["--nofile=64:64", "--"]);
    let unshare = pid1_command(!is_root());
    cmd.arg(unshare.get_program()).args(unshare.get_args());
    cmd.args(["-c", &cfg]);
    let pod = Pod::start_wrapped(dir, cmd);
    pod.wait_file("ctl.sock", LIMIT);
    pod.wait_until("http answers", LIMIT, || probe(port, "/livez").is_ok());
    // Idle clients until accept runs out of fds.
    let idle: Vec<TcpStream> = (0..40)
        .filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok())
        .collect();
    pod.wait_text("podinit.stderr", "out of file descriptors", LIMIT);
    let t0 = cpu_ticks(pod.pid);
    std::thread::sleep(Duration::from_secs(2)); // measures that nothing spins
    let used = cpu_ticks(pod.pid) - t0;
    assert!(used < 50, "PID 1 used {used} ticks in 2 s: it spins");
    let (code, out) = ctl(&pod, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(probe(port, "/livez"), Ok(200));
    let warned = pod
        .dir
        .read("podinit.stderr")
        .matches("out of file descriptors")
        .count();
    assert_eq!(warned, 1, "the limit is named once");
    drop(idle);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn a_syslog_flood_and_a_control_flood_leave_probes_and_operators_answered() {
    need_root!();
    let extra = "syslog = { path = \"$DIR/log.sock\", stdout = \"file:$DIR/syslog.log\" }\n";
    let port = free_port();
    let toml = format!(
        "[podinit]\nhttp = \"127.0.0.1:{port}\"\ncontrol_socket = \"$DIR/ctl.sock\"\n{extra}[process.web]\ncommand = \"sleep 1000\"\n"
    );
    let pod = pod_pid1("aflood", &toml, &[]);
    pod.wait_file("ctl.sock", LIMIT);
    pod.wait_file("log.sock", LIMIT);
    let stop = Arc::new(AtomicBool::new(false));
    let (log, ctl_sock) = (pod.dir.join("log.sock"), pod.dir.join("ctl.sock"));
    let s1 = stop.clone();
    let syslog = std::thread::spawn(move || {
        let s = std::os::unix::net::UnixDatagram::unbound().unwrap();
        s.set_nonblocking(true).unwrap();
        let msg = [b'x'; 2000];
        let mut sent = 0u64;
        while !s1.load(Ordering::Relaxed) {
            if s.send_to(&msg, &log).is_ok() {
                sent += 1;
            } else {
                std::thread::yield_now();
            }
        }
        sent
    });
    let s2 = stop.clone();
    let garbage = std::thread::spawn(move || {
        let mut held = Vec::new();
        while !s2.load(Ordering::Relaxed) {
            if let Ok(mut c) = UnixStream::connect(&ctl_sock) {
                let _ = c.write_all(b"podinit/1 stat"); // never finished
                held.push(c);
            }
            if held.len() > 64 {
                held.drain(..32);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    });
    // The floods are under way (they make no answer to await).
    std::thread::sleep(Duration::from_millis(300));
    let until = Instant::now() + Duration::from_secs(4);
    let mut failures = Vec::new();
    let mut rounds = 0;
    while Instant::now() < until {
        rounds += 1;
        if let r @ (Err(_) | Ok(201..)) = probe(port, "/readyz") {
            failures.push(format!("readyz: {r:?}"));
        }
        let (code, out) = ctl(&pod, &["health"]);
        if code != 0 {
            failures.push(format!("health: {out}"));
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = syslog.join().unwrap();
    garbage.join().unwrap();
    eprintln!("{rounds} rounds against {sent} syslog datagrams and a garbage flood");
    assert!(failures.is_empty(), "{failures:?}");
    let (out, took) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(took < Duration::from_secs(5), "{took:?}");
}
