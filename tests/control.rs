//! The control socket and its verbs against a real pod (podinit as PID 1).

mod common;

use std::io::Write;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

/// A pod whose config names its own control socket in its dir.
fn pod(tag: &str, body: &str) -> (Pod, String) {
    let toml = format!("[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\n{body}");
    let pod = pod_pid1(tag, &toml, &[]);
    let cfg = pod.dir.s("pod.toml");
    pod.wait_file("ctl.sock", LIMIT);
    (pod, cfg)
}

/// Runs `podinit VERB ARGS -c CFG`; (exit code, stdout, stderr).
fn ctl(cfg: &str, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["-c", cfg])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Waits until `name` is in `state`; its status then.
fn wait_for(cfg: &str, name: &str, state: &str) -> status::ProcStatus {
    status::wait_status(cfg, name, LIMIT, |p| p.state == state)
}

const PODS: &str = r#"
[process.web]
command = "sleep 1000"
[process.job]
command = "true"
oneshot = true
[process.broken]
command = ["sh", "-c", "exit 3"]
restart = "never"
[process.slow]
command = "sleep 1000"
ready = { file = "/nonexistent/never", interval = "100ms" }
"#;

#[test]
fn status_reports_every_state() {
    need_root!();
    let (pod, cfg) = pod("status", PODS);
    let web = wait_for(&cfg, "web", "ready");
    assert!(
        web.ready && web.restarts == 0 && web.last_exit.is_none(),
        "{web:?}"
    );
    assert!(web.pid.is_some(), "{web:?}");
    let job = wait_for(&cfg, "job", "completed");
    assert!(
        job.pid.is_none() && job.last_exit == Some(0) && !job.ready,
        "{job:?}"
    );
    let broken = wait_for(&cfg, "broken", "exited");
    assert_eq!(broken.last_exit, Some(3), "{broken:?}");
    let slow = wait_for(&cfg, "slow", "running");
    assert!(!slow.ready, "{slow:?}");
    // Its readiness probe says why it is not ready.
    let slow = status::wait_status(&cfg, "slow", LIMIT, |p| p.probe_failure.is_some());
    assert_eq!(
        slow.probe_failure.as_deref(),
        Some("/nonexistent/never does not exist"),
        "{slow:?}"
    );
    // The table for people, and every process without names.
    let (code, table, _) = ctl(&cfg, &["status"]);
    assert_eq!(code, 0);
    assert!(table.starts_with("NAME"), "{table}");
    for n in ["web", "job", "broken", "slow"] {
        assert!(table.lines().any(|l| l.starts_with(n)), "{table}");
    }
    let (code, _, err) = ctl(&cfg, &["status", "nope"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown process \"nope\""), "{err}");
    pod.signal(libc::SIGTERM);
    pod.wait(LIMIT);
}

