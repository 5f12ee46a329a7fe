//! podinit under rootless Podman, as Kubernetes and OpenShift run it: an
//! arbitrary uid with gid 0, a read-only root filesystem, no capabilities;
//! and the shipped Kubernetes manifest (`examples/kubernetes/pod.yaml`)
//! through `podman kube play` / `podman kube down`.
//!
//! Needs root (to act as the rootless user `podinit-podman`, created here
//! with a subordinate id range wide enough for uid 1000680000), Debian's
//! `podman` and `uidmap`, and `busybox-static`. Podman's settings come from
//! `CONTAINERS_CONF` (written here): default ulimits under this machine's
//! hard limits (Podman's own exceed them and runc refuses), runc, cgroupfs.
//! Without podman each test skips and says why; with
//! `PODINIT_EXPECT_PODMAN=1` (set by `.ci/run`, which installs it) it fails.

mod common;

use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::*;

const USER: &str = "podinit-podman";
const IMAGE: &str = "localhost/podinit-example:latest";
const CONTAINERS_CONF: &str = "[containers]\n\
default_ulimits = [\"nofile=4096:4096\", \"nproc=4096:4096\"]\n\n\
[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n";

/// Where podman's config and the image's build context live: readable by
/// the rootless user, kept for the whole test process.
fn workdir() -> &'static TempDir {
    static DIR: OnceLock<TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = TempDir::new("podman");
        std::fs::set_permissions(
            d.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .unwrap();
        d.write("containers.conf", CONTAINERS_CONF);
        d
    })
}

/// `podman ARGS` as the rootless user, killed after two minutes.
fn podman(args: &[&str]) -> Output {
    Command::new("timeout")
        .args(["120", "runuser", "-u", USER, "--", "env"])
        .arg(format!("HOME=/home/{USER}"))
        .arg(format!(
            "CONTAINERS_CONF={}",
            workdir().s("containers.conf")
        ))
        .arg("podman")
        .args(args)
        .current_dir(workdir().path())
        .stdin(Stdio::null())
        .output()
        .expect("run podman")
}

fn ok(args: &[&str]) -> String {
    let out = podman(args);
    assert!(
        out.status.success(),
        "podman {args:?} failed: {}",
        text(&out.stderr)
    );
    text(&out.stdout)
}

/// The rootless user with ids up to 1000680000 mapped, or why not.
fn rootless_user() -> Result<(), String> {
    let run = |args: &[&str]| Command::new(args[0]).args(&args[1..]).output();
    if !run(&["id", USER]).is_ok_and(|o| o.status.success()) {
        let o = run(&["useradd", "-m", "-s", "/bin/sh", USER]).map_err(|e| e.to_string())?;
        if !o.status.success() {
            return Err(format!("useradd {USER}: {}", text(&o.stderr)));
        }
    }
    // 1.1 billion subordinate ids from 2,000,000: container uid 1000680000
    // (OpenShift's range) must map to something.
    for file in ["/etc/subuid", "/etc/subgid"] {
        let t = std::fs::read_to_string(file).unwrap_or_default();
        let want = format!("{USER}:2000000:1100000000");
        if !t.lines().any(|l| l == want) {
            let kept: String = t
                .lines()
                .filter(|l| !l.starts_with(&format!("{USER}:")))
                .map(|l| format!("{l}\n"))
                .collect();
            std::fs::write(file, format!("{kept}{want}\n")).map_err(|e| e.to_string())?;
        }
    }
    let o = podman(&["system", "migrate"]);
    if !o.status.success() {
        return Err(format!("podman system migrate: {}", text(&o.stderr)));
    }
    Ok(())
}

