//! Pod lifecycle with the real binary as PID 1: every probe kind against
//! something real, restarts, failing oneshots, process setup.

mod common;

use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// The lines podinit logged, in order, without the `podinit: ` prefix.
fn events(stderr: &str) -> Vec<String> {
    stderr
        .lines()
        .map(|l| l.trim_start_matches("podinit: ").to_string())
        .collect()
}

fn position(stderr: &str, needle: &str) -> usize {
    events(stderr)
        .iter()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not logged:\n{stderr}"))
}

/// A pod whose `app` (main) depends on `dep` being ready; `app` exits 0 at once.
fn gated(tag: &str, dep: &str) -> Outcome {
    let toml = format!(
        "{dep}\n[process.app]\ncommand = [\"sh\", \"-c\", \"touch $DIR/app-ran\"]\nmain = true\ndepends_on = [\"dep\"]\n"
    );
    let pod = pod_pid1(tag, &toml, &[]);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.dir.join("app-ran").exists());
    assert!(
        position(&out.stderr, "dep is ready") < position(&out.stderr, "app started"),
        "{}",
        out.stderr
    );
    out
}

#[test]
fn tcp_probe_waits_for_a_real_listener() {
    need_root!();
    let port = free_port();
    let dep = format!(
        r#"[process.dep]
command = ["python3", "-c", "import socket, time; time.sleep(0.4); s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(100)"]
ready = {{ tcp = "127.0.0.1:{port}", interval = "100ms" }}"#
    );
    let out = gated("tcp", &dep);
    assert!(
        out.stderr.contains("dep is not ready yet"),
        "the probe failed first: {}",
        out.stderr
    );
}

#[test]
fn http_probe_needs_a_2xx_or_3xx_status() {
    need_root!();
    let port = free_port();
    // 404 until the file exists, then 200.
    let dep = format!(
        r#"[process.dep]
command = ["sh", "-c", "cd $DIR && (sleep 0.4; touch ok) & cd $DIR && exec python3 -m http.server {port} --bind 127.0.0.1"]
ready = {{ http = "http://127.0.0.1:{port}/ok", interval = "100ms" }}"#
    );
    let out = gated("http", &dep);
    assert!(
        out.stderr.contains("dep is not ready yet"),
        "{}",
        out.stderr
    );
}

#[test]
fn file_probe() {
    need_root!();
    gated(
        "file",
        r#"[process.dep]
command = ["sh", "-c", "sleep 0.3; touch $DIR/flag; exec sleep 100"]
ready = { file = "$DIR/flag", interval = "50ms" }"#,
    );
}

#[test]
fn exec_probe() {
    need_root!();
    gated(
        "exec",
        r#"[process.dep]
command = ["sh", "-c", "sleep 0.3; touch $DIR/flag; exec sleep 100"]
ready = { exec = ["test", "-e", "$DIR/flag"], interval = "50ms" }"#,
    );
}

#[test]
fn notify_fd_probe() {
    need_root!();
    let out = gated(
        "notifyfd",
        r#"[process.dep]
command = ["sh", "-c", "sleep 0.3; touch $DIR/said; echo >&3; exec sleep 100"]
ready = { notify_fd = 3 }"#,
    );
    assert!(out.dir.join("said").exists());
}

#[test]
fn sd_notify_probe() {
    need_root!();
    let out = gated(
        "sdnotify",
        r#"[process.dep]
command = ["python3", "-c", "import os, socket, time; time.sleep(0.3); a = os.environ['NOTIFY_SOCKET']; a = '\\0' + a[1:] if a.startswith('@') else a; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(b'STATUS=warming up', a); s.sendto(b'READY=1', a); time.sleep(100)"]
ready = { sd_notify = true }"#,
    );
    assert!(!out.stderr.contains("sd_notify socket"), "{}", out.stderr);
}

