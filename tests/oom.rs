//! OOM kills named: a process that allocates past its memory cgroup's
//! limit is killed by the kernel, and podinit says so — in the log, in
//! `status` (`last_exit_reason`: `oom`) and in the restart's cause.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A cgroup v1 memory cgroup of its own, removed on drop.
struct MemCgroup(std::path::PathBuf);

impl MemCgroup {
    fn new(limit: u64) -> Option<MemCgroup> {
        let root = std::path::Path::new("/sys/fs/cgroup/memory");
        if !root.join("memory.oom_control").exists() {
            return None;
        }
        let dir = root.join(format!("podinit-test-oom-{}", std::process::id()));
        std::fs::create_dir(&dir).ok()?;
        let cg = MemCgroup(dir);
        std::fs::write(cg.0.join("memory.limit_in_bytes"), limit.to_string()).ok()?;
        // No swap to escape to.
        let _ = std::fs::write(cg.0.join("memory.memsw.limit_in_bytes"), limit.to_string());
        Some(cg)
    }
}

impl Drop for MemCgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.0);
    }
}

#[test]
fn a_process_killed_by_the_oom_killer_is_named() {
    need_real_root!();
    let Some(cg) = MemCgroup::new(64 << 20) else {
        // cgroup v2 machines: the counter's parsing is unit-tested.
        eprintln!("SKIPPED: no cgroup v1 memory controller to make a cgroup in");
        return;
    };
    let dir = TempDir::new("oom");
    let toml = r#"
[podinit]
control_socket = "$DIR/ctl.sock"

[process.hog]
command = ["python3", "-c", "import os, time; open(os.environ['TEST_DIR'] + '/run', 'a').write('x'); b = bytearray(512 << 20); time.sleep(100)"]
restart = "on-failure"
restart_delay = "30s"

[process.web]
command = "sleep 1000"
"#
    .replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    // podinit, as PID 1, inside the small cgroup: its processes too.
    let script = format!(
        "echo $$ > {}/cgroup.procs && exec unshare --pid --fork --mount-proc --kill-child {BIN} -c {cfg}",
        cg.0.display()
    );
    let mut cmd = Command::new("sh");
    cmd.args(["-c", &script]).env("PATH", SYSTEM_PATH);
    let pod = Pod::start_wrapped(dir, cmd);
    pod.wait_text(
        "podinit.stderr",
        "hog was killed by the kernel OOM killer",
        LIMIT,
    );
    pod.wait_text("podinit.stderr", "cause: oom); restarting in 30s", LIMIT);
    let hog = status::status(&cfg, "hog");
    assert_eq!(hog.last_exit_reason.as_deref(), Some("oom"), "{hog:?}");
    assert_eq!((hog.oom_kills, hog.last_exit), (1, Some(137)), "{hog:?}");
    // Everyone else is fine, podinit first of all.
    assert_eq!(status::status(&cfg, "web").state, "ready");
    pod.signal(libc::SIGTERM);
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}