/// The example's image, built once as the rootless user: `FROM scratch`
/// with busybox (applets as symlinks, so no RUN step needs a network),
/// the static podinit and examples/kubernetes/podinit.toml.
fn prepare() -> Result<(), String> {
    static READY: OnceLock<Result<(), String>> = OnceLock::new();
    READY
        .get_or_init(|| {
            if !is_root() {
                return Err("these tests act as the rootless podman user, which needs root".into());
            }
            if Command::new("podman").arg("--version").output().is_err() {
                return Err("podman is not installed (apt-get install podman uidmap)".into());
            }
            rootless_user()?;
            let busybox = static_busybox()?;
            let ctx = workdir();
            std::fs::create_dir_all(ctx.join("bin")).unwrap();
            std::fs::copy(&busybox, ctx.join("bin/busybox")).map_err(|e| e.to_string())?;
            for applet in ["sh", "sleep", "id", "cat", "echo", "ls", "test", "touch"] {
                let _ = std::os::unix::fs::symlink("busybox", ctx.join("bin").join(applet));
            }
            std::fs::copy(static_podinit(), ctx.join("podinit")).map_err(|e| e.to_string())?;
            let root = env!("CARGO_MANIFEST_DIR");
            std::fs::copy(
                format!("{root}/examples/kubernetes/podinit.toml"),
                ctx.join("podinit.toml"),
            )
            .map_err(|e| e.to_string())?;
            ctx.write(
                "Containerfile",
                "FROM scratch\nCOPY bin/ /bin/\nCOPY podinit /usr/bin/podinit\n\
                 COPY podinit.toml /etc/podinit.toml\nENTRYPOINT [\"/usr/bin/podinit\"]\n",
            );
            let _ = Command::new("chmod")
                .args(["-R", "a+rX", &ctx.s("")])
                .status();
            // Podman answered `system migrate`: a failed build is ours.
            ok(&["build", "-q", "--network", "none", "-t", IMAGE, "."]);
            Ok(())
        })
        .clone()
}

