//! Where users run podinit: a 1,024 soft fd limit, a user that is not root
//! (and no passwd entry, no HOME), output that cannot be written, a shared
//! /tmp, bytes that are not UTF-8, big pods. Each test here failed before
//! the fix it names (issue "Runs where users run it").

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

/// The user a test runs podinit as: nobody when the test is root, else the
/// test's own user (the non-root CI lane).
fn ordinary_user() -> (u32, u32) {
    if is_root() { (65534, 65534) } else { my_ids() }
}

/// The login name of `uid` in /etc/passwd.
fn name_of(uid: u32) -> String {
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find(|l| l.split(':').nth(2) == Some(&uid.to_string()))
        .and_then(|l| l.split(':').next())
        .unwrap_or_else(|| panic!("uid {uid} has no passwd entry"))
        .to_string()
}

fn write_pod(tag: &str, toml: &str) -> (TempDir, String) {
    let dir = TempDir::new(tag);
    let toml = toml.replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    (dir, cfg)
}

/// `podinit ARGS` run to its end (not as PID 1) as `opts` say.
fn run_plain(dir: &TempDir, args: &[&str], opts: &Opts) -> (i32, String, String) {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("TEST_DIR", dir.path());
    apply(&mut cmd, dir, opts);
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_pod_starts_under_a_1024_fd_limit_and_its_processes_keep_that_limit() {
    // Before: `setting up fds: Invalid argument`, exit 126, nothing started.
    let (dir, cfg) = write_pod(
        "nofile",
        r#"
[process.side]
command = ["sh", "-c", "ulimit -Sn > $DIR/side.limit; exec sleep 100"]

[process.app]
command = ["sh", "-c", "ulimit -Sn > $DIR/app.limit; ulimit -Hn > $DIR/app.hard; while [ ! -s $DIR/side.limit ]; do sleep 0.01; done"]
main = true
depends_on = ["side"]
"#,
    );
    let opts = Opts {
        nofile: Some(1024),
        ..Opts::default()
    };
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &opts);
    let out = pod.wait(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("app.limit").trim(), "1024");
    assert_eq!(out.dir.read("side.limit").trim(), "1024");
    // The hard limit is the one podinit got, too.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit into a local.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    assert_eq!(out.dir.read("app.hard").trim(), lim.rlim_max.to_string());
}

#[test]
fn a_big_pod_under_1024_fds_starts_and_stops_within_seconds() {
    // 600 processes hold 2,400 pipe ends: more than 1,024, so podinit must
    // raise its own soft limit. Before: no start at all under 1,024; and a
    // shutdown rescanned /proc for every group (quadratic), so big pods
    // took tens of seconds with false "sending SIGKILL" warnings.
    let _x = exclusive();
    let n = 600;
    let mut toml = String::from(
        "[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\n[defaults]\nstop_timeout = \"20s\"\n",
    );
    for i in 0..n {
        toml.push_str(&format!(
            "[process.p{i}]\ncommand = [\"sleep\", \"1000\"]\n"
        ));
    }
    let (dir, cfg) = write_pod("bigpod", &toml);
    let opts = Opts {
        nofile: Some(1024),
        ..Opts::default()
    };
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &opts);
    pod.wait_until(&format!("{n} started"), Duration::from_secs(60), || {
        pod.dir
            .read("podinit.stderr")
            .matches(" started (pid")
            .count()
            == n
    });
    // The whole status answer arrives (written as the client reads it).
    let status = Command::new(BIN)
        .args(["status", "--json", "-c", &cfg])
        .output()
        .unwrap();
    let json = String::from_utf8_lossy(&status.stdout);
    assert_eq!(
        json.matches("\"name\":").count(),
        n,
        "{}",
        String::from_utf8_lossy(&status.stderr)
    );
    let (out, took) = pod.terminate(Duration::from_secs(60));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(!out.stderr.contains("SIGKILL"), "{}", out.stderr);
    assert!(
        took < Duration::from_secs(8),
        "stopping {n} processes took {took:?}"
    );
}

#[test]
fn a_user_key_naming_podinits_own_user_needs_no_root() {
    // Before: `user: setgroups: Operation not permitted`, exit 126, while
    // `check` said the config is fine.
    let (uid, gid) = ordinary_user();
    let me = name_of(uid);
    let (dir, cfg) = write_pod(
        "ownuser",
        &format!(
            r#"
[process.app]
command = ["sh", "-c", "id -u > $DIR/uid; echo $USER > $DIR/user"]
main = true
user = "{me}"
"#
        ),
    );
    let opts = Opts {
        user: Some((uid, gid)),
        ..Opts::default()
    };
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &opts);
    let out = pod.wait(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("uid").trim(), uid.to_string());
    assert_eq!(out.dir.read("user").trim(), me);
}