#[test]
fn stop_start_restart_and_signal() {
    need_root!();
    let (pod, cfg) = pod(
        "verbs",
        r#"
[process.web]
command = ["sh", "-c", "trap 'echo got-usr1 >> $DIR/signals' USR1; touch $DIR/armed.$$$$; while :; do sleep 0.05; done"]
"#,
    );
    let first = wait_for(&cfg, "web", "ready");
    // stop: stays stopped although its policy is `always`.
    assert_eq!(ctl(&cfg, &["stop", "web"]).0, 0);
    // An operator-stopped process shows as `stopped`, not `exited`.
    wait_for(&cfg, "web", "stopped");
    // Checking that nothing happens: a short window past its 200ms restart delay.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(
        status::status(&cfg, "web").state,
        "stopped",
        "restarted despite stop"
    );
    // start
    assert_eq!(ctl(&cfg, &["start", "web"]).0, 0);
    let started = wait_for(&cfg, "web", "ready");
    assert_ne!(first.pid, started.pid);
    let (code, _, err) = ctl(&cfg, &["start", "web"]);
    assert_eq!(code, 1, "start of a running process is an error");
    assert!(err.contains("running already"), "{err}");
    // restart: a new pid, restarts counted.
    assert_eq!(ctl(&cfg, &["restart", "web"]).0, 0);
    let restarted = status::wait_status(&cfg, "web", LIMIT, |p| {
        p.state == "ready" && p.pid != started.pid
    });
    assert_eq!(restarted.restarts, 1, "{restarted:?}");
    // signal, once the new run has its trap (it says so in a file)
    pod.wait_file(&format!("armed.{}", restarted.pid.unwrap()), LIMIT);
    assert_eq!(ctl(&cfg, &["signal", "web", "USR1"]).0, 0);
    pod.wait_file("signals", LIMIT);
    let (code, _, err) = ctl(&cfg, &["signal", "web", "NOPE"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown signal"), "{err}");
    let (code, _, err) = ctl(&cfg, &["stop", "ghost"]);
    assert_eq!(code, 1);
    assert!(err.contains("unknown process \"ghost\""), "{err}");
    pod.signal(libc::SIGTERM);
    assert_eq!(pod.wait(LIMIT).code(), 0);
}

#[test]
fn a_client_with_no_podinit_listening_gets_a_clear_message() {
    let dir = TempDir::new("nolisten");
    let cfg = dir.write(
        "pod.toml",
        &format!(
            "[podinit]\ncontrol_socket = \"{}/none.sock\"\n[process.a]\ncommand = \"true\"\n",
            dir.path().display()
        ),
    );
    let (code, _, err) = ctl(&cfg.to_string_lossy(), &["status"]);
    assert_eq!(code, 1);
    assert!(err.contains("no podinit is listening on"), "{err}");
}

#[test]
fn another_users_peer_is_refused_even_when_the_socket_is_world_writable() {
    need_real_root!();
    let (pod, cfg) = pod("peer", "[process.web]\ncommand = \"sleep 1000\"\n");
    let sock = pod.dir.join("ctl.sock");
    let mode = std::fs::metadata(&sock).unwrap().permissions();
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
        0o600,
        "created 0600"
    );
    std::fs::set_permissions(&sock, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let mut c = Command::new(BIN);
    c.args(["status", "-c", &cfg]);
    // SAFETY: setuid in the child before exec.
    unsafe {
        c.pre_exec(|| {
            if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let out = c.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("permission denied"), "{err}");
    pod.signal(libc::SIGTERM);
    pod.wait(LIMIT);
}

#[test]
fn garbage_and_silent_clients_do_not_delay_sigterm() {
    need_root!();
    let (pod, _cfg) = pod("garbage", "[process.web]\ncommand = \"sleep 1000\"\n");
    let sock = pod.dir.join("ctl.sock");
    // Silent clients that connect and never speak.
    let mut silent = Vec::new();
    for _ in 0..30 {
        if let Ok(s) = std::os::unix::net::UnixStream::connect(&sock) {
            silent.push(s);
        }
    }
    // A flood of garbage requests.
    for i in 0..200 {
        if let Ok(mut s) = std::os::unix::net::UnixStream::connect(&sock) {
            let junk = if i % 2 == 0 {
                vec![b'x'; 10_000]
            } else {
                b"podinit/9 explode\n".to_vec()
            };
            let _ = s.write_all(&junk);
        }
    }
    let (out, took) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        took < Duration::from_secs(1),
        "SIGTERM took {took:?} with clients hanging"
    );
    drop(silent);
}

#[test]
fn reload_adds_removes_and_changes_while_untouched_keep_their_pid() {
    need_root!();
    let (pod, cfg) = pod(
        "reload",
        r#"
[process.keep]
command = "sleep 1000"
[process.change]
command = "sleep 1000"
[process.gone_child]
command = ["sh", "-c", "trap 'echo gone_child >> $DIR/stops; exit 0' TERM; while :; do sleep 0.02; done"]
depends_on = ["gone_parent"]
[process.gone_parent]
command = ["sh", "-c", "trap 'echo gone_parent >> $DIR/stops; exit 0' TERM; while :; do sleep 0.02; done"]
"#,
    );
    let keep = wait_for(&cfg, "keep", "ready").pid;
    let change = wait_for(&cfg, "change", "ready").pid;
    wait_for(&cfg, "gone_child", "ready");
    let d = pod.dir.path().display().to_string();
    std::fs::write(
        &cfg,
        format!(
            r#"[podinit]
control_socket = "{d}/ctl.sock"
[process.keep]
command = "sleep 1000"
[process.change]
command = "sleep 999"
[process.fresh]
command = ["sh", "-c", "echo fresh-output; exec sleep 1000"]
stdout = "file:{d}/fresh.log"
depends_on = ["keep"]
"#
        ),
    )
    .unwrap();
    let (code, _, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 0, "{err}");
    wait_for(&cfg, "fresh", "ready");
    let changed = status::wait_status(&cfg, "change", LIMIT, |p| {
        p.restarts == 1 && p.state == "ready"
    });
    assert_ne!(changed.pid, change, "a changed process restarts");
    assert_eq!(
        status::status(&cfg, "keep").pid,
        keep,
        "an untouched process keeps its pid"
    );
    let (code, _, err) = ctl(&cfg, &["status", "gone_child"]);
    assert_eq!(code, 1, "removed processes are gone from status");
    assert!(err.contains("unknown process"), "{err}");
    // Removed ones stopped in reverse dependency order: the dependent first.
    pod.wait_until("removed processes stopped", LIMIT, || {
        pod.dir.read("stops").lines().count() >= 2
    });
    assert_eq!(pod.dir.read("stops"), "gone_child\ngone_parent\n");
    // The new process's output follows its target.
    pod.wait_text("fresh.log", "fresh-output", LIMIT);
    // An invalid config changes nothing and is reported.
    std::fs::write(
        &cfg,
        format!("[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n[process.keep]\ncommand = 5\n"),
    )
    .unwrap();
    let (code, _, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 1);
    assert!(err.contains("pod.toml:4: process.keep.command"), "{err}");
    assert_eq!(status::status(&cfg, "keep").pid, keep);
    assert_eq!(status::status(&cfg, "fresh").state, "ready");
    // SIGHUP with the broken file: reported, nothing changes.
    pod.signal(libc::SIGHUP);
    pod.wait_until("the SIGHUP reload reported", LIMIT, || {
        pod.dir
            .read("podinit.stderr")
            .matches("reload failed")
            .count()
            == 2
    });
    assert_eq!(status::status(&cfg, "keep").pid, keep);
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // Logged both times: for the verb (which also answered it) and for SIGHUP.
    assert_eq!(
        out.stderr.matches("reload failed, nothing changed").count(),
        2,
        "{}",
        out.stderr
    );
}

#[test]
fn a_reload_that_adds_a_longer_name_realigns_every_prefix() {
    need_root!();
    let (pod, cfg) = pod(
        "realign",
        r#"
[process.a]
command = ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]
"#,
    );
    let wait_stdout = |needle: &str| pod.wait_text("podinit.stdout", needle, LIMIT);
    wait_stdout("a | tick\n");
    let d = pod.dir.path().display().to_string();
    std::fs::write(
        &cfg,
        format!(
            r#"[podinit]
control_socket = "{d}/ctl.sock"
[process.a]
command = ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]
[process.longer_name]
command = ["sh", "-c", "echo hello; exec sleep 1000"]
"#
        ),
    )
    .unwrap();
    let (code, _, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 0, "{err}");
    // The untouched process's lines now line up with the new name's.
    wait_stdout("longer_name | hello\n");
    wait_stdout("a           | tick\n");
    pod.terminate(LIMIT);
}