/// Skips (or, where CI expects podman, fails) when it cannot run here.
macro_rules! need_podman {
    () => {
        if let Err(why) = prepare() {
            if std::env::var_os("PODINIT_EXPECT_PODMAN").is_some() {
                panic!("podman was expected to work here: {why}");
            }
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
}

/// One podman test at a time: they share the rootless user's storage.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Whether podman's version is at least MAJOR.MINOR.
fn podman_at_least(major: u32, minor: u32) -> bool {
    let v = text(
        &Command::new("podman")
            .arg("--version")
            .output()
            .unwrap()
            .stdout,
    );
    let mut nums = v
        .split_whitespace()
        .last()
        .unwrap_or("0.0")
        .split('.')
        .map(|n| n.parse::<u32>().unwrap_or(0));
    (nums.next().unwrap_or(0), nums.next().unwrap_or(0)) >= (major, minor)
}

fn wait_logs(container: &str, needle: &str) -> String {
    await_ok(
        &format!("{needle:?} in the logs"),
        Duration::from_secs(30),
        || {
            let out = podman(&["logs", container]);
            let all = text(&out.stdout) + &text(&out.stderr);
            if all.contains(needle) {
                Ok(all.clone())
            } else {
                Err(all)
            }
        },
    )
}

#[test]
fn rootless_read_only_with_an_arbitrary_uid_and_gid_0() {
    need_podman!();
    let _s = serial();
    let name = format!("podinit-ro-{}", std::process::id());
    let _ = podman(&["rm", "-f", &name]);
    ok(&[
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "none",
        "--read-only",
        "--user",
        "1000680000:0",
        "--cap-drop",
        "ALL",
        IMAGE,
    ]);
    let logs = wait_logs(&name, "shipped: app: serving as uid 1000680000");
    assert!(!logs.contains("warning"), "{logs}");
    // The control socket works inside (a tmpfs /tmp under --read-only).
    let status = ok(&["exec", &name, "podinit", "status"]);
    assert!(
        status.contains("app ") && status.contains("shipper "),
        "{status}"
    );
    let t0 = Instant::now();
    ok(&["stop", "-t", "10", &name]);
    let took = t0.elapsed();
    let logs = text(&podman(&["logs", &name]).stderr) + &text(&podman(&["logs", &name]).stdout);
    let code = ok(&["inspect", "--format", "{{.State.ExitCode}}", &name]);
    let _ = podman(&["rm", "-f", &name]);
    assert!(
        took < Duration::from_secs(9),
        "podman stop took {took:?}:\n{logs}"
    );
    assert!(logs.contains("app: draining connections"), "{logs}");
    assert!(logs.contains("shipper: flushed, stopping"), "{logs}");
    assert_eq!(code.trim(), "0", "{logs}");
}

#[test]
fn kube_play_and_kube_down_of_the_shipped_manifest() {
    need_podman!();
    let _s = serial();
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest = std::fs::read_to_string(format!("{root}/examples/kubernetes/pod.yaml")).unwrap();
    assert!(
        manifest.contains(&format!("image: {IMAGE}")),
        "the manifest names {IMAGE}"
    );
    assert!(manifest.contains("readOnlyRootFilesystem: true"));
    let yaml = workdir().write("pod.yaml", &manifest);
    let yaml = yaml.to_string_lossy().into_owned();
    let _ = podman(&["kube", "down", &yaml]);
    ok(&["kube", "play", "--network", "none", &yaml]);
    let container = "podinit-example-pod";
    wait_logs(container, "shipped: app: serving as uid 1000680000");
    // The emptyDir at /run holds the control socket (podinit-UID/ inside).
    let status = ok(&["exec", container, "podinit", "status"]);
    assert!(
        status.contains("app ") && status.contains("ready"),
        "{status}"
    );
    let sock = ok(&["exec", container, "ls", "/run/podinit-1000680000"]);
    assert!(sock.contains("podinit.sock"), "{sock}");
    // Follow the logs through the shutdown: they go with the pod.
    let mut follow = Command::new("runuser")
        .args(["-u", USER, "--", "env"])
        .arg(format!("HOME=/home/{USER}"))
        .arg(format!(
            "CONTAINERS_CONF={}",
            workdir().s("containers.conf")
        ))
        .args(["podman", "logs", "-f", container])
        .current_dir(workdir().path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The follower is attached once it has printed the logs so far.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let reader = {
        let mut stdout = follow.stdout.take().unwrap();
        let seen = seen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = std::io::Read::read(&mut stdout, &mut buf) {
                seen.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        })
    };
    await_true("podman logs -f attached", Duration::from_secs(30), || {
        !seen.lock().unwrap().is_empty()
    });
    // `podman kube down` SIGKILLs at once before Podman 5.1 (podman#22397,
    // fixed by podman#22398), and Podman reads terminationGracePeriodSeconds
    // only from 4.7 (podman#19914). Debian 12 has 4.3: there the graceful
    // stop is `podman pod stop -t GRACE` (what the kubelet does), then
    // `kube down`; from 5.1 on, `kube down` itself.
    let t0 = Instant::now();
    if podman_at_least(5, 1) {
        ok(&["kube", "down", &yaml]);
    } else {
        ok(&["pod", "stop", "-t", "15", "podinit-example"]);
    }
    let took = t0.elapsed();
    // After a `pod stop` the container and its logs are still there.
    let stopped = podman(&["logs", container]);
    ok(&["kube", "down", &yaml]);
    let out = follow.wait_with_output().unwrap();
    reader.join().unwrap();
    let mut logs = text(&seen.lock().unwrap()) + &text(&out.stderr);
    if !podman_at_least(5, 1) {
        logs = text(&stopped.stdout) + &text(&stopped.stderr);
    }
    // Within terminationGracePeriodSeconds (15), every process stopped by
    // its own handler, in order: the app before its log shipper.
    assert!(
        took < Duration::from_secs(15),
        "kube down took {took:?}:\n{logs}"
    );
    let app = logs.find("app: draining connections");
    let shipper = logs.find("shipper: flushed, stopping");
    assert!(app.is_some() && shipper.is_some(), "{logs}");
    assert!(app < shipper, "the app stops before its shipper:\n{logs}");
    assert!(logs.contains("exiting with status 0"), "{logs}");
}

#[test]
fn kube_play_of_the_multi_container_example_shows_what_podman_4_lacks() {
    // examples/kubernetes/multi-container.yaml, unchanged: its `busybox` is
    // this test's local image (no registry here). Podman 4.3 predates native
    // sidecars and refuses an init container with a startupProbe; Podman 5
    // (and Kubernetes 1.29+) run it as podinit does.
    need_podman!();
    let _s = serial();
    let root = env!("CARGO_MANIFEST_DIR");
    let manifest =
        std::fs::read_to_string(format!("{root}/examples/kubernetes/multi-container.yaml"))
            .unwrap();
    let yaml = workdir().write("multi.yaml", &manifest);
    let yaml = yaml.to_string_lossy().into_owned();
    ok(&["tag", IMAGE, "localhost/busybox:latest"]);
    let _ = podman(&["kube", "down", &yaml]);
    if !podman_at_least(5, 0) {
        // Podman 4 knows no native sidecar: it refuses the manifest.
        let out = podman(&["kube", "play", "--network", "none", &yaml]);
        assert!(!out.status.success());
        let e = text(&out.stderr);
        assert!(
            e.contains("cannot create an init container that has either of lifecycle, livenessProbe, readinessProbe, or startupProbe set"),
            "{e}"
        );
        return;
    }
    ok(&["kube", "play", "--network", "none", &yaml]);
    wait_logs("web-migrate", "migrate: done");
    wait_logs("web-app", "app: serving as web with label web");
    let _ = podman(&["kube", "down", &yaml]);
}