#[test]
fn a_user_switch_that_needs_root_is_a_config_error_naming_the_key() {
    let (uid, gid) = ordinary_user();
    let (dir, cfg) = write_pod(
        "rootuser",
        "[process.web]\ncommand = \"sleep 1\"\n\n[process.app]\ncommand = \"true\"\nuser = \"root\"\n",
    );
    let opts = Opts {
        user: Some((uid, gid)),
        ..Opts::default()
    };
    for verb in [&["check", "-c", &cfg][..], &["-c", &cfg]] {
        let (code, _, err) = run_plain(&dir, verb, &opts);
        assert_eq!(code, 2, "{verb:?}: {err}");
        assert!(
            err.contains("pod.toml:6: process.app.user:")
                && err.contains("without root privileges")
                && err.contains("\"root\" (uid 0"),
            "{err}"
        );
        assert!(!err.contains("started"), "nothing may start: {err}");
    }
}

#[test]
fn output_that_cannot_be_written_is_reported_with_how_much_was_lost() {
    let (uid, gid) = ordinary_user();
    let (dir, cfg) = write_pod(
        "lostlogs",
        "[process.app]\ncommand = [\"sh\", \"-c\", \"echo hello; echo world\"]\nmain = true\nstdout = \"file:app.log\"\n",
    );
    let opts = |home: &str| Opts {
        user: Some((uid, gid)),
        clear_env: true,
        env: vec![("HOME".into(), home.into())],
        ..Opts::default()
    };
    // HOME=/nonexistent (nobody's): check warns, the run says what was lost.
    let (code, _, err) = run_plain(&dir, &["check", "-c", &cfg], &opts("/nonexistent"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "warning: process.app.stdout: cannot create /nonexistent/.local/state/podinit/app.log"
        ),
        "{err}"
    );
    let (code, _, err) = run_plain(&dir, &["-c", &cfg], &opts("/nonexistent"));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains(
            "12 bytes of output meant for /nonexistent/.local/state/podinit/app.log were lost at exit"
        ),
        "{err}"
    );
    // HOME=/ and no HOME at all: no default log_dir, never a shared one.
    for o in [opts("/"), {
        let mut o = opts("");
        o.env.clear();
        o
    }] {
        let (code, _, err) = run_plain(&dir, &["-c", &cfg], &o);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains(
                "process.app.stdout: \"app.log\" is relative to log_dir, which has no default"
            ),
            "{err}"
        );
    }
}

#[test]
fn each_run_starts_with_blocking_stdio() {
    // A run that sets O_NONBLOCK on its stdout (Node, libuv) left the shared
    // pipe non-blocking for the next run, which then lost output.
    let (dir, cfg) = write_pod(
        "nonblock",
        r#"
[process.app]
command = ["python3", "-c", "import os; open(os.environ['TEST_DIR'] + '/runs', 'a').write(str(os.get_blocking(1)) + chr(10)); os.set_blocking(1, False); os.set_blocking(2, False)"]
restart = "always"
restart_delay = "10ms"
"#,
    );
    let opts = Opts {
        env: vec![("PATH".into(), SYSTEM_PATH.into())],
        ..Opts::default()
    };
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &opts);
    pod.wait_until("three runs", Duration::from_secs(20), || {
        pod.dir.read("runs").lines().count() >= 3
    });
    let runs = pod.dir.read("runs");
    assert!(runs.lines().all(|l| l == "True"), "{runs}");
}

#[test]
fn a_control_socket_path_that_is_not_a_socket_is_never_replaced() {
    // Before: a regular file at `control_socket` was deleted.
    let (dir, cfg) = write_pod(
        "sockfile",
        "[podinit]\ncontrol_socket = \"$DIR/precious\"\n\n[process.app]\ncommand = \"true\"\nmain = true\n",
    );
    dir.write("precious", "data that must survive\n");
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &Opts::default());
    let out = pod.wait(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("precious"), "data that must survive\n");
    assert!(
        out.stderr
            .contains("precious exists and is not a socket; podinit will not replace it"),
        "{}",
        out.stderr
    );
}

