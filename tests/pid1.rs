//! PID 1's duties, with the real binary as PID 1 of a fresh PID namespace:
//! exit statuses, signal forwarding, reaping, ordered start and stop.

mod common;

use std::time::{Duration, Instant};

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

fn drop_in(tag: &str, script: &str) -> Pod {
    let dir = TempDir::new(tag);
    let script = script.replace("$DIR", &dir.path().to_string_lossy());
    Pod::start_pid1(dir, &["--", "sh", "-c", &script])
}

#[test]
fn exit_status_passes_through() {
    need_root!();
    let out = drop_in("exit3", "exit 3").wait(LIMIT);
    assert_eq!(out.code(), 3, "{}", out.stderr);
}

#[test]
fn a_child_killed_by_sigkill_gives_137() {
    need_root!();
    let out = drop_in("kill9", "kill -9 $$").wait(LIMIT);
    assert_eq!(out.code(), 137, "{}", out.stderr);
    assert!(out.stderr.contains("killed by SIGKILL"), "{}", out.stderr);
}

#[test]
fn term_reaches_the_child_and_its_own_status_is_returned() {
    need_root!();
    let pod = drop_in(
        "term",
        "trap 'echo got TERM; exit 42' TERM; touch $DIR/ready; while :; do sleep 0.02; done",
    );
    pod.wait_file("ready", LIMIT);
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 42, "{}", out.stderr);
    assert!(out.stdout.contains("got TERM"), "stdout: {}", out.stdout);
}

#[test]
fn usr1_is_forwarded_to_the_main() {
    need_root!();
    let pod = drop_in(
        "usr1",
        "trap 'echo got USR1; exit 11' USR1; touch $DIR/ready; while :; do sleep 0.02; done",
    );
    pod.wait_file("ready", LIMIT);
    pod.signal(libc::SIGUSR1);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 11, "{}", out.stderr);
    assert!(out.stdout.contains("got USR1"));
}

#[test]
fn a_command_that_does_not_exist_gives_127_and_names_it() {
    need_root!();
    let dir = TempDir::new("e127");
    let out = Pod::start_pid1(dir, &["--", "/no/such/program"]).wait(LIMIT);
    assert_eq!(out.code(), 127);
    assert!(out.stderr.contains("/no/such/program"), "{}", out.stderr);
    let dir = TempDir::new("e126");
    let p = dir.write("not-executable", "#!/bin/sh\n");
    let p = p.to_string_lossy().into_owned();
    let out = Pod::start_pid1(dir, &["--", &p]).wait(LIMIT);
    assert_eq!(out.code(), 126);
    assert!(out.stderr.contains(&p), "{}", out.stderr);
}

/// Perl, because it is in every Debian image and forks fast: makes `n`
/// orphans that all exit at the same moment (when their parent's pipe closes).
fn orphan_storm(n: usize, done: &str) -> String {
    format!(
        r#"perl -e 'pipe(R, W) or die; for (1..{n}) {{ my $p = fork; die "fork: $!" unless defined $p; if (!$p) {{ close W; sysread(R, my $b, 1); exit 0 }} }} open(F, ">", "{done}"); close F; exit 0'"#
    )
}

#[test]
fn five_thousand_orphans_leave_no_zombie() {
    need_root!();
    let _x = exclusive();
    let dir = TempDir::new("orphans");
    let storm = orphan_storm(5000, &dir.s("stormed"));
    let script = format!(
        "{storm}; touch {}/done; exec sleep 1000",
        dir.path().display()
    );
    let pod = Pod::start_pid1(dir, &["--", "sh", "-c", &script]);
    pod.wait_file("done", Duration::from_secs(60));
    // The orphans exit when perl does; podinit must reap all of them.
    // podinit, sh→sleep: nothing else may be left.
    await_ok("every orphan reaped", Duration::from_secs(20), || {
        let procs = processes_in_ns(pod.pid);
        let zombies = procs.iter().filter(|(_, st)| *st == 'Z').count();
        match (zombies, procs.len()) {
            (0, total) if total <= 2 => Ok(()),
            (z, total) => Err(format!("{z} zombies, {total} processes in the namespace")),
        }
    });
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(
        out.code(),
        143,
        "sleep dies of the forwarded TERM: {}",
        out.stderr
    );
}

