//! podinit in a real Docker engine, as users meet it: the static release
//! binary in a `FROM scratch` image (plus Debian's busybox-static for a
//! shell), copied in with `COPY --from=` the way a base image embeds it.
//!
//! Needs a running engine (`docker info` answers), `busybox-static`, and
//! cargo for the static build; each test skips, saying why, without them.
//! `.ci/run` installs Debian's `docker.io` and `busybox-static` and starts
//! `dockerd` for the run. No registry is used: nothing is pulled.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::*;

/// The image with only podinit, as the project's Dockerfile produces it.
const BIN_IMAGE: &str = "podinit-e2e-bin:latest";
/// busybox + podinit copied from BIN_IMAGE: a user's base image.
const IMAGE: &str = "podinit-e2e:latest";

/// `docker ARGS`, killed after two minutes so a wedged engine fails a test
/// rather than hanging the suite.
fn docker(args: &[&str]) -> Output {
    Command::new("timeout")
        .arg("120")
        .arg("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run docker")
}

fn build_images() -> Result<(), String> {
    if !is_root() {
        return Err("these tests need root to talk to the Docker engine".into());
    }
    let info = Command::new("timeout")
        .args(["20", "docker", "info", "--format", "{{.ServerVersion}}"])
        .output()
        .map_err(|e| format!("no docker client: {e}"))?;
    if !info.status.success() {
        return Err(format!(
            "no Docker engine answers (`docker info`: {}); .ci/run starts one",
            text(&info.stderr).trim()
        ));
    }
    let busybox = static_busybox()?;
    let podinit = static_podinit();
    let ctx = TempDir::new("docker-ctx");
    std::fs::copy(&podinit, ctx.join("podinit")).map_err(|e| e.to_string())?;
    std::fs::copy(&busybox, ctx.join("busybox")).map_err(|e| e.to_string())?;
    // The final stage of the project's Dockerfile, with the host-built
    // binary in place of the build stage's (no registry to pull rust from).
    ctx.write("Dockerfile.bin", &final_stage());
    // A base image that embeds it, as README's third recipe does. No /run:
    // podinit makes it for its control socket.
    ctx.write(
        "Dockerfile",
        &format!(
            "FROM scratch\n\
             COPY busybox /bin/busybox\n\
             RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n\
             RUN [\"/bin/busybox\", \"mkdir\", \"-p\", \"/tmp\"]\n\
             COPY --from={BIN_IMAGE} /usr/bin/podinit /usr/bin/podinit\n\
             ENTRYPOINT [\"/usr/bin/podinit\"]\n"
        ),
    );
    for (file, tag) in [("Dockerfile.bin", BIN_IMAGE), ("Dockerfile", IMAGE)] {
        let ctx_path = ctx.s("");
        // The engine answered `docker info`: a failed build is ours.
        let out = docker(&["build", "-q", "-f", &ctx.s(file), "-t", tag, &ctx_path]);
        assert!(
            out.status.success(),
            "docker build {tag} failed: {}",
            text(&out.stderr)
        );
    }
    Ok(())
}

/// The last stage of the project's Dockerfile, copying `podinit` from the
/// build context instead of from the build stage. A Dockerfile that does not
/// fit fails the tests (it does not skip them).
fn final_stage() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Dockerfile");
    let text = std::fs::read_to_string(&path).expect("read the Dockerfile");
    let last = text
        .rfind("\nFROM ")
        .expect("the Dockerfile has a final stage");
    let stage = &text[last + 1..];
    let from_build = "COPY --from=build /podinit ";
    assert!(
        stage.contains(from_build),
        "the Dockerfile's final stage has no `{from_build}`:\n{stage}"
    );
    stage.replace(from_build, "COPY podinit ")
}

/// Builds the images once per test binary; the reason to skip otherwise.
fn image() -> Result<&'static str, &'static String> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    match BUILT.get_or_init(build_images) {
        Ok(()) => Ok(IMAGE),
        Err(e) => Err(e),
    }
}

macro_rules! need_docker {
    () => {
        match image() {
            Ok(img) => img,
            Err(why) => {
                eprintln!("SKIPPED: {why}");
                return;
            }
        }
    };
}

/// A named container, removed (forcibly) when the test ends.
struct Container {
    name: String,
}

