//! What a base image needs without s6-overlay, cron or rsyslog: layered
//! config drop-ins, scheduled jobs, a /dev/log receiver, secrets from
//! files. The real binary as PID 1.

mod common;

use std::time::Duration;

use common::status;
use common::*;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn secrets_are_read_from_files_at_each_start_and_never_shown() {
    need_root!();
    let dir = TempDir::new("secret");
    dir.write("pw", "s3cret\n");
    let toml = format!(
        r#"[process.app]
command = ["sh", "-c", "echo \"$DB_URL\" >> {d}/seen; test $(wc -l < {d}/seen) -ge 2"]
main = true
restart = "on-failure"
restart_delay = "1s"
env = {{ DB_URL = "pg://u:${{file:{d}/pw}}@db" }}
"#,
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_podinit"))
        .args(["check", "-c", &cfg])
        .output()
        .unwrap();
    let shown = text(&check.stdout);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("${file:"), "{shown}");
    // The first start reads "s3cret"; the file changes during the 1 s before
    // the restart, which reads it anew.
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_text("seen", "s3cret", LIMIT);
    std::fs::write(pod.dir.join("pw"), "rotated\n").unwrap();
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let seen = out.dir.read("seen");
    assert!(seen.starts_with("pg://u:s3cret@db\n"), "{seen}");
    assert!(seen.ends_with("pg://u:rotated@db\n"), "{seen}");
}

#[test]
fn a_missing_secret_is_a_failed_start_naming_the_key() {
    need_root!();
    let toml = r#"
[process.app]
command = "true"
main = true
env = { TOKEN = "${file:/no/such/secret}" }
"#;
    let out = pod_pid1("nosecret", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 126, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("env.TOKEN: cannot read the secret /no/such/secret"),
        "{}",
        out.stderr
    );
}

/// `podinit VERB -c CFG...`: (exit code, stdout, stderr).
fn ctl(cfgs: &[&str], args: &[&str]) -> (i32, String, String) {
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_podinit"));
    cmd.args(args);
    for c in cfgs {
        cmd.args(["-c", c]);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn a_drop_in_directory_is_merged_and_reload_reads_a_file_added_to_it() {
    need_root!();
    let dir = TempDir::new("dropins");
    let d = dir.path().display().to_string();
    std::fs::create_dir(dir.join("podinit.d")).unwrap();
    dir.write(
        "base.toml",
        &format!(
            "[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n\n[process.keep]\ncommand = \"sleep 1000\"\n\n[process.extra]\ncommand = \"sleep 1000\"\n"
        ),
    );
    dir.write(
        "podinit.d/50-off.toml",
        "[process.extra]\nenabled = false\n",
    );
    let base = dir.s("base.toml");
    let dropins = dir.s("podinit.d");
    let pod = Pod::start_pid1(dir, &["-c", &base, "-c", &dropins]);
    pod.wait_file("ctl.sock", LIMIT);
    let cfg = [base.as_str(), dropins.as_str()];
    let keep = status::wait_status(&base, "keep", LIMIT, |p| p.state == "ready").pid;
    let (code, _, err) = ctl(&cfg, &["status", "extra"]);
    assert_eq!(code, 1, "a removed process is not in the pod: {err}");
    // A file added to the directory appears on reload as a new process.
    pod.dir.write(
        "podinit.d/60-new.toml",
        "[process.fresh]\ncommand = \"sleep 1000\"\ndepends_on = [\"keep\"]\n",
    );
    let (code, _, err) = ctl(&cfg, &["reload"]);
    assert_eq!(code, 0, "{err}");
    status::wait_status(&base, "fresh", LIMIT, |p| p.state == "ready");
    assert_eq!(
        status::status(&base, "keep").pid,
        keep,
        "keep was not touched"
    );
    // A broken drop-in changes nothing, and the error names its file and line.
    pod.dir.write(
        "podinit.d/70-bad.toml",
        "[process.keep]\nstop_timeout = \"soon\"\n",
    );
    let (code, _, err) = ctl(&cfg, &["reload"]);
    assert_ne!(code, 0);
    assert!(
        err.contains("70-bad.toml:2: process.keep.stop_timeout"),
        "{err}"
    );
    assert_eq!(status::status(&base, "keep").pid, keep);
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn scheduled_jobs_fire_on_time_for_real() {
    need_root!();
    let toml = r#"
[podinit]
control_socket = "$DIR/ctl.sock"

[process.app]
command = "sleep 1000"

[process.tick]
command = ["sh", "-c", "date +%s.%N >> $DIR/ticks"]
oneshot = true
schedule = "@every 1s"

[process.minute]
command = ["sh", "-c", "date +%S >> $DIR/minutes"]
oneshot = true
schedule = "* * * * *"
"#;
    let pod = pod_pid1("sched", toml, &[]);
    pod.wait_file("ctl.sock", LIMIT);
    let cfg = pod.dir.s("pod.toml");
    let next = status::status(&cfg, "minute");
    assert_eq!(next.state, "scheduled");
    let at = next.next_run.expect("a next run time");
    assert!(at.contains(":00 "), "the top of a minute: {at}");
    // Three ticks, a second apart (the event loop sleeps in between).
    pod.wait_until("three ticks", LIMIT, || {
        pod.dir.read("ticks").lines().count() >= 3
    });
    let ticks: Vec<f64> = pod
        .dir
        .read("ticks")
        .lines()
        .map(|l| l.parse().unwrap())
        .collect();
    for w in ticks.windows(2) {
        let gap = w[1] - w[0];
        assert!((0.8..1.5).contains(&gap), "ticks {ticks:?}");
    }
    // The cron job at the top of the next minute, to the second.
    pod.wait_until("a minute's run", Duration::from_secs(70), || {
        !pod.dir.read("minutes").is_empty()
    });
    let sec = pod.dir.read("minutes");
    assert!(sec == "00\n" || sec == "01\n", "ran at second {sec}");
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr.contains("minute is scheduled: next run at "),
        "{}",
        out.stderr
    );
}