#[test]
fn the_parser_reads_podinits_status() {
    let s = status::parse_status(
        r#"{"processes":[{"name":"we\"b","state":"ready","pid":12,"uptime_ms":5,"restarts":0,"last_exit":null,"ready":true,"probe_failure":"HTTP 503"}]}"#,
    );
    assert_eq!(s[0].name, "we\"b");
    assert_eq!(
        (s[0].pid, s[0].ready, s[0].last_exit),
        (Some(12), true, None)
    );
    assert_eq!(s[0].probe_failure.as_deref(), Some("HTTP 503"));
}

#[test]
fn health_answers_for_probes_with_the_reason() {
    need_root!();
    let (pod, cfg) = pod(
        "health",
        r#"
[process.web]
command = "sleep 1000"
[process.slow]
command = "sleep 1000"
ready = { file = "$DIR/slow-ready", interval = "50ms" }
"#,
    );
    wait_for(&cfg, "web", "ready");
    let (code, _, err) = ctl(&cfg, &["health"]);
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("health: not ready: slow is running")
            && err.contains("slow-ready does not exist"),
        "{err}"
    );
    let (code, out, err) = ctl(&cfg, &["health", "--live"]);
    assert_eq!((code, out.as_str()), (0, "live\n"), "{err}");
    pod.dir.write("slow-ready", "");
    wait_for(&cfg, "slow", "ready");
    let (code, out, err) = ctl(&cfg, &["health"]);
    assert_eq!((code, out.as_str()), (0, "ready: 2 processes\n"), "{err}");
    let (code, _, err) = ctl(&cfg, &["health", "--bogus"]);
    assert_eq!(code, 2, "{err}");
    pod.signal(libc::SIGTERM);
    pod.wait(LIMIT);
}

