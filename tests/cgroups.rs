//! A cgroup per process, on a real cgroup v2: this machine mounts cgroup v1
//! controllers, but a `cgroup2` mount in a private mount namespace is
//! writable (with `cgroup.procs`, `cgroup.kill`, `cpu.stat`, and no memory,
//! cpu or pids controller). Each test works in a cgroup of its own below
//! that mount's root (`PODINIT_CGROUP_ROOT`), removed after.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// Whether a cgroup2 can be mounted here (root, a kernel with cgroup2).
fn can_mount_cgroup2() -> bool {
    let d = TempDir::new("cg2probe");
    Command::new("unshare")
        .args([
            "-m",
            "sh",
            "-c",
            &format!("mount -t cgroup2 none {}", d.s("")),
        ])
        .status()
        .is_ok_and(|s| s.success())
}

/// podinit as PID 1 in a mount namespace with cgroup2 at DIR/cg, managing
/// the cgroup `name` below its root.
fn start(tag: &str, toml: &str, name: &str) -> Pod {
    let dir = TempDir::new(tag);
    let toml = toml.replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml);
    let mnt = dir.join("cg");
    std::fs::create_dir(&mnt).unwrap();
    let script = format!(
        "mount -t cgroup2 none {m} && mkdir -p {m}/{name} && PODINIT_CGROUP_ROOT={m}/{name} exec {BIN} -c {c}",
        m = mnt.display(),
        c = cfg.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--pid",
        "--fork",
        "--mount-proc",
        "--kill-child",
        "sh",
        "-c",
        &script,
    ]);
    Pod::start_wrapped(dir, cmd)
}

/// Removes the test's cgroups (they are the host's, whatever mount showed them).
fn cleanup(name: &str) {
    let d = TempDir::new("cg2clean");
    let script = format!(
        "mount -t cgroup2 none {m} && find {m}/{name} -depth -type d -exec rmdir {{}} + 2>/dev/null; true",
        m = d.s("")
    );
    let _ = Command::new("unshare")
        .args(["-m", "sh", "-c", &script])
        .status();
}

fn cgroup_of(pid: i32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/cgroup"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("0::").map(String::from))
        .unwrap_or_default()
}

fn host_pid(pod: &Pod, cmdline: &str) -> Option<i32> {
    processes_in_ns(pod.pid)
        .into_iter()
        .map(|(p, _)| p)
        .find(|p| {
            std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == cmdline.as_bytes())
        })
}

fn ctl(pod: &Pod, args: &[&str]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .args(["-c", &pod.dir.s("pod.toml")])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout) + &text(&out.stderr),
    )
}

#[test]
fn each_process_in_its_own_cgroup_and_a_stop_reaches_an_escaped_descendant() {
    need_real_root!();
    if !can_mount_cgroup2() {
        eprintln!("SKIPPED: cannot mount cgroup2 here");
        return;
    }
    let name = format!("podinit-test-{}-escape", std::process::id());
    let toml = "[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\n\
        [process.app]\ncommand = [\"sh\", \"-c\", \"(setsid sleep 1000.5 &); exec sleep 1000.25\"]\n\
        [process.other]\ncommand = \"sleep 1000.75\"\n";
    let pod = start("cgescape", toml, &name);
    pod.wait_file("ctl.sock", LIMIT);
    let found = poll_until(LIMIT, || {
        Some((
            host_pid(&pod, "sleep\x001000.25\0")?,
            host_pid(&pod, "sleep\x001000.5\0")?,
            host_pid(&pod, "sleep\x001000.75\0")?,
        ))
    });
    let (app, escaped, other) = found.unwrap_or_else(|| {
        panic!(
            "app, its escaped descendant and other: {}",
            pod.dir.read("podinit.stderr")
        )
    });
    // podinit in its leaf, each process (and what it started) in its own.
    assert!(
        cgroup_of(pod.pid).ends_with(&format!("/{name}/init.scope")),
        "{}",
        cgroup_of(pod.pid)
    );
    assert!(
        cgroup_of(app).ends_with(&format!("/{name}/app")),
        "{}",
        cgroup_of(app)
    );
    assert!(
        cgroup_of(escaped).ends_with(&format!("/{name}/app")),
        "{}",
        cgroup_of(escaped)
    );
    assert!(cgroup_of(other).ends_with(&format!("/{name}/other")));
    // The escaped one left the process group and the tree (its parent
    // exited: podinit adopted it); stopping app still stops it.
    let (code, out) = ctl(&pod, &["stop", "app"]);
    assert_eq!(code, 0, "{out}");
    pod.wait_until("app and its escaped descendant gone", LIMIT, || {
        !alive(app) && !alive(escaped)
    });
    assert!(alive(other), "the other process is untouched");
    // CPU and memory come from the cgroup (cpu.stat; no memory controller
    // here: RSS from /proc).
    let (code, json) = ctl(&pod, &["status", "--json", "other"]);
    assert_eq!(code, 0, "{json}");
    assert!(
        json.contains("\"cpu_seconds\":0.") && json.contains("\"memory_bytes\":"),
        "{json}"
    );
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    cleanup(&name);
}

#[test]
fn a_limit_without_its_controller_is_an_error_unless_best_effort() {
    need_real_root!();
    if !can_mount_cgroup2() {
        eprintln!("SKIPPED: cannot mount cgroup2 here");
        return;
    }
    let name = format!("podinit-test-{}-limits", std::process::id());
    let toml = "[process.app]\nmain = true\ncommand = \"true\"\nmemory_max = \"64MiB\"\n";
    let out = start("cgstrict", toml, &name).wait(LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("process.app.memory_max: the memory controller is not delegated to")
            && out.stderr.contains("cgroups = \"best-effort\""),
        "{}",
        out.stderr
    );
    let toml = format!("[podinit]\ncgroups = \"best-effort\"\n{toml}");
    let out = start("cgbest", &toml, &name).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(
        out.stderr.matches("not enforced").count(),
        1,
        "{}",
        out.stderr
    );
    cleanup(&name);
}

#[test]
fn without_a_writable_cgroup2_everything_runs_as_before_and_check_says_why() {
    // /sys/fs/cgroup here is cgroup v1 (or the test runs unprivileged).
    let dir = TempDir::new("cgnone");
    let cfg = dir.write("pod.toml", "[process.app]\ncommand = \"true\"\n");
    let out = Command::new(BIN)
        .args(["check", "-c", &cfg.to_string_lossy()])
        .env("PODINIT_CGROUP_ROOT", dir.path())
        .output()
        .unwrap();
    let said = text(&out.stdout);
    assert!(
        said.contains(&format!(
            "cgroups: none here ({} is not a cgroup v2 directory)",
            dir.path().display()
        )),
        "{said}"
    );
    let cfg = dir.write(
        "off.toml",
        "[podinit]\ncgroups = \"off\"\n[process.app]\ncommand = \"true\"\n",
    );
    let out = Command::new(BIN)
        .args(["check", "-c", &cfg.to_string_lossy()])
        .output()
        .unwrap();
    assert!(
        text(&out.stdout).contains("cgroups: off"),
        "{}",
        text(&out.stdout)
    );
    let cfg = dir.write(
        "bad.toml",
        "[podinit]\ncgroups = \"sometimes\"\n[process.app]\ncommand = \"true\"\n",
    );
    let out = Command::new(BIN)
        .args(["check", "-c", &cfg.to_string_lossy()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("podinit.cgroups: \"sometimes\""),
        "{}",
        text(&out.stderr)
    );
}
