//! Drop-in mode (`podinit -- CMD`, no config) as tini: every signal
//! forwarded each time, no stop timer of podinit's own, the command's
//! status returned; `--stop-timeout` / `PODINIT_STOP_TIMEOUT` ask for
//! podinit's bounded stop instead.

mod common;

use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

fn drop_in(tag: &str, args: &[&str], script: &str, opts: &Opts) -> Pod {
    let dir = TempDir::new(tag);
    let script = script.replace("$DIR", &dir.path().to_string_lossy());
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--", "sh", "-c", &script]);
    Pod::start_pid1_with(dir, &all, opts)
}

/// A shell that appends the name of each signal it gets to `got`.
const RECORDER: &str = "trap 'echo INT >> $DIR/got' INT; trap 'echo QUIT >> $DIR/got' QUIT; \
     trap 'echo TERM >> $DIR/got; exit 5' TERM; touch $DIR/ready; while :; do sleep 0.02; done";

#[test]
fn a_child_that_handles_quit_keeps_running() {
    need_root!();
    let pod = drop_in("dq", &[], RECORDER, &Opts::default());
    pod.wait_file("ready", LIMIT);
    pod.signal(libc::SIGQUIT);
    pod.wait_text("got", "QUIT", LIMIT);
    // A fixed wait that proves nothing happens: the old 5 s kill timer
    // would have fired within it. The child is still there, and answers.
    std::thread::sleep(Duration::from_secs(10));
    assert!(alive(pod.pid));
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 5, "{}", out.stderr);
    assert!(!out.stderr.contains("SIGKILL"), "{}", out.stderr);
}

#[test]
fn a_slow_shutdown_ends_by_itself_with_its_status() {
    need_root!();
    let pod = drop_in(
        "dslow",
        &[],
        "trap 'sleep 8; exit 7' TERM; touch $DIR/ready; while :; do sleep 0.02; done",
        &Opts::default(),
    );
    pod.wait_file("ready", LIMIT);
    let (out, took) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 7, "{}", out.stderr);
    assert!(took >= Duration::from_secs(8), "{took:?}");
    assert!(!out.stderr.contains("SIGKILL"), "{}", out.stderr);
}

#[test]
fn int_then_quit_then_term_all_reach_the_child_in_order() {
    need_root!();
    let pod = drop_in("dorder", &[], RECORDER, &Opts::default());
    pod.wait_file("ready", LIMIT);
    for (sig, name) in [(libc::SIGINT, "INT"), (libc::SIGQUIT, "QUIT")] {
        pod.signal(sig);
        pod.wait_text("got", name, LIMIT);
    }
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 5, "{}", out.stderr);
    assert_eq!(out.dir.read("got"), "INT\nQUIT\nTERM\n");
}

#[test]
fn stop_timeout_asks_for_the_bounded_stop() {
    need_root!();
    let deaf = "trap '' TERM; touch $DIR/ready; while :; do sleep 0.02; done";
    let by_flag = drop_in("dst", &["--stop-timeout", "1s"], deaf, &Opts::default());
    let env = Opts {
        env: vec![("PODINIT_STOP_TIMEOUT".into(), "1s".into())],
        ..Opts::default()
    };
    let by_env = drop_in("dste", &[], deaf, &env);
    for pod in [by_flag, by_env] {
        pod.wait_file("ready", LIMIT);
        let (out, took) = pod.terminate(LIMIT);
        assert_eq!(out.code(), 137, "{}", out.stderr);
        assert!(
            out.stderr.contains("did not stop within 1s of SIGTERM"),
            "{}",
            out.stderr
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
    }
}

#[test]
fn a_bad_stop_timeout_is_a_usage_error_naming_it() {
    let dir = TempDir::new("dbad");
    let out = Pod::start_plain(dir, &["--stop-timeout", "soon", "--", "true"]).wait(LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--stop-timeout \"soon\""),
        "{}",
        out.stderr
    );
    let dir = TempDir::new("dbadc");
    let cfg = dir.write("p.toml", "[process.a]\ncommand = [\"true\"]\n");
    let cfg = cfg.to_string_lossy().into_owned();
    let out = Pod::start_plain(dir, &["-c", &cfg, "--stop-timeout", "1s"]).wait(LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("--stop-timeout is for drop-in mode"),
        "{}",
        out.stderr
    );
}

/// dumb-init's `test_proxies_signals`, init-agnostic: every catchable
/// signal sent to PID 1 reaches the command, in order, each time, and the
/// command keeps running (it handles them all). Not sent: the faults a
/// kernel raises in podinit itself (SEGV, BUS, ILL, FPE, ABRT, TRAP, SYS),
/// PIPE (podinit's own writes raise it) and the terminal stops, as tini.
#[test]
fn every_catchable_signal_is_proxied_in_order() {
    need_root!();
    if !has("python3") {
        eprintln!("SKIPPED: python3 is missing");
        return;
    }
    let script = "import os, signal, sys, time\n\
        f = open(os.environ['TEST_DIR'] + '/got', 'a', buffering=1)\n\
        def h(n, _): f.write('%d\\n' % n)\n\
        for n in set(range(1, 32)) - {9, 19, 17}: signal.signal(n, h)\n\
        open(os.environ['TEST_DIR'] + '/ready', 'w').close()\n\
        while True: time.sleep(1)\n";
    let dir = TempDir::new("dproxy");
    let pod = Pod::start_pid1(dir, &["--", "python3", "-c", script]);
    pod.wait_file("ready", LIMIT);
    let sent = [
        libc::SIGTERM,
        libc::SIGQUIT,
        libc::SIGCONT,
        libc::SIGINT,
        libc::SIGHUP,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGURG,
        libc::SIGWINCH,
        libc::SIGIO,
        libc::SIGPWR,
        libc::SIGTERM,
        libc::SIGINT,
    ];
    let mut want = String::new();
    for sig in sent {
        pod.signal(sig);
        want.push_str(&format!("{sig}\n"));
        pod.wait_until(&format!("SIG {sig} proxied"), LIMIT, || {
            pod.dir.read("got") == want
        });
    }
    assert!(alive(pod.pid));
}
