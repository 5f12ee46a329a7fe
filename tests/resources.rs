//! Each process's limits, scheduling and capabilities, as the process sees
//! them (`/proc/self/limits`, `/proc/self/status`, `/proc/self/oom_score_adj`),
//! with the real binary as PID 1.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// The process's own view of itself, written to $DIR/NAME.*.
fn report(name: &str) -> String {
    format!(
        "command = [\"sh\", \"-c\", \"cat /proc/self/limits > $DIR/{name}.limits; cat /proc/self/status > $DIR/{name}.status; cat /proc/self/oom_score_adj > $DIR/{name}.oom\"]\n"
    )
}

/// A `/proc/self/limits` row: soft and hard.
fn limit(text: &str, row: &str) -> (String, String) {
    let line = text
        .lines()
        .find(|l| l.starts_with(row))
        .unwrap_or_else(|| panic!("no {row:?} in\n{text}"));
    let f: Vec<&str> = line[row.len()..].split_whitespace().collect();
    (f[0].to_string(), f[1].to_string())
}

fn field(status: &str, key: &str) -> String {
    status
        .lines()
        .find(|l| l.starts_with(key))
        .map(|l| l[key.len()..].trim().to_string())
        .unwrap_or_default()
}

#[test]
fn rlimits_oom_score_nice_and_affinity_as_the_child_sees_them() {
    need_root!();
    let toml = format!(
        "[process.app]\nmain = true\n{}rlimits = {{ nofile = 200, core = 0, stack = \"4MiB\", cpu = \"10m\", nproc = {{ soft = 300, hard = 400 }}, memlock = \"64KiB\" }}\noom_score_adj = 500\nnice = 7\ncpu_affinity = [0]\n",
        report("app")
    );
    let pod = pod_pid1("rlimits", &toml, &[]);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let limits = out.dir.read("app.limits");
    assert_eq!(
        limit(&limits, "Max open files"),
        ("200".into(), "200".into())
    );
    assert_eq!(
        limit(&limits, "Max core file size"),
        ("0".into(), "0".into())
    );
    let stack = (4u64 << 20).to_string();
    assert_eq!(limit(&limits, "Max stack size"), (stack.clone(), stack));
    assert_eq!(limit(&limits, "Max cpu time"), ("600".into(), "600".into()));
    assert_eq!(
        limit(&limits, "Max processes"),
        ("300".into(), "400".into())
    );
    let memlock = (64u64 << 10).to_string();
    assert_eq!(
        limit(&limits, "Max locked memory"),
        (memlock.clone(), memlock)
    );
    assert_eq!(out.dir.read("app.oom").trim(), "500");
    let status = out.dir.read("app.status");
    assert_eq!(field(&status, "Cpus_allowed_list:"), "0");
    // nice is field 19 of /proc/PID/stat; the shell is gone, so ask ps-less:
    // the limits file was written by `cat`, a child of the shell, which
    // inherits the nice value: check it through a second run below.
    let toml = "[process.app]\nmain = true\ncommand = [\"sh\", \"-c\", \"cut -d' ' -f19 /proc/self/stat > $DIR/nice\"]\nnice = 7\n";
    let out = pod_pid1("nice", toml, &[]).wait(LIMIT);
    assert_eq!(out.dir.read("nice").trim(), "7", "{}", out.stderr);
}

#[test]
fn a_sidecar_scores_no_higher_than_its_main_and_check_says_so() {
    need_root!();
    let toml = format!(
        "[process.side]\n{}[process.app]\nmain = true\ndepends_on = [\"side\"]\noom_score_adj = 300\ncommand = [\"sh\", \"-c\", \"sleep 0.5\"]\n",
        report("side")
    );
    let dir = TempDir::new("oomcheck");
    let cfg = dir.write(
        "pod.toml",
        &toml.replace("$DIR", &dir.path().to_string_lossy()),
    );
    let check = Command::new(BIN)
        .args(["check", "-c", &cfg.to_string_lossy()])
        .output()
        .unwrap();
    let said = text(&check.stdout);
    assert!(
        said.contains("oom_score_adj = 300 (the main's: a sidecar scores no higher than its main)"),
        "{said}"
    );
    let out = pod_pid1("oomside", &toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("side.oom").trim(), "300");
}