#[test]
fn a_dependency_chain_starts_in_order_and_stops_in_reverse() {
    need_root!();
    let proc_ = |name: &str, dep: Option<&str>| {
        let mut s = format!(
            "[process.{name}]\ncommand = [\"sh\", \"-c\", \"trap 'echo stop {name} >> $DIR/order; exit 0' TERM; echo start {name} >> $DIR/order; touch $DIR/{name}.up; while :; do sleep 0.02; done\"]\n"
        );
        if let Some(d) = dep {
            s += &format!("depends_on = [\"{d}\"]\n");
        }
        s
    };
    let toml = proc_("a", None) + &proc_("b", Some("a")) + &proc_("c", Some("b"));
    let pod = pod_pid1("chain", &toml, &[]);
    for n in ["a", "b", "c"] {
        pod.wait_file(&format!("{n}.up"), LIMIT);
    }
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(
        out.code(),
        0,
        "no main: a requested shutdown is 0\n{}",
        out.stderr
    );
    let started: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains(" started (pid "))
        .map(|l| l.trim_start_matches("podinit: ").split(' ').next().unwrap())
        .collect();
    assert_eq!(started, ["a", "b", "c"], "{}", out.stderr);
    let order = out.dir.read("order");
    let stops: Vec<&str> = order.lines().filter(|l| l.starts_with("stop")).collect();
    assert_eq!(stops, ["stop c", "stop b", "stop a"], "{order}");
}

#[test]
fn a_term_ignoring_process_and_its_grandchild_are_killed_after_stop_timeout() {
    need_root!();
    let _x = exclusive();
    let toml = r#"
[process.stubborn]
command = ["sh", "-c", "trap '' TERM; sh -c 'trap \"\" TERM; echo $$ > $DIR/grandchild; exec sleep 1000' & touch $DIR/up; while :; do sleep 0.02; done"]
stop_timeout = "1500ms"
"#;
    let pod = pod_pid1("stubborn", toml, &[]);
    pod.wait_file("up", LIMIT);
    pod.wait_file("grandchild", LIMIT);
    let (out, took) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        took >= Duration::from_millis(1000) && took <= Duration::from_millis(2000),
        "shutdown took {took:?}, want 1.5 s ± 0.5 s\n{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("stubborn did not stop within 1500ms of SIGTERM; sending SIGKILL"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("stubborn stopped (killed by SIGKILL"),
        "{}",
        out.stderr
    );
}

#[test]
fn cooperative_shutdown_is_fast() {
    need_root!();
    let _x = exclusive();
    let toml = r#"
[process.a]
command = "sleep 1000"
[process.b]
command = "sleep 1000"
depends_on = ["a"]
[process.c]
command = ["sh", "-c", "touch $DIR/up; exec sleep 1000"]
depends_on = ["b"]
"#;
    // The best of three runs, so that one noisy moment on a shared machine
    // does not fail the test; the bench measures this properly.
    let mut best = Duration::MAX;
    for _ in 0..3 {
        let pod = pod_pid1("coop", toml, &[]);
        pod.wait_file("up", LIMIT);
        // Settle: the stop is timed from a pod at rest.
        std::thread::sleep(Duration::from_millis(50));
        let (out, took) = pod.terminate(LIMIT);
        best = best.min(took);
        assert_eq!(out.code(), 0, "{}", out.stderr);
    }
    assert!(
        best < Duration::from_millis(100),
        "cooperative shutdown took {best:?}"
    );
}