#[test]
fn events_follow_state_changes_as_they_happen() {
    need_root!();
    let (pod, cfg) = pod(
        "events",
        "[process.web]\ncommand = \"sleep 1000\"\n[process.job]\ncommand = [\"sh\", \"-c\", \"exit 3\"]\nrestart = \"on-failure\"\nrestart_delay = \"10s\"\n",
    );
    wait_for(&cfg, "web", "ready");
    let follow = |json: bool, file: &str| {
        let mut c = Command::new(BIN);
        c.args(["events", "-c", &cfg]);
        if json {
            c.arg("--json");
        }
        c.stdout(std::fs::File::create(pod.dir.join(file)).unwrap())
            .spawn()
            .unwrap()
    };
    let mut text = follow(false, "events.txt");
    let mut json = follow(true, "events.json");
    // Both followers are in before anything happens. (Nothing to await: a
    // follower hears nothing until an event comes.)
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ctl(&cfg, &["stop", "web"]).0, 0);
    pod.wait_text("events.txt", "stopped web: web stopped", LIMIT);
    assert_eq!(ctl(&cfg, &["start", "web"]).0, 0);
    pod.wait_text("events.txt", "started web: web started", LIMIT);
    let lines = pod.dir.read("events.txt");
    assert!(
        lines.contains(" operator web: stop: stopping web as asked"),
        "{lines}"
    );
    pod.wait_text("events.json", "\"kind\":\"started\"", LIMIT);
    for line in pod.dir.read("events.json").lines() {
        let v = status::Json::parse(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(matches!(v.get("kind"), status::Json::Str(_)), "{line}");
        assert!(matches!(v.get("time"), status::Json::Str(_)), "{line}");
    }
    // The pod ends: the followers see the exit, then the end of the stream.
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert!(text.wait().unwrap().success());
    assert!(json.wait().unwrap().success());
    assert!(
        out.dir
            .read("events.txt")
            .contains(" shutdown -: received SIGTERM"),
        "{}",
        out.dir.read("events.txt")
    );
}

#[test]
fn logs_shows_the_last_lines_and_follows() {
    need_root!();
    let (pod, cfg) = pod(
        "logs",
        r#"
[process.web]
command = ["sh", "-c", "for i in 1 2 3 4 5; do echo line $i; done; echo oops >&2; while [ ! -e $DIR/more ]; do sleep 0.02; done; echo after; exec sleep 1000"]
stdout = "file:$DIR/web.log"
[process.quiet]
command = "sleep 1000"
log_buffer = "0"
"#,
    );
    pod.wait_text("web.log", "line 5", LIMIT);
    // Whatever its own target (a file here), the ring has it.
    let out = await_ok("web's last lines", LIMIT, || {
        let (code, out, err) = ctl(&cfg, &["logs", "web", "-n", "3"]);
        assert_eq!(code, 0, "{err}");
        if out.contains("oops") {
            Ok(out)
        } else {
            Err(out)
        }
    });
    assert_eq!(out, "line 4\nline 5\noops\n");
    let (code, out, _) = ctl(&cfg, &["logs", "quiet"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (code, _, err) = ctl(&cfg, &["logs", "nope"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("unknown process \"nope\" (processes: web, quiet)"),
        "{err}"
    );
    // -f: the last lines, then what comes.
    let mut follow = Command::new(BIN)
        .args(["logs", "web", "-n", "1", "-f", "-c", &cfg])
        .stdout(std::fs::File::create(pod.dir.join("followed")).unwrap())
        .spawn()
        .unwrap();
    pod.wait_text("followed", "oops", LIMIT);
    pod.dir.write("more", "");
    pod.wait_text("followed", "oops\nafter\n", LIMIT);
    pod.signal(libc::SIGTERM);
    pod.wait(LIMIT);
    assert!(follow.wait().unwrap().success());
}
