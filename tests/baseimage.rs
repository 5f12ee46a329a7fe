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

#[test]
fn syslog_messages_become_lines_of_the_syslog_source() {
    need_root!();
    if !has("logger") {
        eprintln!("SKIPPED: no logger (util-linux)");
        return;
    }
    let toml = r#"
[podinit]
control_socket = ""
syslog = { path = "$DIR/log.sock", stdout = "file:$DIR/syslog.json", log_format = "json" }

[process.app]
command = ["sh", "-c", "logger -u $DIR/log.sock -t myapp -i -p local3.warning 'rfc 3164 hello'; logger -u $DIR/log.sock --rfc5424 -t five -p cron.err 'rfc 5424 hello'; printf '<14>no tag here' | python3 -c 'import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); s.sendto(sys.stdin.buffer.read(), sys.argv[1])' $DIR/log.sock 2>/dev/null || true"]
main = true
"#;
    let out = pod_pid1("syslog", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let lines = out.dir.read("syslog.json");
    let first = lines.lines().next().unwrap_or_default();
    assert!(
        first.contains(r#""process":"syslog","stream":"syslog","facility":"local3","severity":"warning","tag":"myapp","pid":"#)
            && first.ends_with(r#""line":"rfc 3164 hello"}"#),
        "{lines}"
    );
    assert!(
        lines.contains(
            r#""facility":"cron","severity":"err","tag":"five","pid":null,"line":"rfc 5424 hello"}"#
        ),
        "{lines}"
    );
    // The socket is gone with podinit.
    assert!(!out.dir.join("log.sock").exists());
}

#[test]
fn a_syslog_path_that_is_not_a_socket_is_refused_and_kept() {
    need_root!();
    let dir = TempDir::new("syslog-file");
    dir.write("log", "precious\n");
    let toml = format!(
        "[podinit]\nsyslog = \"{}\"\n[process.app]\ncommand = \"true\"\nmain = true\n",
        dir.s("log")
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let out = Pod::start_pid1(dir, &["-c", &cfg]).wait(LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr.contains("[podinit] syslog: ")
            && out
                .stderr
                .contains("exists and is not a socket; podinit never deletes it"),
        "{}",
        out.stderr
    );
    assert_eq!(out.dir.read("log"), "precious\n");
    assert!(
        !out.stderr.contains("app started"),
        "nothing started: {}",
        out.stderr
    );
}

#[test]
fn a_syslog_flood_is_bounded_and_its_drops_are_counted() {
    need_root!();
    if !has("python3") {
        eprintln!("SKIPPED: no python3");
        return;
    }
    // The target is the stdin of a process that never reads it: podinit's
    // queue for it fills, and what does not fit is dropped and said.
    let toml = r#"
[podinit]
control_socket = ""
syslog = { path = "$DIR/log.sock", stdout = "process:deaf" }

[process.deaf]
command = "sleep 1000"

[process.flood]
command = ["python3", "-c", "import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); m=b'<14>flood: ' + b'x'*200\nfor i in range(40000): s.sendto(m, sys.argv[1])\nopen(sys.argv[2], 'w').write('sent')", "$DIR/log.sock", "$DIR/sent"]
oneshot = true
"#;
    let pod = pod_pid1("syslog-flood", toml, &[]);
    pod.wait_file("sent", LIMIT);
    let rss = std::fs::read_to_string(format!("/proc/{}/status", pod.pid))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .map(|k| k.parse::<u64>().unwrap())
        })
        .unwrap();
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    // 40,000 messages of 212 bytes are 8.5 MB: most were dropped, and
    // podinit's memory stayed within a few MiB of its bound.
    assert!(rss < 16 * 1024, "podinit's RSS {rss} KiB");
    let said = out
        .stderr
        .lines()
        .find(|l| l.contains("syslog messages on"))
        .unwrap_or_else(|| panic!("no drop report: {}", out.stderr));
    let n: u64 = said
        .trim_start_matches("podinit: warning: ")
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(n > 10_000, "{said}");
}

#[test]
fn debian_cron_logs_through_the_syslog_receiver() {
    need_real_root!();
    if !std::path::Path::new("/usr/sbin/cron").exists() {
        assert!(
            std::env::var_os("PODINIT_EXPECT_CRON").is_none(),
            "PODINIT_EXPECT_CRON is set but /usr/sbin/cron is missing"
        );
        eprintln!("SKIPPED: no /usr/sbin/cron (apt-get install cron)");
        return;
    }
    // cron logs only to /dev/log: podinit binds it in a mount namespace of
    // the test's own, over a private /dev (the host's /dev is untouched).
    let dir = TempDir::new("cron");
    let d = dir.path().display().to_string();
    dir.write(
        "pod.toml",
        "[podinit]\nsyslog = true\ncontrol_socket = \"\"\n\n[process.cron]\ncommand = [\"cron\", \"-f\", \"-L\", \"15\"]\n",
    );
    let script = format!(
        "set -e; mount --make-rprivate /; mkdir -p {d}/dev; mount --rbind /dev {d}/dev; \
         mount -t tmpfs -o mode=755 tmpfs /dev; \
         for n in null zero full random urandom tty; do touch /dev/$n; mount --bind {d}/dev/$n /dev/$n; done; \
         ln -s /proc/self/fd /dev/fd; \
         exec unshare --pid --fork --mount-proc --kill-child {bin} -c {d}/pod.toml",
        bin = env!("CARGO_BIN_EXE_podinit")
    );
    let mut cmd = std::process::Command::new("unshare");
    cmd.args(["--mount", "sh", "-c", &script]);
    let mut pod = Pod::start_wrapped(dir, cmd);
    pod.wait_text("podinit.stdout", "(CRON) INFO (pidfile fd", LIMIT);
    // The wrapper's shell had children of its own (mount, touch) before it
    // exec'ed unshare: podinit is the process running this pod's config.
    let conf = format!("{d}/pod.toml");
    pod.pid = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .find(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
            let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
            args.first().is_some_and(|a| a.ends_with(b"podinit")) && args.contains(&conf.as_bytes())
        })
        .expect("podinit's pid");
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stdout
            .lines()
            .any(|l| l.starts_with("syslog | cron[")
                && l.ends_with("]: (CRON) INFO (pidfile fd = 3)")),
        "{}",
        out.stdout
    );
}

/// Context switches of a process so far.
fn switches(pid: i32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap()
        .lines()
        .filter(|l| l.contains("ctxt_switches"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

#[test]
fn a_pod_with_scheduled_jobs_sleeps_until_the_next_time() {
    need_root!();
    let toml = r#"
[podinit]
control_socket = ""

[process.app]
command = "sleep 1000"

[process.hourly]
command = "true"
oneshot = true
schedule = "@hourly"

[process.daily]
command = "true"
oneshot = true
schedule = "30 2 * * mon-fri"
"#;
    let pod = pod_pid1("sched-idle", toml, &[]);
    pod.wait_until("the jobs are scheduled", LIMIT, || {
        pod.dir
            .read("podinit.stderr")
            .matches("is scheduled: next run at")
            .count()
            == 2
    });
    // Settle: the start-up's last wake-ups pass before the window opens.
    std::thread::sleep(Duration::from_millis(200));
    let before = switches(pod.pid);
    // Nothing happens for two seconds: podinit does not wake up.
    std::thread::sleep(Duration::from_secs(2));
    let woke = switches(pod.pid) - before;
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(woke, 0, "podinit woke up {woke} times while idle");
    assert_eq!(out.code(), 0, "{}", out.stderr);
}