#[test]
fn config_errors_exit_2_and_start_nothing() {
    need_root!();
    let bad = [
        (
            "cycle",
            "[process.a]\ncommand = \"touch $DIR/spawned\"\ndepends_on = [\"b\"]\n[process.b]\ncommand = \"touch $DIR/spawned\"\ndepends_on = [\"a\"]\n",
            "dependency cycle: a -> b -> a",
        ),
        (
            "unknown",
            "[process.a]\ncommand = \"touch $DIR/spawned\"\n[process.b]\ncommand = \"touch $DIR/spawned\"\ndepends_on = [\"zz\"]\n",
            "unknown process \"zz\"",
        ),
        (
            "duration",
            "[process.a]\ncommand = \"touch $DIR/spawned\"\nstop_timeout = \"soon\"\n",
            "bad duration \"soon\"",
        ),
        (
            "signal",
            "[process.a]\ncommand = \"touch $DIR/spawned\"\nstop_signal = \"NOPE\"\n",
            "unknown signal \"NOPE\"",
        ),
        (
            "key",
            "[process.a]\ncommand = \"touch $DIR/spawned\"\ncomand = \"x\"\n",
            "unknown key",
        ),
    ];
    for (tag, toml, want) in bad {
        let pod = pod_pid1(tag, toml, &[]);
        let spawned = pod.dir.join("spawned");
        let out = pod.wait(LIMIT);
        assert_eq!(out.code(), 2, "{tag}: {}", out.stderr);
        assert!(out.stderr.contains(want), "{tag}: {}", out.stderr);
        assert!(
            out.stderr.contains("pod.toml:"),
            "{tag}: the message names the file: {}",
            out.stderr
        );
        assert!(!spawned.exists(), "{tag}: something was started");
    }
    // No config and no command is a usage error too.
    let out = Pod::start_pid1(TempDir::new("nocfg"), &[]).wait(LIMIT);
    assert_eq!(out.code(), 2);
}

#[test]
fn stray_daemons_are_swept_when_the_pod_ends() {
    need_root!();
    // The main double-forks a daemon that ignores TERM, then exits: podinit
    // must TERM, then KILL it, and exit as soon as it is gone.
    let toml = r#"
[process.m]
command = ["sh", "-c", "(setsid sh -c 'trap \"\" TERM; echo $$ > $DIR/daemon; exec sleep 1000' &); sleep 0.2; exit 5"]
main = true
stop_timeout = "300ms"
"#;
    let pod = pod_pid1("strays", toml, &[]);
    let t0 = Instant::now();
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 5, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("stray processes are still running; sending SIGKILL"),
        "{}",
        out.stderr
    );
    assert!(t0.elapsed() < Duration::from_secs(5), "{:?}", t0.elapsed());
}

#[test]
fn subreaper_mode_reaps_orphans_and_sweeps_them() {
    // Not PID 1: no namespace needed, so this runs without root too.
    let dir = TempDir::new("subreaper");
    let d = dir.path().to_string_lossy().into_owned();
    let script = format!(
        "(sleep 1000 & echo $! > {d}/orphan); touch {d}/ready; while [ ! -e {d}/go ]; do sleep 0.02; done; exit 6"
    );
    let pod = Pod::start_plain(dir, &["--", "sh", "-c", &script]);
    pod.wait_file("ready", LIMIT);
    let orphan: i32 = pod.dir.read("orphan").trim().parse().unwrap();
    let stat = std::fs::read_to_string(format!("/proc/{orphan}/stat")).unwrap();
    let ppid: i32 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        ppid, pod.pid,
        "the orphan was reparented to podinit, the subreaper"
    );
    std::fs::write(pod.dir.join("go"), "").unwrap();
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 6, "{}", out.stderr);
    assert!(!alive(orphan), "the orphan was left running");
    // Reaped by podinit, not by init: no /proc entry at all.
    assert!(
        !std::path::Path::new(&format!("/proc/{orphan}")).exists(),
        "orphan {orphan} not reaped"
    );
}

#[test]
fn check_prints_the_plan() {
    let dir = TempDir::new("check");
    let cfg = dir.write(
        "pod.toml",
        "[process.db]\ncommand = \"db\"\n[process.app]\ncommand = \"app\"\ndepends_on = [\"db\"]\nmain = true\n",
    );
    let out = std::process::Command::new(BIN)
        .args(["check", "-c"])
        .arg(&cfg)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(text.contains("start order"), "{text}");
    assert!(text.contains("  1. db\n  2. app\n"), "{text}");
    assert!(
        text.contains("stop order (the reverse):\n  1. app\n  2. db\n"),
        "{text}"
    );
}

