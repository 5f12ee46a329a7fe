//! Importers run side by side with their source: the same supervisord.conf
//! under supervisord and under podinit (as PID 1), compared by what the
//! programs themselves wrote.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

const SUPERVISORD_CONF: &str = r#"[supervisord]
nodaemon=true
logfile=DIR/supervisord.log
pidfile=DIR/supervisord.pid

[program:web]
command=sh -c 'echo "web $GREETING" >> DIR/out.web; exec sleep 100'
environment=GREETING="hi there"
priority=1

[program:expected]
command=sh -c 'echo run >> DIR/out.expected; exit 3'
exitcodes=0,3
startsecs=0

[program:crash]
command=sh -c 'echo run >> DIR/out.crash; exit 1'
autorestart=false
startsecs=0

[program:w]
command=sh -c 'echo %(process_num)d >> DIR/out.w; exec sleep 100'
process_name=w%(process_num)d
numprocs=2

[program:manual]
command=sh -c 'echo ran >> DIR/out.manual'
autostart=false
"#;

/// What the programs wrote, files sorted by name, lines sorted.
fn written(dir: &TempDir) -> String {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("out."))
        .collect();
    names.sort();
    let mut out = String::new();
    for n in names {
        let mut lines: Vec<String> = dir.read(&n).lines().map(str::to_string).collect();
        lines.sort();
        out += &format!("{n}: {}\n", lines.join(" | "));
    }
    out
}

#[test]
fn a_supervisord_conf_runs_under_podinit_as_under_supervisord() {
    need_root!();
    if Command::new("supervisord")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("SKIPPED: supervisord is not installed (apt-get install supervisor)");
        return;
    }
    let theirs = TempDir::new("sdtheirs");
    let conf = theirs.write(
        "supervisord.conf",
        &SUPERVISORD_CONF.replace("DIR", &theirs.path().to_string_lossy()),
    );
    let mut sd = Command::new("supervisord")
        .args(["-c", &conf.to_string_lossy()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    poll_until(LIMIT, || {
        (theirs.read("out.web").contains("web") && theirs.read("out.w").lines().count() == 2)
            .then_some(())
    });
    std::thread::sleep(Duration::from_millis(1500));
    // SAFETY: kill with integer arguments.
    unsafe { libc::kill(sd.id() as i32, libc::SIGTERM) };
    sd.wait().unwrap();

    let ours = TempDir::new("sdours");
    let conf = ours.write(
        "supervisord.conf",
        &SUPERVISORD_CONF.replace("DIR", &ours.path().to_string_lossy()),
    );
    let pod = Pod::start_pid1(ours, &["-c", &conf.to_string_lossy()]);
    pod.wait_until("both w processes", LIMIT, || {
        pod.dir.read("out.w").lines().count() == 2
    });
    std::thread::sleep(Duration::from_millis(1500));
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let want = written(&theirs);
    assert_eq!(written(&out.dir), want, "podinit stderr:\n{}", out.stderr);
    assert!(want.contains("out.web: web hi there\n"), "{want}");
    assert!(!want.contains("out.manual"), "{want}");
}

#[test]
fn import_of_a_supervisord_conf_checks_and_keeps_what_it_cannot_map_as_comments() {
    let dir = TempDir::new("sdimport");
    let conf = dir.write(
        "supervisord.conf",
        "[program:a]\ncommand=a --x\nstartsecs=3\nserverurl=AUTO\n[include]\nfiles=conf.d/*.conf\n",
    );
    let out = Command::new(BIN)
        .args(["import", &conf.to_string_lossy()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let toml = text(&out.stdout);
    assert!(toml.contains("# startsecs = 3: not mapped"), "{toml}");
    assert!(toml.contains("# serverurl = AUTO: not mapped"), "{toml}");
    assert!(
        toml.contains("# [include] (line 5): not mapped: not followed"),
        "{toml}"
    );
    let imported = dir.write("imported.toml", &toml);
    let checked = Command::new(BIN)
        .args(["check", "-c", &imported.to_string_lossy()])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", text(&checked.stderr));
}

const COMPOSE: &str = r#"version: "0.5"
environment: ["GREETING=hi"]
processes:
  init:
    command: "echo init >> DIR/order"
  db:
    command: "sleep 0.3; touch DIR/db.ready; exec sleep 100"
    readiness_probe:
      exec: {command: "test -e DIR/db.ready"}
      period_seconds: 1
  web:
    command: "echo web $PC_REPLICA_NUM $GREETING >> DIR/order; sleep 0.5"
    replicas: 2
    depends_on:
      init: {condition: process_completed_successfully}
      db: {condition: process_healthy}
    availability: {exit_on_end: true}
"#;

#[test]
fn a_process_compose_file_runs_in_its_order_and_ends_with_exit_on_end() {
    need_root!();
    let dir = TempDir::new("pcompose");
    let d = dir.path().to_string_lossy().into_owned();
    let f = dir.write("process-compose.yaml", &COMPOSE.replace("DIR", &d));
    let out = Pod::start_pid1(dir, &["-c", &f.to_string_lossy()]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let order = out.dir.read("order");
    let lines: Vec<&str> = order.lines().collect();
    assert_eq!(lines.first(), Some(&"init"), "{order}");
    let mut webs = lines[1..].to_vec();
    webs.sort();
    assert_eq!(webs, ["web 0 hi", "web 1 hi"], "{order}\n{}", out.stderr);
    assert!(out.stderr.contains("db is ready"), "{}", out.stderr);
    let e = &out.stderr;
    assert!(e.find("db is ready") < e.find("web-0 started"), "{e}");
}

const PROCFILE: &str = "web: echo web $GREETING $PORT >> out.web; sleep 0.3\n\
                        worker: echo worker $PORT >> out.worker; sleep 30\n\
                        # a comment\n\
                        clock: echo clock $PORT >> out.clock; sleep 30\n";

#[test]
fn a_procfile_runs_under_podinit_as_under_honcho() {
    need_root!();
    if !Command::new("honcho")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        eprintln!("SKIPPED: honcho is not installed (pip install honcho)");
        return;
    }
    let theirs = TempDir::new("honcho");
    theirs.write("Procfile", PROCFILE);
    theirs.write(".env", "GREETING=hi\n");
    let out = Command::new("timeout")
        .args(["20", "honcho", "start"])
        .current_dir(theirs.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ours = TempDir::new("honchoours");
    let procfile = ours.write("Procfile", PROCFILE);
    ours.write(".env", "GREETING=hi\n");
    let out = Pod::start_pid1(ours, &["-c", &procfile.to_string_lossy()]).wait(LIMIT);
    // honcho, as foreman, stops the rest when the first ends, and exits 0.
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let want = written(&theirs);
    assert_eq!(written(&out.dir), want, "podinit stderr:\n{}", out.stderr);
    assert!(
        want.contains("out.web: web hi 5000\n") && want.contains("out.clock: clock 5200"),
        "{want}"
    );
}
