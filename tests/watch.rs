//! `watch`: restarts on file changes, as the real binary does it as PID 1
//! (inotify in the loop, debounced by the supervisor).

mod common;

use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A pod whose `app` counts its runs in `runs` and watches `src/**/*.py`
/// (relative to its working_dir, the pod's dir).
fn watched(tag: &str) -> Pod {
    let toml = "[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\n\
        [process.app]\nworking_dir = \"$DIR\"\n\
        command = [\"sh\", \"-c\", \"echo run >> runs; exec sleep 1000\"]\n\
        watch = [\"src/**/*.py\"]\nwatch_ignore = [\"*.tmp\"]\nwatch_debounce = \"300ms\"\n";
    let dir = TempDir::new(tag);
    std::fs::create_dir_all(dir.join("src")).unwrap();
    dir.write("src/main.py", "print(1)\n");
    let toml = toml.replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_text("runs", "run", LIMIT);
    pod.wait_file("ctl.sock", LIMIT);
    pod
}

fn runs(pod: &Pod) -> usize {
    pod.dir.read("runs").lines().count()
}

#[test]
fn a_burst_of_twenty_files_gives_one_restart_naming_a_file() {
    need_root!();
    let pod = watched("watchburst");
    for i in 0..20 {
        pod.dir.write(&format!("src/f{i}.py"), "x\n");
    }
    pod.wait_until("a second run", LIMIT, || runs(&pod) == 2);
    // Quiet now: no second restart comes (well past the debounce).
    std::thread::sleep(Duration::from_millis(900));
    assert_eq!(runs(&pod), 2, "{}", pod.dir.read("podinit.stderr"));
    let e = pod.dir.read("podinit.stderr");
    assert!(e.contains("app: src/f0.py changed (and "), "{e}");
    assert!(e.contains("more file events); restarting it"), "{e}");
    // An ignored file and a file the glob does not match change nothing.
    pod.dir.write("src/x.tmp", "x\n");
    pod.dir.write("notes.txt", "x\n");
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(runs(&pod), 2);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn a_file_created_in_a_new_subdirectory_restarts_the_process() {
    need_root!();
    let pod = watched("watchnewdir");
    std::fs::create_dir_all(pod.dir.join("src/pkg/sub")).unwrap();
    pod.dir.write("src/pkg/sub/mod.py", "x\n");
    pod.wait_until("a second run", LIMIT, || runs(&pod) == 2);
    let e = pod.dir.read("podinit.stderr");
    assert!(e.contains("app: src/pkg/sub/mod.py changed"), "{e}");
    // The new directory is watched from now on.
    pod.dir.write("src/pkg/sub/more.py", "y\n");
    pod.wait_until("a third run", LIMIT, || runs(&pod) == 3);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn a_glob_that_matches_nothing_is_a_warning_naming_it() {
    need_root!();
    let toml = "[process.app]\ncommand = \"true\"\noneshot = true\nwatch = [\"nope/**/*.rs\"]\n";
    let dir = TempDir::new("watchnone");
    let cfg = dir.write("pod.toml", toml).to_string_lossy().into_owned();
    let check = std::process::Command::new(BIN)
        .args(["check", "-c", &cfg])
        .output()
        .unwrap();
    assert!(
        text(&check.stderr).contains("process.app.watch: \"nope/**/*.rs\" matches no file"),
        "{}",
        text(&check.stderr)
    );
    let out = Pod::start_pid1(dir, &["-c", &cfg]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("process.app.watch: \"nope/**/*.rs\" matches no file"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_tree_beyond_the_watch_limit_stops_the_start_naming_the_limit() {
    // The limit of a user namespace of our own: the host's is untouched.
    need_root!();
    let dir = TempDir::new("watchlimit");
    for k in 0..10 {
        std::fs::create_dir_all(dir.join(&format!("src/d{k}"))).unwrap();
    }
    let toml = format!(
        "[process.app]\ncommand = \"touch {0}/started\"\noneshot = true\nworking_dir = \"{0}\"\nwatch = [\"src/**/*\"]\n",
        dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let script = format!("echo 5 > /proc/sys/user/max_inotify_watches && exec {BIN} -c {cfg}");
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "sh", "-c", &script])
        .output()
        .unwrap();
    let e = text(&out.stderr);
    if e.contains("Operation not permitted") || e.contains("Permission denied") {
        eprintln!("SKIPPED here: no user namespace of our own ({e})");
        return;
    }
    assert_eq!(out.status.code(), Some(2), "{e}");
    assert!(e.contains("process.app.watch: watching"), "{e}");
    assert!(
        e.contains("limit of 5 inotify watches per user (user.max_inotify_watches"),
        "{e}"
    );
    assert!(!dir.join("started").exists(), "nothing started");
}