#[test]
fn the_default_socket_of_an_ordinary_user_is_in_a_directory_of_its_own() {
    // Before: /tmp/podinit-UID.sock, a name any user could take first.
    let (uid, gid) = ordinary_user();
    let (dir, cfg) = write_pod(
        "privsock",
        "[process.app]\ncommand = [\"sleep\", \"100\"]\n",
    );
    let tmp = dir.s("tmp");
    std::fs::create_dir(&tmp).unwrap();
    let opts = Opts {
        user: Some((uid, gid)),
        clear_env: true,
        env: vec![
            ("TMPDIR".into(), tmp.clone()),
            ("HOME".into(), "/nonexistent".into()),
        ],
        ..Opts::default()
    };
    let (code, out, err) = run_plain(&dir, &["check", "-c", &cfg], &opts);
    assert_eq!(code, 0, "{err}");
    let sock = format!("{tmp}/podinit-{uid}/podinit.sock");
    assert!(out.contains(&format!("control_socket: {sock}")), "{out}");
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &opts);
    pod.wait_text("podinit.stderr", "app started", Duration::from_secs(20));
    pod.wait_until("the control socket", Duration::from_secs(10), || {
        std::path::Path::new(&sock).exists()
    });
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(format!("{tmp}/podinit-{uid}"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    // `-c FILE` before the verb finds the same socket.
    let (code, out, err) = run_plain(&pod.dir, &["-c", &cfg, "status", "--json"], &opts);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"name\":\"app\""), "{out}");
    let (out, _) = pod.terminate(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn a_socket_directory_another_user_controls_is_refused() {
    need_real_root!();
    // Planted by another user (uid 4242), as on a shared host.
    let planted = TempDir::new("planted");
    std::os::unix::fs::chown(planted.path(), Some(4242), Some(4242)).unwrap();
    let (dir, cfg) = write_pod(
        "hostile",
        &format!(
            "[podinit]\ncontrol_socket = \"{}/podinit.sock\"\n\n[process.app]\ncommand = \"true\"\nmain = true\n",
            planted.path().display()
        ),
    );
    // Not nobody: in podinit's user namespace an unmapped owner shows as
    // the overflow uid, which is nobody's (the kernel still refuses the
    // bind, but the message would be less clear).
    let opts = Opts {
        user: Some((4343, 4343)),
        ..Opts::default()
    };
    let out = Pod::start_pid1_with(dir, &["-c", &cfg], &opts).wait(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("not to podinit's uid 4343 or root"),
        "{}",
        out.stderr
    );
    assert!(!planted.join("podinit.sock").exists());
}

#[test]
fn the_client_refuses_a_server_of_another_user() {
    need_real_root!();
    let (dir, cfg) = write_pod(
        "fakeserver",
        "[podinit]\ncontrol_socket = \"$DIR/s/podinit.sock\"\n\n[process.app]\ncommand = \"true\"\n",
    );
    std::fs::create_dir(dir.join("s")).unwrap();
    // A server that is not podinit's, run by uid 4242, answering "ok".
    let sock = dir.s("s/podinit.sock");
    let script = format!(
        "import socket,os\ns=socket.socket(socket.AF_UNIX)\ns.bind({sock:?})\nos.chmod({sock:?},0o777)\ns.listen(1)\nopen({:?},'w').close()\nc,_=s.accept()\ntry:\n  c.sendall(b'ok\\n')\nexcept OSError:\n  pass\n",
        dir.s("listening")
    );
    std::os::unix::fs::chown(dir.join("s"), Some(4242), Some(4242)).unwrap();
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o777),
    )
    .unwrap();
    use std::os::unix::process::CommandExt;
    let mut server = Command::new("/usr/bin/python3")
        .args(["-c", &script])
        .uid(4242)
        .gid(4242)
        .spawn()
        .unwrap();
    await_true("the fake server listening", Duration::from_secs(10), || {
        dir.join("listening").exists()
    });
    let out = Command::new(BIN)
        .args(["-c", &cfg, "status"])
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let _ = server.kill();
    let _ = server.wait();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("refusing to talk to") && err.contains("uid 4242"),
        "{err}"
    );
}

#[test]
fn arguments_and_environment_that_are_not_utf8_pass_untouched() {
    // Before: `ls $'f\xe9.txt'` got U+FFFD, and such variables were dropped.
    let dir = TempDir::new("bytes");
    let script = "printf %s \"$1\" > \"$TEST_DIR/arg\"; printf %s \"$ODD\" > \"$TEST_DIR/env\"";
    let mut cmd = Command::new(BIN);
    use std::os::unix::ffi::OsStringExt;
    cmd.args(["--", "sh", "-c", script, "sh"])
        .arg(std::ffi::OsString::from_vec(b"f\xe9.txt".to_vec()))
        .env("ODD", std::ffi::OsString::from_vec(b"caf\xe9\xff".to_vec()))
        .env("TEST_DIR", dir.path());
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(std::fs::read(dir.join("arg")).unwrap(), b"f\xe9.txt");
    assert_eq!(std::fs::read(dir.join("env")).unwrap(), b"caf\xe9\xff");
}

