//! The optional HTTP endpoint: `/readyz`, `/livez`, `/metrics`, driven
//! with curl as Kubernetes and Prometheus would.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

/// `curl -s -o BODY -w CODE [-X METHOD] URL`: (status code, body).
fn curl(url: &str, method: &str) -> (u16, String) {
    let out = Command::new("curl")
        .args(["-s", "-m", "5", "-X", method, "-w", "\n%{http_code}", url])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (code.trim().parse().unwrap_or(0), body.to_string())
}

fn has_curl() -> bool {
    Command::new("curl").arg("--version").output().is_ok()
}

#[test]
fn readyz_livez_and_metrics() {
    need_root!();
    if !has_curl() {
        eprintln!("SKIPPED: curl is not installed");
        return;
    }
    let port = free_port();
    let toml = format!(
        r#"
[podinit]
http = "127.0.0.1:{port}"

[process.web]
command = ["sh", "-c", "echo one; echo two; exec sleep 1000"]

[process.slow]
command = "sleep 1000"
ready = {{ file = "$DIR/ready", interval = "50ms" }}
"#
    );
    let pod = pod_pid1("http", &toml, &[]);
    let base = format!("http://127.0.0.1:{port}");
    // Not ready while slow is not: 503 with the reason.
    let (code, body) = await_ok("/readyz answering 503", LIMIT, || {
        let r = curl(&format!("{base}/readyz"), "GET");
        if r.0 == 503 {
            Ok(r)
        } else {
            Err(format!("{r:?}"))
        }
    });
    assert_eq!(code, 503, "{body}");
    assert!(body.starts_with("not ready: slow is running"), "{body}");
    assert_eq!(curl(&format!("{base}/livez"), "GET").0, 200);
    pod.dir.write("ready", "");
    pod.wait_until("readyz answers 200", LIMIT, || {
        curl(&format!("{base}/readyz"), "GET")
            == (
                200,
                "ready: 2 processes\nInitialized=True ContainersReady=True Ready=True\n"
                    .to_string(),
            )
    });
    let (code, metrics) = curl(&format!("{base}/metrics"), "GET");
    assert_eq!(code, 200);
    for want in [
        "podinit_process_up{process=\"web\"} 1",
        "podinit_process_ready{process=\"slow\"} 1",
        "podinit_process_restarts_total{process=\"web\"} 0",
        "podinit_log_lines_total{process=\"web\",stream=\"stdout\"} 2",
        "podinit_log_bytes_dropped_total 0",
        "podinit_process_exits_total{process=\"web\",reason=\"oom\"} 0",
        "# TYPE podinit_process_start_time_seconds gauge",
    ] {
        assert!(metrics.contains(want), "{want} not in:\n{metrics}");
    }
    // Read-only, and nothing else is there.
    assert_eq!(curl(&format!("{base}/readyz"), "POST").0, 405);
    assert_eq!(curl(&format!("{base}/nope"), "GET").0, 404);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn an_address_that_cannot_be_bound_is_an_error_naming_the_key() {
    need_root!();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let toml =
        format!("[podinit]\nhttp = \"127.0.0.1:{port}\"\n[process.web]\ncommand = \"true\"\n");
    let out = pod_pid1("httpbusy", &toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 2, "{}", out.stderr);
    assert!(
        out.stderr
            .contains(&format!("podinit.http: cannot listen on 127.0.0.1:{port}")),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains("started"), "{}", out.stderr);
    // A malformed address is a config error with its line.
    let out = pod_pid1(
        "httpbad",
        "[podinit]\nhttp = \"localhost\"\n[process.web]\ncommand = \"true\"\n",
        &[],
    )
    .wait(LIMIT);
    assert_eq!(out.code(), 2);
    assert!(
        out.stderr
            .contains("pod.toml:2: podinit.http: \"localhost\" is not an IP address and port"),
        "{}",
        out.stderr
    );
}