impl Container {
    fn new() -> Container {
        static N: AtomicUsize = AtomicUsize::new(0);
        Container {
            name: format!(
                "podinit-e2e-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ),
        }
    }

    /// `docker run -d --name NAME [docker_args] IMAGE [podinit_args]`.
    fn start(&self, img: &str, docker_args: &[&str], podinit_args: &[&str]) {
        let mut args = vec!["run", "-d", "--name", &self.name];
        args.extend_from_slice(docker_args);
        args.push(img);
        args.extend_from_slice(podinit_args);
        let out = docker(&args);
        assert!(out.status.success(), "docker run: {}", text(&out.stderr));
    }

    /// The container's exit code, once it has exited.
    fn wait(&self) -> i32 {
        let out = docker(&["wait", &self.name]);
        assert!(out.status.success(), "docker wait: {}", text(&out.stderr));
        text(&out.stdout).trim().parse().unwrap()
    }

    /// (stdout, stderr) of `docker logs`.
    fn logs(&self) -> (String, String) {
        let out = docker(&["logs", &self.name]);
        (text(&out.stdout), text(&out.stderr))
    }

    /// `docker exec NAME sh -c SCRIPT`, its stdout.
    fn sh(&self, script: &str) -> String {
        let out = docker(&["exec", &self.name, "sh", "-c", script]);
        assert!(out.status.success(), "docker exec: {}", text(&out.stderr));
        text(&out.stdout)
    }

    /// Waits until `sh -c TEST` succeeds in the container.
    fn wait_until(&self, test: &str) {
        await_true(test, Duration::from_secs(30), || {
            docker(&["exec", &self.name, "sh", "-c", test])
                .status
                .success()
        });
    }

    /// `docker stop [-t T] NAME`: how long it took.
    fn stop(&self, timeout: Option<u32>) -> Duration {
        let t = timeout.map(|t| t.to_string());
        let mut args = vec!["stop"];
        if let Some(t) = &t {
            args.extend(["-t", t.as_str()]);
        }
        args.push(&self.name);
        let started = Instant::now();
        let out = docker(&args);
        assert!(out.status.success(), "docker stop: {}", text(&out.stderr));
        started.elapsed()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// A temp dir holding `pod.toml`, mounted read-only at /pod.
fn pod_dir(tag: &str, toml: &str) -> (TempDir, String) {
    let dir = TempDir::new(tag);
    dir.write("pod.toml", toml);
    let mount = format!("{}:/pod:ro", dir.path().display());
    (dir, mount)
}

/// `docker run --rm IMAGE ARGS`: (exit code, stdout, stderr).
fn run_once(img: &str, docker_args: &[&str], args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(docker_args);
    all.push(img);
    all.extend_from_slice(args);
    let out = docker(&all);
    (
        out.status.code().unwrap_or(-1),
        text(&out.stdout),
        text(&out.stderr),
    )
}

#[test]
fn exit_codes_pass_through_docker_run() {
    let img = need_docker!();
    // The project's image: podinit is its ENTRYPOINT.
    let (code, out, err) = run_once(BIN_IMAGE, &[], &["--version"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("podinit 0.1"), "{out}");
    // Drop-in mode, as `tini --`.
    let (code, out, _) = run_once(img, &[], &["--", "sh", "-c", "echo hi; exit 7"]);
    assert_eq!((code, out.as_str()), (7, "hi\n"));
    // Killed by a signal: 128 + N, as a shell reports it.
    let (code, _, _) = run_once(img, &[], &["--", "sh", "-c", "kill -KILL $$"]);
    assert_eq!(code, 137);
    // Not found: 127.
    let (code, _, err) = run_once(img, &[], &["--", "/no/such/program"]);
    assert_eq!(code, 127, "{err}");
    assert!(err.contains("/no/such/program"), "{err}");
    // A pod from a TOML file: the main process's status.
    let (_d, mount) = pod_dir(
        "docker-exit",
        r#"
[process.side]
command = ["sleep", "1000"]

[process.app]
command = ["sh", "-c", "exit 3"]
main = true
depends_on = ["side"]
"#,
    );
    let (code, _, err) = run_once(img, &["-v", &mount], &["-c", "/pod/pod.toml"]);
    assert_eq!(code, 3, "{err}");
    // The same pod under a 1,024 soft fd limit, as recent engines give, and
    // as an ordinary user: it starts (before: exit 126, nothing started).
    let (code, _, err) = run_once(
        img,
        &[
            "-v",
            &mount,
            "--ulimit",
            "nofile=1024:20000",
            "--user",
            "65534:65534",
        ],
        &["-c", "/pod/pod.toml"],
    );
    assert_eq!(code, 3, "{err}");
    assert!(!err.contains("cannot start"), "{err}");
    // A config error: 2, the key named, nothing started.
    let (_d2, mount2) = pod_dir(
        "docker-bad",
        "[process.app]\ncommand = [\"true\"]\nrestart = \"sometimes\"\n",
    );
    let (code, _, err) = run_once(img, &["-v", &mount2], &["-c", "/pod/pod.toml"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("restart"), "{err}");
    assert!(!err.contains("started"), "{err}");
}

#[test]
fn docker_stop_is_quick_when_processes_handle_term() {
    let img = need_docker!();
    let (_d, mount) = pod_dir(
        "docker-stop",
        r#"
[process.cache]
command = ["sh", "-c", "trap 'echo cache: bye; exit 0' TERM; echo ready > /tmp/cache; sleep 1000 & wait"]

[process.app]
command = ["sleep", "1000"]
main = true
success_codes = [0, 143]
depends_on = ["cache"]
"#,
    );
    let c = Container::new();
    c.start(img, &["-v", &mount], &["-c", "/pod/pod.toml"]);
    c.wait_until("test -f /tmp/cache && pidof sleep | grep -q ' '");
    let took = c.stop(None); // docker's default grace: 10 s
    let code = c.wait();
    let (_, err) = c.logs();
    eprintln!("docker stop with podinit: {took:?}");
    assert!(
        took < Duration::from_secs(3),
        "docker stop took {took:?}; logs:\n{err}"
    );
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("all processes are down"), "{err}");

    // Drop-in mode: docker stop's TERM reaches the command, and its death
    // by TERM comes back as 143, as with tini.
    let drop_in = Container::new();
    drop_in.start(img, &[], &["--", "sleep", "1000"]);
    drop_in.wait_until("pidof sleep");
    let took = drop_in.stop(None);
    assert!(took < Duration::from_secs(3), "{took:?}");
    assert_eq!(drop_in.wait(), 143);

    // The same sleep as PID 1 without an init: the kernel drops TERM for a
    // PID 1 without a handler, so docker waits out its grace period.
    let bare = Container::new();
    bare.start(img, &["--entrypoint", "/bin/sleep"], &["1000"]);
    let took = bare.stop(Some(2));
    eprintln!("docker stop -t 2 without an init: {took:?}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert_eq!(bare.wait(), 137);
}

/// A JVM or PostgreSQL user who swapped `tini --` for `podinit --`: a
/// `docker kill -s QUIT` (the thread dump) leaves the command running, and
/// `docker stop -t 30` of a shutdown that takes longer than podinit's own
/// 5 s default lets it finish: the engine's grace period is the bound.
#[test]
fn drop_in_mode_under_docker_kill_quit_and_a_long_docker_stop() {
    let img = need_docker!();
    let c = Container::new();
    let script = "trap 'echo dump >> /tmp/got' QUIT; trap 'sleep 7; echo clean; exit 9' TERM; \
         touch /tmp/ready; while :; do sleep 0.05; done";
    c.start(img, &[], &["--", "sh", "-c", script]);
    c.wait_until("test -f /tmp/ready");
    let out = docker(&["kill", "-s", "QUIT", &c.name]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    c.wait_until("grep -q dump /tmp/got");
    let took = c.stop(Some(30));
    assert!(took >= Duration::from_secs(7), "{took:?}");
    assert_eq!(c.wait(), 9);
    let (out, err) = c.logs();
    assert!(out.contains("clean"), "{out}");
    assert!(!err.contains("SIGKILL"), "{err}");
}

#[test]
fn a_term_ignorer_is_killed_at_its_stop_timeout_not_dockers() {
    let img = need_docker!();
    let (_d, mount) = pod_dir(
        "docker-deaf",
        r#"
[process.deaf]
command = ["sh", "-c", "trap '' TERM; touch /tmp/deaf; sleep 1000"]
stop_timeout = "1s"
"#,
    );
    let c = Container::new();
    c.start(img, &["-v", &mount], &["-c", "/pod/pod.toml"]);
    c.wait_until("test -f /tmp/deaf");
    let took = c.stop(None);
    let (_, err) = c.logs();
    eprintln!("docker stop of a TERM-ignorer with stop_timeout = 1s: {took:?}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(5),
        "docker stop took {took:?}; logs:\n{err}"
    );
    assert!(
        err.contains("deaf did not stop within 1s of SIGTERM; sending SIGKILL"),
        "{err}"
    );
    // No main: a requested shutdown is a success.
    assert_eq!(c.wait(), 0, "{err}");
}

#[test]
fn no_zombies_after_an_orphan_burst() {
    let img = need_docker!();
    let (_d, mount) = pod_dir(
        "docker-orphans",
        r#"
[process.spawner]
command = ["sh", "-c", "i=0; while [ $i -lt 300 ]; do (sleep 0.01 &); i=$((i+1)); done; touch /tmp/done; sleep 1000"]
"#,
    );
    let c = Container::new();
    c.start(img, &["-v", &mount], &["-c", "/pod/pod.toml"]);
    c.wait_until("test -f /tmp/done");
    // Every orphan's sleep has ended by now; podinit reaps each as its
    // SIGCHLD arrives: wait (bounded) until no zombie is left.
    let states = await_ok("no zombie left", Duration::from_secs(10), || {
        let states = c.sh("for f in /proc/[0-9]*/stat; do read -r l < $f && echo \"$l\"; done");
        let zombies: Vec<String> = states
            .lines()
            .filter(|l| l.rsplit(") ").next().is_some_and(|r| r.starts_with('Z')))
            .map(str::to_string)
            .collect();
        if zombies.is_empty() {
            Ok(states)
        } else {
            Err(format!("{zombies:?}"))
        }
    });
    // podinit, the spawner's sh and sleep, and the exec'd sh: nothing else.
    assert!(states.lines().count() <= 5, "{states}");
    c.stop(None);
}

#[test]
fn docker_logs_show_each_process_prefixed() {
    let img = need_docker!();
    let (_d, mount) = pod_dir(
        "docker-logs",
        r#"
[process.web]
command = ["sh", "-c", "echo 'hello from web'; echo 'web warning' >&2; sleep 1000"]

[process.worker]
command = ["sh", "-c", "echo 'hello from worker'; echo 'worker warning' >&2; sleep 0.2"]
main = true
depends_on = ["web"]
"#,
    );
    let c = Container::new();
    c.start(img, &["-v", &mount], &["-c", "/pod/pod.toml"]);
    assert_eq!(c.wait(), 0);
    let (out, err) = c.logs();
    let has = |text: &str, name: &str, line: &str| {
        text.lines().any(|l| {
            l.split_once(" | ")
                .is_some_and(|(n, rest)| n.trim_end() == name && rest == line)
        })
    };
    assert!(has(&out, "web", "hello from web"), "stdout:\n{out}");
    assert!(has(&out, "worker", "hello from worker"), "stdout:\n{out}");
    // stderr stays stderr: docker keeps the two streams apart.
    assert!(has(&err, "web", "web warning"), "stderr:\n{err}");
    assert!(has(&err, "worker", "worker warning"), "stderr:\n{err}");
    assert!(!out.contains("warning"), "stdout:\n{out}");
    // Aligned: both prefixes have the same width.
    let width = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.find(" | "))
    };
    assert_eq!(width("web"), width("worker"), "{out}");
}

#[test]
fn docker_run_it_gives_the_main_shell_the_terminal() {
    let img = need_docker!();
    let mut t = pty::Term::open();
    let mut child = Command::new("docker")
        .args(["run", "-it", "--rm", "-e", "PODINIT_LOG=warn", "-e"])
        .arg("PS1=PROMPT$ ")
        .args([img, "--", "sh", "-i"])
        .stdin(Stdio::from(t.slave()))
        .stdout(Stdio::from(t.slave()))
        .stderr(Stdio::from(t.slave()))
        .spawn()
        .unwrap();
    t.expect("PROMPT$ ");
    t.send("echo in-$((40+2))\n");
    t.expect("in-42");
    t.expect("PROMPT$ ");
    // Ctrl-C reaches the foreground job (sleep), not the shell or podinit.
    t.send("sleep 30.023\n");
    wait_process("sleep\x0030.023\x00", Duration::from_secs(20));
    t.send("\x03");
    t.expect("PROMPT$ ");
    t.send("echo alive-$$\n");
    t.expect("alive-");
    t.expect("PROMPT$ ");
    t.send("exit 5\n");
    let status = t.wait(&mut child);
    assert_eq!(status.code(), Some(5), "screen:\n{}", t.seen);
}

#[test]
fn an_app_image_on_a_base_image_adds_etc_podinit_toml_and_a_cmd() {
    let img = need_docker!();
    let ctx = TempDir::new("docker-app");
    ctx.write(
        "pod.toml",
        r#"
[process.side]
command = ["sh", "-c", "echo side up; exec sleep 1000"]
ready = { log = "side up" }
"#,
    );
    // The base image's ENTRYPOINT is podinit --; the app image adds a
    // config where podinit looks by default and a CMD, which becomes `main`.
    ctx.write(
        "Dockerfile",
        &format!(
            "FROM {img}\n\
             COPY pod.toml /etc/podinit.toml\n\
             ENTRYPOINT [\"/usr/bin/podinit\", \"--\"]\n\
             CMD [\"sh\", \"-c\", \"echo main ran; podinit status; exit 4\"]\n"
        ),
    );
    let tag = format!("podinit-e2e-app:{}", std::process::id());
    let out = docker(&["build", "-q", "-t", &tag, &ctx.s("")]);
    assert!(out.status.success(), "docker build: {}", text(&out.stderr));
    let c = Container::new();
    c.start(&tag, &[], &[]);
    let code = c.wait();
    let (out, err) = c.logs();
    let _ = docker(&["rmi", "-f", &tag]);
    assert_eq!(code, 4, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.contains("side | side up"), "{out}");
    // The CMD keeps podinit's stdout, unprefixed, as under tini.
    assert!(out.lines().any(|l| l == "main ran"), "{out}");
    // `podinit status` from inside the container reached the pod.
    let row = out
        .lines()
        .find(|l| l.starts_with("side ") && l.contains(" 0 "))
        .unwrap_or_else(|| panic!("no status row for side:\n{out}"));
    assert!(row.contains(" ready "), "{row}");
}

/// examples/base-image: the base image's Dockerfile and pod, then the app
/// image's, which adds one drop-in; built on the real engine from the
/// example's own files (BASE: this suite's busybox image).
#[test]
fn the_base_and_app_image_example_layers_a_drop_in_over_the_base() {
    let img = need_docker!();
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/base-image");
    let ctx = TempDir::new("docker-layers");
    std::fs::create_dir(ctx.join("podinit.d")).unwrap();
    for f in [
        "base.Dockerfile",
        "app.Dockerfile",
        "podinit.toml",
        "podinit.d/50-app.toml",
    ] {
        std::fs::copy(example.join(f), ctx.join(f)).unwrap();
    }
    std::fs::copy(static_podinit(), ctx.join("podinit")).unwrap();
    let id = std::process::id();
    let (base, app) = (
        format!("podinit-e2e-base:{id}"),
        format!("podinit-e2e-layered:{id}"),
    );
    for (file, tag, from) in [
        ("base.Dockerfile", &base, img),
        ("app.Dockerfile", &app, base.as_str()),
    ] {
        let arg = format!("BASE={from}");
        let out = docker(&[
            "build",
            "-q",
            "--build-arg",
            &arg,
            "-f",
            &ctx.s(file),
            "-t",
            tag,
            &ctx.s(""),
        ]);
        assert!(
            out.status.success(),
            "docker build {file}: {}",
            text(&out.stderr)
        );
    }
    let c = Container::new();
    c.start(&app, &[], &[]);
    c.wait_until("podinit status app | grep -q ' ready '");
    let status = c.sh("podinit status");
    let check = c.sh("podinit check");
    let took = c.stop(None);
    let code = c.wait();
    let (out, err) = c.logs();
    let _ = docker(&["rmi", "-f", &app, &base]);
    let line = |name: &str, says: &str| {
        out.lines().any(|l| {
            l.split_once(" | ")
                .is_some_and(|(n, t)| n.trim() == name && t == says)
        })
    };
    assert!(line("shipper", "shipping to app-logs"), "{out}\n{err}");
    assert!(line("init", "base init done"), "{out}");
    assert!(line("app", "app serving"), "{out}");
    assert!(
        !out.contains("metrics up"),
        "the app image removed metrics: {out}"
    );
    assert!(!status.contains("metrics"), "{status}");
    assert!(
        check.contains("/etc/podinit.d/50-app.toml:12"),
        "check names where SHIP_TO comes from:\n{check}"
    );
    assert!(took < Duration::from_secs(8), "docker stop took {took:?}");
    assert_eq!(code, 143, "the main's status (TERM): {err}");
}