#[test]
fn dropped_and_added_capabilities_for_root_and_for_another_user() {
    need_real_root!();
    let Some((uid, gid, _)) = test_user() else {
        eprintln!("SKIPPED: cannot create the test user");
        return;
    };
    let toml = format!(
        "[process.asroot]\noneshot = true\n{}capabilities = {{ drop = [\"ALL\"], add = [\"NET_BIND_SERVICE\"] }}\n\
         [process.asuser]\noneshot = true\n{}user = \"{uid}\"\ngroup = \"{gid}\"\ncapabilities = {{ drop = [\"ALL\"], add = [\"cap_net_bind_service\", \"NET_RAW\"] }}\n\
         [process.plain]\noneshot = true\n{}user = \"{uid}\"\n\
         [process.main]\nmain = true\ndepends_on = [\"asroot\", \"asuser\", \"plain\"]\ncommand = \"true\"\n",
        report("asroot"),
        report("asuser"),
        report("plain")
    );
    let dir = TempDir::new("caps");
    chown_tree(dir.path(), uid, gid);
    // Root without CAP_DAC_OVERRIDE writes its report here too.
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let cfg = dir.write(
        "pod.toml",
        &toml.replace("$DIR", &dir.path().to_string_lossy()),
    );
    let out = Pod::start_pid1(dir, &["-c", &cfg.to_string_lossy()]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let bind = format!("{:016x}", 1u64 << 10);
    let s = out.dir.read("asroot.status");
    for set in ["CapBnd:", "CapPrm:", "CapEff:"] {
        assert_eq!(field(&s, set), bind, "{set} of root\n{s}");
    }
    // A non-root user really holds the added ones (ambient), and only them.
    let both = format!("{:016x}", (1u64 << 10) | (1 << 13));
    let s = out.dir.read("asuser.status");
    for set in ["CapBnd:", "CapPrm:", "CapEff:", "CapAmb:"] {
        assert_eq!(field(&s, set), both, "{set} of the user\n{s}");
    }
    let s = out.dir.read("plain.status");
    assert_eq!(field(&s, "CapEff:"), "0000000000000000", "{s}");
}

#[test]
fn a_limit_the_kernel_refuses_fails_that_start_naming_the_key() {
    need_root!();
    // Above the hard limit podinit itself has: refused (EPERM) for any
    // process whose podinit lacks CAP_SYS_RESOURCE; as root, nice -30 is
    // out of range already in the config. Use an affinity to a CPU that
    // does not exist here: EINVAL for everyone.
    let toml = "[process.app]\nmain = true\ncommand = \"true\"\ncpu_affinity = [1023]\n";
    let out = pod_pid1("refused", toml, &[]).wait(LIMIT);
    assert_ne!(out.code(), 0);
    assert!(
        out.stderr.contains("cpu_affinity")
            && out.stderr.contains("sched_setaffinity: Invalid argument"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_resource_keys_are_config_errors_naming_them() {
    let dir = TempDir::new("badres");
    for (toml, want) in [
        (
            "rlimits = { nofiles = 10 }",
            "unknown limit; did you mean `nofile`?",
        ),
        ("rlimits = { nofile = -1 }", "cannot be negative"),
        (
            "rlimits = { nofile = { soft = 10, hard = 5 } }",
            "the soft limit is above the hard limit",
        ),
        (
            "rlimits = { nofile = { soft = 10 } }",
            "needs both soft and hard",
        ),
        ("rlimits = { stack = true }", "expected a size"),
        ("oom_score_adj = 1001", "out of range: from -1000 to 1000"),
        ("nice = \"low\"", "expected an integer"),
        ("cpu_affinity = []", "names no CPU"),
        ("cpu_affinity = [2000]", "a CPU number from 0 to 1023"),
        (
            "capabilities = { drop = [\"NET_BIND_SERVIC\"] }",
            "unknown capability \"NET_BIND_SERVIC\"; did you mean \"NET_BIND_SERVICE\"?",
        ),
        ("capabilities = { add = [\"ALL\"] }", "add cannot name ALL"),
        ("capabilities = { keep = [] }", "unknown key"),
    ] {
        let cfg = dir.write(
            "pod.toml",
            &format!("[process.app]\ncommand = \"true\"\n{toml}\n"),
        );
        let out = Command::new(BIN)
            .args(["check", "-c", &cfg.to_string_lossy()])
            .output()
            .unwrap();
        let err = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{toml}: {err}");
        assert!(err.contains(want), "{toml}: {err}");
        assert!(err.contains("process.app."), "names the key: {err}");
    }
}
