//! Every shipped example pod runs to completion with the README's run
//! command and says what it should.

mod common;

use std::process::Command;

use common::*;

fn run_example(name: &str) -> (i32, String, String) {
    let _x = exclusive(); // fixed ports and /tmp paths
    let path = format!("{}/examples/{name}", env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(BIN).args(["-c", &path]).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn has_python() -> bool {
    Command::new("python3")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn demo() {
    let (code, out, err) = run_example("demo.toml");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("app: request 4 (hello from"), "{out}");
    assert!(out.contains("cache: flushing and stopping"), "{out}");
    let started: Vec<&str> = err
        .lines()
        .filter(|l| l.contains(" started (pid"))
        .collect();
    assert!(
        started[0].contains("setup") && started[1].contains("cache") && started[2].contains("app"),
        "{err}"
    );
}

#[test]
fn init_and_main() {
    let (code, out, err) = run_example("init-and-main.toml");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("app: read greeting=hello from the init task"),
        "{out}"
    );
}

#[test]
fn sidecar_cache() {
    if !has_python() {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    }
    let (code, out, err) = run_example("sidecar-cache.toml");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("app: got cached value 42").count(), 3, "{out}");
    assert!(err.contains("cache is ready"), "{err}");
}

#[test]
fn ambassador() {
    if !has_python() {
        eprintln!("SKIPPED: python3 is not installed");
        return;
    }
    let (code, out, err) = run_example("ambassador.toml");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("app: hello from the remote service"), "{out}");
}

#[test]
fn adapter() {
    let (code, out, err) = run_example("adapter.toml");
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("app: the adapter says: app_requests_total 5"),
        "{out}"
    );
}

#[test]
fn every_example_passes_check() {
    let examples = example_files();
    assert!(examples.len() >= 6, "{examples:?}");
    for path in examples {
        let mut cmd = Command::new(BIN);
        cmd.arg("check");
        // A drop-in is checked over the base file next to its directory.
        let dir = path.parent().unwrap();
        if dir.ends_with("podinit.d") {
            cmd.arg("-c")
                .arg(dir.parent().unwrap().join("podinit.toml"));
        }
        let out = cmd.arg("-c").arg(&path).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