#[test]
fn a_panic_kills_and_reaps_the_pod_and_exits_70() {
    // Not PID 1: the guard must find the pod's processes itself.
    let marker = format!(
        "{}.{}",
        1000 + std::process::id() % 1000,
        std::process::id()
    );
    let out = std::process::Command::new(BIN)
        .args(["--", "sleep", &marker])
        .env("PODINIT_TEST_PANIC", "1")
        .env("PODINIT_LOG", "info") // drop-in mode is quiet by default
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(70), "{err}");
    assert!(err.contains("internal error"), "{err}");
    assert!(err.contains("main started"), "the pod was running: {err}");
    let survivors: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains(&marker))
        .collect();
    assert!(
        survivors.is_empty(),
        "processes of the pod survived the panic: {survivors:?}"
    );
}

#[test]
fn the_config_is_found_through_podinit_config() {
    let dir = TempDir::new("envcfg");
    let cfg = dir.write(
        "pod.toml",
        "[podinit]\ncontrol_socket = \"\"\n[process.m]\ncommand = [\"sh\", \"-c\", \"exit 9\"]\nmain = true\n",
    );
    let out = std::process::Command::new(BIN)
        .env("PODINIT_CONFIG", &cfg)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // -c wins over the variable.
    let other = dir.write("other.toml", "[podinit]\ncontrol_socket = \"\"\n[process.m]\ncommand = [\"sh\", \"-c\", \"exit 4\"]\nmain = true\n");
    let out = std::process::Command::new(BIN)
        .env("PODINIT_CONFIG", &cfg)
        .arg("-c")
        .arg(&other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    // A PODINIT_CONFIG that does not exist is an error, not a fallback.
    let out = std::process::Command::new(BIN)
        .env("PODINIT_CONFIG", dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.toml"));
}

#[test]
fn stopped_processes_are_continued_so_they_act_on_their_stop_signal() {
    need_root!();
    // A process and a descendant that left its group (setsid), both
    // SIGSTOPped: a TERM they cannot act on until continued. podinit must
    // send SIGCONT after the stop signal, or both would wait for SIGKILL.
    // The outer one waits for the inner one, so the kernel's own SIGCONT to
    // an orphaned stopped group cannot stand in for podinit's.
    let dir = TempDir::new("stopped");
    let d = dir.path().display().to_string();
    dir.write(
        "inner.sh",
        &format!(
            "trap 'echo inner >> {d}/terms; exit 0' TERM\n\
             touch {d}/inner-ready; kill -STOP $$\n\
             while :; do sleep 0.05; done\n"
        ),
    );
    dir.write(
        "outer.sh",
        &format!(
            "trap 'wait; echo outer >> {d}/terms; exit 0' TERM\n\
             setsid sh {d}/inner.sh &\n\
             touch {d}/outer-ready; kill -STOP $$\n\
             while :; do sleep 0.05; done\n"
        ),
    );
    let cfg = dir.write(
        "pod.toml",
        &format!("[process.app]\ncommand = [\"sh\", \"{d}/outer.sh\"]\nstop_timeout = \"30s\"\n"),
    );
    let cfg = cfg.to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_file("outer-ready", LIMIT);
    pod.wait_file("inner-ready", LIMIT);
    pod.wait_until("the two shells stopped", LIMIT, || {
        processes_in_ns(pod.pid)
            .iter()
            .filter(|(_, st)| *st == 'T')
            .count()
            >= 2
    });
    let (out, took) = pod.terminate(LIMIT);
    assert!(
        !out.stderr.contains("did not stop"),
        "waited for SIGKILL:\n{}",
        out.stderr
    );
    assert!(took < Duration::from_secs(10), "{took:?}\n{}", out.stderr);
    let mut terms: Vec<String> = out.dir.read("terms").lines().map(String::from).collect();
    terms.sort();
    assert_eq!(terms, ["inner", "outer"], "{}", out.stderr);
}