#[test]
fn drop_in_mode_is_silent_and_forwards_exactly_the_signals_it_got() {
    // Before: four `podinit:` lines around every run, and a SIGCONT after
    // the forwarded TERM that a CONT handler saw as an extra signal.
    let dir = TempDir::new("quiet");
    let script = "trap 'echo CONT >> \"$TEST_DIR/seen\"' CONT; \
                  trap 'echo TERM >> \"$TEST_DIR/seen\"; exit 0' TERM; \
                  touch \"$TEST_DIR/up\"; while :; do sleep 0.02; done";
    let opts = Opts {
        default_log: true,
        ..Opts::default()
    };
    let pod = Pod::start_pid1_with(dir, &["--", "sh", "-c", script], &opts);
    pod.wait_file("up", Duration::from_secs(20));
    let out = pod.terminate(Duration::from_secs(20)).0;
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // (The shell may say "Terminated" of its sleep: that is the child's.)
    assert!(
        !out.stderr.contains("podinit"),
        "drop-in mode must print nothing: {}",
        out.stderr
    );
    assert_eq!(out.dir.read("seen"), "TERM\n");
}

#[test]
fn a_pod_runs_on_a_read_only_root_with_a_tmpfs_run() {
    need_real_root!();
    // As under Kubernetes readOnlyRootFilesystem with an emptyDir at /run:
    // the pod runs, status works, console logs flow, and a file target on
    // the read-only root is reported before the start and at the exit.
    let (dir, cfg) = write_pod(
        "readonly",
        r#"
[process.web]
command = ["sh", "-c", "echo web up; touch $DIR/up; exec sleep 100"]

[process.audit]
command = ["sh", "-c", "echo audit line"]
oneshot = true
stdout = "file:/var/log/podinit-readonly-test/audit.log"
"#,
    );
    let d = dir.path().to_string_lossy().into_owned();
    let script = format!(
        "set -e; mount --make-rprivate /; mount --bind {d} {d}; mount -o remount,bind,ro /; \
         mount -t tmpfs tmpfs /run; \
         {BIN} check -c {cfg} > {d}/check.out 2> {d}/check.err; \
         {BIN} -c {cfg} > {d}/pod.out 2> {d}/pod.err & \
         while [ ! -e {d}/up ] || [ ! -S /run/podinit.sock ]; do sleep 0.02; done; \
         {BIN} status > {d}/status.out; \
         touch /podinit-ro-probe 2> {d}/ro.err || true; \
         kill -TERM $!; wait $! || true"
    );
    let out = Command::new("unshare")
        .args([
            "--mount",
            "--pid",
            "--fork",
            "--mount-proc",
            "sh",
            "-c",
            &script,
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        dir.read("ro.err").contains("Read-only file system"),
        "/ was not read-only"
    );
    assert!(
        dir.read("check.err").contains(
            "process.audit.stdout: cannot create /var/log/podinit-readonly-test/audit.log"
        ),
        "{}",
        dir.read("check.err")
    );
    assert!(
        dir.read("status.out").contains("web "),
        "{}",
        dir.read("status.out")
    );
    assert!(
        dir.read("pod.out").contains("| web up"),
        "{}",
        dir.read("pod.out")
    );
    let err = dir.read("pod.err");
    assert!(
        err.contains(
            "bytes of output meant for /var/log/podinit-readonly-test/audit.log were lost at exit"
        ),
        "{err}"
    );
}

#[test]
fn an_arbitrary_uid_with_gid_0_and_no_passwd_entry() {
    need_real_root!();
    // OpenShift: a random uid, gid 0, no passwd entry, no HOME.
    let (dir, cfg) = write_pod(
        "openshift",
        r#"
[podinit]
log_dir = "$DIR/logs"

[process.app]
command = ["sh", "-c", "id -u > $DIR/uid; echo app line"]
user = "1000680000"
oneshot = true
stdout = "file:app.log"
"#,
    );
    let opts = Opts {
        user: Some((1000680000, 0)),
        clear_env: true,
        ..Opts::default()
    };
    let pod = Pod::start_pid1_with(dir, &["-c", &cfg], &opts);
    let out = pod.wait(Duration::from_secs(20));
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("uid").trim(), "1000680000");
    assert_eq!(out.dir.read("logs/app.log"), "app line\n");
}
