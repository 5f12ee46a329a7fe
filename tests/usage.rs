//! Each process's CPU and memory: `status`, `status --json`, `/metrics`
//! and `podinit top` (on a pty and into a pipe), against /proc's own view.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

fn pod_with_busy_and_idle(tag: &str) -> (Pod, String, u16) {
    let port = free_port();
    let toml = format!(
        "[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\nhttp = \"127.0.0.1:{port}\"\n\
         [process.busy]\ncommand = [\"sh\", \"-c\", \"while :; do :; done\"]\n\
         [process.idle]\ncommand = \"sleep 1000.25\"\n"
    );
    let pod = pod_pid1(tag, &toml, &[]);
    pod.wait_file("ctl.sock", LIMIT);
    let cfg = pod.dir.s("pod.toml");
    (pod, cfg, port)
}

/// A field of one process's object in `status --json`.
fn field(json: &str, name: &str, key: &str) -> String {
    let obj = json
        .split("},{")
        .find(|o| o.contains(&format!("\"name\":\"{name}\"")))
        .unwrap_or_else(|| panic!("no {name} in {json}"));
    let k = format!("\"{key}\":");
    let rest = &obj[obj.find(&k).unwrap_or_else(|| panic!("no {key} in {obj}")) + k.len()..];
    rest.split([',', '}'])
        .next()
        .unwrap()
        .trim_matches('"')
        .to_string()
}

/// The host pid of the process whose command line is `cmdline` (NULs apart).
fn host_pid(pod: &Pod, cmdline: &str) -> i32 {
    let found = poll_until(LIMIT, || {
        processes_in_ns(pod.pid)
            .into_iter()
            .map(|(p, _)| p)
            .find(|p| {
                std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == cmdline.as_bytes())
            })
    });
    found.unwrap_or_else(|| panic!("{cmdline:?} not running"))
}

/// /proc's own figures for one process: CPU seconds and RSS bytes.
fn proc_view(pid: i32) -> (f64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let f: Vec<&str> = stat
        .rsplit_once(") ")
        .unwrap()
        .1
        .split_whitespace()
        .collect();
    let ticks: f64 = f[11].parse::<f64>().unwrap() + f[12].parse::<f64>().unwrap();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap();
    (ticks / 100.0, kb * 1024)
}

fn within(a: f64, b: f64, pct: f64, slack: f64) -> bool {
    (a - b).abs() <= b.abs() * pct / 100.0 + slack
}

#[test]
fn cpu_and_memory_of_a_busy_and_an_idle_process_match_proc() {
    need_root!();
    let (pod, cfg, port) = pod_with_busy_and_idle("usage");
    let busy = host_pid(&pod, "sh\0-c\0while :; do :; done\0");
    let idle = host_pid(&pod, "sleep\x001000.25\0");
    pod.wait_until("busy used a second of CPU", LIMIT, || {
        proc_view(busy).0 >= 1.0
    });
    let json = ctl_ok(&cfg, &["status", "--json"]);
    let (busy_cpu, _) = proc_view(busy);
    let (idle_cpu, idle_rss) = proc_view(idle);
    let cpu: f64 = field(&json, "busy", "cpu_seconds").parse().unwrap();
    // Read a moment apart: the busy one runs on in between.
    assert!(
        within(cpu, busy_cpu, 10.0, 0.1),
        "busy: {cpu} vs /proc {busy_cpu}"
    );
    let icpu: f64 = field(&json, "idle", "cpu_seconds").parse().unwrap();
    assert!(
        within(icpu, idle_cpu, 10.0, 0.02),
        "idle: {icpu} vs /proc {idle_cpu}"
    );
    let mem: f64 = field(&json, "idle", "memory_bytes").parse().unwrap();
    assert!(
        within(mem, idle_rss as f64, 10.0, 0.0),
        "idle: {mem} vs /proc {idle_rss}"
    );
    assert_eq!(field(&json, "idle", "threads"), "1");
    // The table: CPU (since start) and MEM columns.
    let table = ctl_ok(&cfg, &["status"]);
    let head = table.lines().next().unwrap();
    assert!(head.contains(" CPU ") && head.contains(" MEM "), "{table}");
    let row = table.lines().find(|l| l.starts_with("busy")).unwrap();
    assert!(row.contains('%'), "{table}");
    // /metrics: the three families, for each running process.
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut metrics = String::new();
    s.read_to_string(&mut metrics).unwrap();
    for family in [
        "podinit_process_cpu_seconds_total{process=\"busy\"} ",
        "podinit_process_memory_bytes{process=\"idle\"} ",
        "podinit_process_threads{process=\"idle\"} 1",
        "# TYPE podinit_process_cpu_seconds_total counter",
    ] {
        assert!(metrics.contains(family), "{family} not in\n{metrics}");
    }
    drop(pod);
}

#[test]
fn top_prints_one_table_into_a_pipe_and_runs_live_on_a_terminal_until_q() {
    need_root!();
    let (pod, cfg, _) = pod_with_busy_and_idle("top");
    host_pid(&pod, "sh\0-c\0while :; do :; done\0");
    // Into a pipe: one table, sorted by CPU (busy first), then exit 0.
    let out = ctl_ok(&cfg, &["top"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("NAME") && lines[0].contains("CPU"),
        "{out}"
    );
    assert!(lines[1].starts_with("busy"), "{out}");
    let out = ctl_ok(&cfg, &["top", "-s", "mem"]);
    assert!(out.lines().count() == 3, "{out}");
    // A bad sort is a usage error.
    let bad = Command::new(BIN)
        .args(["top", "-s", "disk", "-c", &cfg])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    // On a terminal: the screen refreshes; q ends it and restores the terminal.
    let mut t = pty::Term::open();
    let mut cmd = Command::new(BIN);
    cmd.args(["top", "-c", &cfg]);
    let mut child = t.spawn(cmd);
    t.expect("podinit top: by CPU");
    t.expect("busy");
    // A second screen: CPU between two looks of a process that spins.
    t.expect("podinit top: by CPU");
    t.expect("busy");
    t.send("q");
    let st = t.wait(&mut child);
    assert_eq!(st.code(), Some(0));
    drop(pod);
}