#[test]
fn liveness_failures_restart_the_process() {
    need_root!();
    let toml = r#"
[process.web]
command = ["sh", "-c", "echo run >> $DIR/runs; touch $DIR/healthy; exec sleep 1000"]
health = { file = "$DIR/healthy", interval = "100ms", failures = 2 }
restart_delay = "50ms"
stop_timeout = "1s"
"#;
    let pod = pod_pid1("liveness", toml, &[]);
    pod.wait_file("healthy", LIMIT);
    std::fs::remove_file(pod.dir.join("healthy")).unwrap();
    pod.wait_until("restarted", LIMIT, || {
        pod.dir.read("runs").lines().count() >= 2
    });
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert!(
        out.stderr.contains("web failed its health check (2 of 2)"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("web is unhealthy; restarting it"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_failing_oneshot_blocks_its_dependents_and_the_pod_exits_non_zero() {
    need_root!();
    let toml = r#"
[process.cache]
command = "sleep 1000"
[process.migrate]
command = ["sh", "-c", "exit 3"]
oneshot = true
[process.app]
command = ["touch", "$DIR/app-ran"]
main = true
depends_on = ["migrate", "cache"]
"#;
    let out = pod_pid1("oneshotfail", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 1, "{}", out.stderr);
    assert!(!out.dir.join("app-ran").exists());
    assert!(
        out.stderr.contains("app will not start: it needs migrate to be completed, but migrate exited (exit status 3)"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_crash_loop_follows_the_backoff_and_a_critical_failure_ends_the_pod() {
    need_root!();
    let toml = r#"
[process.crasher]
command = ["sh", "-c", "date +%s%N >> $DIR/starts; exit 4"]
restart_delay = "100ms"
restart_delay_max = "400ms"
max_restarts = 3
critical = true
[process.main]
command = "sleep 1000"
main = true
"#;
    let out = pod_pid1("crashloop", toml, &[]).wait(LIMIT);
    assert_eq!(
        out.code(),
        4,
        "the critical process's status: {}",
        out.stderr
    );
    let starts: Vec<u128> = out
        .dir
        .read("starts")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    assert_eq!(starts.len(), 4, "first run + 3 restarts");
    let gaps: Vec<u128> = starts
        .windows(2)
        .map(|w| (w[1] - w[0]) / 1_000_000)
        .collect();
    for (gap, want) in gaps.iter().zip([100, 200, 400]) {
        assert!(
            *gap >= want && *gap < want + 300,
            "gaps {gaps:?} ms, want about 100, 200, 400"
        );
    }
    assert!(
        out.stderr.contains("crasher failed for good"),
        "{}",
        out.stderr
    );
}

#[test]
fn env_file_then_env_then_expansion() {
    need_root!();
    let dir = TempDir::new("envfile");
    dir.write(
        "app.env",
        "# comment\nA=from-file\nexport B='file b'\nC=\"from file\"\n",
    );
    let toml = format!(
        r#"[process.app]
command = ["sh", "-c", "echo \"$A|$B|$C|$D\" > {d}/env.txt"]
main = true
env_file = "{d}/app.env"
env = {{ B = "from-env", D = "${{PODINIT_TEST_VAR}}-x" }}
"#,
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml);
    let cfg = cfg.to_string_lossy().into_owned();
    // SAFETY: only this test reads this variable (through the child).
    unsafe { std::env::set_var("PODINIT_TEST_VAR", "expanded") };
    let out = Pod::start_pid1(dir, &["-c", &cfg]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        out.dir.read("env.txt"),
        "from-file|from-env|from file|expanded-x\n"
    );
}

#[test]
fn working_dir_and_umask() {
    need_root!();
    let toml = r#"
[process.app]
command = ["sh", "-c", "pwd > $DIR/pwd.txt; umask > $DIR/umask.txt"]
main = true
working_dir = "/tmp"
umask = "027"
"#;
    let out = pod_pid1("cwd", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("pwd.txt"), "/tmp\n");
    assert_eq!(out.dir.read("umask.txt").trim(), "0027");
}

#[test]
fn setup_errors_are_failed_starts_named_by_key() {
    need_root!();
    let toml = r#"
[process.app]
command = "true"
main = true
working_dir = "/no/such/dir"
"#;
    let out = pod_pid1("baddir", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 126, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("app: cannot start: working_dir: cannot change to /no/such/dir"),
        "{}",
        out.stderr
    );
    let toml = "[process.app]\ncommand = \"true\"\nmain = true\nuser = \"no-such-user-xyz\"\n";
    let out = pod_pid1("baduser", toml, &[]).wait(LIMIT);
    if is_root() {
        // Root resolves names at each start: a failed start.
        assert_eq!(out.code(), 126, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("app: cannot start: user: unknown user \"no-such-user-xyz\""),
            "{}",
            out.stderr
        );
    } else {
        // Without root no switch is possible at all: a config error.
        assert_eq!(out.code(), 2, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("pod.toml:4: process.app.user: unknown user \"no-such-user-xyz\""),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn user_and_group_switch_with_supplementary_groups() {
    need_real_root!();
    let Some((uid, gid, extra)) = test_user() else {
        eprintln!("SKIPPED: cannot create a test user (useradd/groupadd missing)");
        return;
    };
    let toml = r#"
[process.app]
command = ["sh", "-c", "id -u > $DIR/uid; id -g > $DIR/gid; id -G > $DIR/groups; echo $HOME:$USER:$LOGNAME > $DIR/login"]
main = true
user = "podinit-user"
"#;
    let dir = TempDir::new("user");
    // The user must be able to write the results.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    let toml = toml.replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml);
    let cfg = cfg.to_string_lossy().into_owned();
    let out = Pod::start_pid1(dir, &["-c", &cfg]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("uid").trim(), uid.to_string());
    assert_eq!(out.dir.read("gid").trim(), gid.to_string());
    let groups: Vec<u32> = out
        .dir
        .read("groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    assert!(
        groups.contains(&gid) && groups.contains(&extra),
        "groups {groups:?}"
    );
    assert!(!groups.contains(&0), "root's group is dropped: {groups:?}");
    assert_eq!(
        out.dir.read("login").trim(),
        "/home/podinit-user:podinit-user:podinit-user"
    );
}

#[test]
fn the_command_line_main_starts_after_the_pod_is_ready() {
    need_root!();
    let toml = r#"
[process.dep]
command = ["sh", "-c", "sleep 0.3; touch $DIR/flag; exec sleep 100"]
ready = { file = "$DIR/flag", interval = "50ms" }
"#;
    let dir = TempDir::new("cmdmain");
    let d = dir.path().to_string_lossy().into_owned();
    let cfg = dir.write("pod.toml", &toml.replace("$DIR", &d));
    let cfg = cfg.to_string_lossy().into_owned();
    let check = format!("test -e {d}/flag && exit 9");
    let out = Pod::start_pid1(dir, &["-c", &cfg, "--", "sh", "-c", &check]).wait(LIMIT);
    assert_eq!(
        out.code(),
        9,
        "main ran after dep was ready: {}",
        out.stderr
    );
}

#[test]
fn sd_notify_status_and_a_missed_watchdog() {
    need_root!();
    let script = r#"
import os, socket, time
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
def notify(m): s.sendto(m.encode(), addr)
d = os.environ["TEST_DIR"]
open(d + "/env", "a").write("%s %s %s\n" % (os.environ.get("WATCHDOG_PID"), os.getpid(), os.environ.get("WATCHDOG_USEC")))
notify("READY=1\nSTATUS=serving")
for _ in range(6):
    time.sleep(0.1)
    notify("WATCHDOG=1")
notify("STATUS=stuck")
time.sleep(100)
"#;
    let toml = format!(
        "[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\n[process.svc]\ncommand = [\"python3\", \"-c\", {script:?}]\nready = {{ sd_notify = true }}\nwatchdog = \"1s\"\nrestart_delay = \"5s\"\nstop_timeout = \"1s\"\n"
    );
    let pod = pod_pid1("sdwatch", &toml, &[]);
    let cfg = pod.dir.s("pod.toml");
    pod.wait_file("ctl.sock", LIMIT);
    // STATUS= shows in status; the pid and period are in the environment.
    let svc = status::wait_status(&cfg, "svc", LIMIT, |p| p.state == "ready");
    pod.wait_text("env", "\n", LIMIT);
    let env = pod.dir.read("env");
    let f: Vec<&str> = env.split_whitespace().collect();
    assert_eq!(f[0], f[1], "WATCHDOG_PID is the process's own pid: {env}");
    assert_eq!(f[2], "1000000", "{env}");
    assert_eq!(svc.pid.map(|p| p.to_string()).as_deref(), Some(f[1]));
    // It stops pinging: a watchdog timeout, a restart by policy. (1 s, not
    // less: a loaded CI machine once stalled the pings past 300 ms, and
    // the watchdog fired before STATUS=stuck was sent.)
    pod.wait_text(
        "podinit.stderr",
        "svc: watchdog timeout (no WATCHDOG=1 within 1s); restarting it",
        LIMIT,
    );
    let svc = status::wait_status(&cfg, "svc", LIMIT, |p| p.last_exit_reason.is_some());
    assert_eq!(svc.last_exit_reason.as_deref(), Some("watchdog"), "{svc:?}");
    assert!(pod.dir.read("podinit.stderr").contains("svc: stuck"));
    pod.signal(libc::SIGTERM);
    pod.wait(LIMIT);
}

/// podinit spawns with clone + a private fd table where the kernel allows
/// it, else with fork: both paths give a process the same fds, environment,
/// directory and errors.
#[test]
fn the_fast_spawn_and_the_fork_fallback_set_up_processes_alike() {
    need_root!();
    let toml = r#"
[process.ready]
command = ["sh", "-c", "echo up >&3; exec 3>&-; ls /proc/self/fd | sort -n | tr '\n' ' ' > $DIR/fds; pwd > $DIR/pwd; echo \"$GREETING\" > $DIR/env; echo to-stderr >&2; exec sleep 1000"]
working_dir = "/tmp"
env = { GREETING = "hello" }
stderr = "file:$DIR/err"
ready = { notify_fd = 3 }

[process.bad]
command = "true"
oneshot = true
working_dir = "/no/such/dir"

[process.main]
command = ["sh", "-c", "while [ ! -s $DIR/env ]; do sleep 0.01; done"]
main = true
depends_on = ["ready"]
"#;
    let mut seen = Vec::new();
    for fork in [false, true] {
        let dir = TempDir::new(if fork { "spawn-fork" } else { "spawn-fast" });
        let cfg = dir.write(
            "pod.toml",
            &toml.replace("$DIR", &dir.path().to_string_lossy()),
        );
        let cfg = cfg.to_string_lossy().into_owned();
        let mut opts = Opts::default();
        if fork {
            opts.env.push(("PODINIT_TEST_FORK".into(), "1".into()));
        }
        let out = Pod::start_pid1_with(dir, &["-c", &cfg], &opts).wait(LIMIT);
        assert_eq!(out.code(), 0, "{}", out.stderr);
        assert!(
            out.stderr
                .contains("bad: cannot start: working_dir: cannot change to /no/such/dir"),
            "{}",
            out.stderr
        );
        let got = [
            out.dir.read("fds"),
            out.dir.read("pwd"),
            out.dir.read("env"),
            out.dir.read("err"),
        ];
        // 0, 1, 2 and the `ls`'s own directory fd: nothing of podinit's.
        assert_eq!(got[0], "0 1 2 3 ", "fork: {fork}");
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(
        seen[0][1..],
        ["/tmp\n".to_string(), "hello\n".into(), "to-stderr\n".into()]
    );
}
