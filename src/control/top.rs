//! `podinit top`: the pod's processes with their CPU and memory, like
//! `docker stats` for the processes of one container. On a terminal it
//! refreshes every second until `q` or Ctrl-C; otherwise it prints one
//! table and exits. A client of `status --json`: CPU % is the share of a
//! core between two looks (the first look: since the process started).

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::{Verb, human_bytes, json_field, json_objects, parse_millis, percent, request};

/// How `top` orders its rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sort {
    Cpu,
    Mem,
}

impl Sort {
    pub fn parse(args: &[String]) -> Result<Sort, String> {
        match args {
            [] => Ok(Sort::Cpu),
            [s, v] if s == "-s" && v == "cpu" => Ok(Sort::Cpu),
            [s, v] if s == "-s" && v == "mem" => Ok(Sort::Mem),
            _ => Err("usage: podinit top [-s cpu|mem]".into()),
        }
    }
}

/// One row of the table.
#[derive(Debug, PartialEq)]
struct Row {
    name: String,
    state: String,
    pid: String,
    /// CPU per mille of a core (for sorting), and its cell.
    cpu: u64,
    cpu_cell: String,
    mem: u64,
    restarts: String,
    uptime: String,
    ready: String,
}

/// The previous look: each running process's CPU ms, by name and pid.
type Seen = HashMap<(String, String), u64>;

/// The rows of one look at `json`, with CPU since `last` (taken `dt` ago).
fn rows(json: &str, last: &Seen, dt: Duration, seen: &mut Seen) -> Vec<Row> {
    let mut out = Vec::new();
    for obj in json_objects(json) {
        let f = |k: &str| json_field(obj, k);
        let (name, pid) = (f("name"), f("pid"));
        let cpu_ms = parse_millis(&f("cpu_seconds"));
        let key = (name.clone(), pid.clone());
        let share = match (cpu_ms, last.get(&key), f("uptime_ms").parse::<u64>()) {
            (Some(now), Some(&before), _) if dt.as_millis() > 0 => {
                Some((now.saturating_sub(before), dt.as_millis() as u64))
            }
            (Some(now), _, Ok(up)) if up > 0 => Some((now, up)),
            _ => None,
        };
        if let Some(ms) = cpu_ms {
            seen.insert(key, ms);
        }
        let mem = f("memory_bytes").parse::<u64>().ok();
        out.push(Row {
            cpu: share.map_or(0, |(p, w)| p * 1000 / w.max(1)),
            cpu_cell: share.map_or("-".into(), |(p, w)| percent(p, w)),
            mem: mem.unwrap_or(0),
            restarts: f("restarts"),
            uptime: f("uptime_ms")
                .parse::<u64>()
                .map_or("-".into(), super::human),
            ready: match (f("state").as_str(), f("ready").as_str()) {
                ("scheduled", _) => "-".into(),
                (_, "true") => "yes".into(),
                _ => "no".into(),
            },
            state: f("state"),
            name,
            pid,
        });
    }
    out
}

/// The table of `rows`, sorted.
fn render(mut rows: Vec<Row>, sort: Sort) -> String {
    match sort {
        Sort::Cpu => rows.sort_by(|a, b| b.cpu.cmp(&a.cpu).then(a.name.cmp(&b.name))),
        Sort::Mem => rows.sort_by(|a, b| b.mem.cmp(&a.mem).then(a.name.cmp(&b.name))),
    }
    let mut out = format!(
        "{:<16} {:<10} {:>7} {:>7} {:>7} {:>8} {:>10} {:<5}\n",
        "NAME", "STATE", "PID", "CPU", "MEM", "RESTARTS", "UPTIME", "READY"
    );
    for r in rows {
        let mem = if r.pid == "-" {
            "-".to_string()
        } else {
            human_bytes(r.mem)
        };
        out += &format!(
            "{:<16} {:<10} {:>7} {:>7} {:>7} {:>8} {:>10} {:<5}\n",
            r.name, r.state, r.pid, r.cpu_cell, mem, r.restarts, r.uptime, r.ready
        );
    }
    out
}

/// The terminal in a mode where keys arrive one by one, unechoed, and
/// Ctrl-C is a key (so that the screen is restored); restored on drop.
struct Keys {
    saved: Option<libc::termios>,
}

impl Keys {
    fn raw() -> Keys {
        // SAFETY: tcgetattr/tcsetattr on fd 0 with termios structs we own.
        unsafe {
            let mut t: libc::termios = std::mem::zeroed();
            if libc::tcgetattr(0, &mut t) != 0 {
                return Keys { saved: None };
            }
            let saved = t;
            t.c_lflag &= !(libc::ICANON | libc::ECHO | libc::ISIG);
            t.c_cc[libc::VMIN] = 1;
            t.c_cc[libc::VTIME] = 0;
            libc::tcsetattr(0, libc::TCSANOW, &t);
            Keys { saved: Some(saved) }
        }
    }

    /// Waits up to `d` for a key; true when it says quit (q, Q, Ctrl-C,
    /// Ctrl-D, or the terminal gone).
    fn quit_within(&self, d: Duration) -> bool {
        let deadline = Instant::now() + d;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut pfd = libc::pollfd {
                fd: 0,
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: poll on one pollfd we own.
            let n = unsafe { libc::poll(&mut pfd, 1, left.as_millis() as i32) };
            if n <= 0 {
                continue;
            }
            let mut b = [0u8; 1];
            // SAFETY: a read of one byte into a buffer we own.
            match unsafe { libc::read(0, b.as_mut_ptr().cast(), 1) } {
                1 if matches!(b[0], b'q' | b'Q' | 3 | 4) => return true,
                1 => {}
                _ => return true,
            }
        }
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            // SAFETY: restores the termios saved from fd 0.
            unsafe { libc::tcsetattr(0, libc::TCSANOW, t) };
        }
    }
}

/// `podinit top [-s cpu|mem]` against the pod at `path`.
pub fn run(path: &str, sort: Sort) -> Result<(), String> {
    let mut out = std::io::stdout();
    let look = || -> Result<String, String> {
        match request(path, Verb::Status, &[])? {
            (true, json) => Ok(json),
            (false, msg) => Err(msg),
        }
    };
    let live = nix::unistd::isatty(1).unwrap_or(false);
    let (mut last, mut at) = (Seen::new(), Instant::now());
    if !live {
        let mut seen = Seen::new();
        let table = render(rows(&look()?, &last, Duration::ZERO, &mut seen), sort);
        return out.write_all(table.as_bytes()).map_err(|e| e.to_string());
    }
    let keys = Keys::raw();
    loop {
        let json = look()?;
        let now = Instant::now();
        let mut seen = Seen::new();
        let table = render(rows(&json, &last, now - at, &mut seen), sort);
        (last, at) = (seen, now);
        let by = if sort == Sort::Cpu { "CPU" } else { "memory" };
        let screen = format!(
            "\x1b[H\x1b[2Jpodinit top: by {by}, every 1s; q quits\r\n\r\n{}",
            table.replace('\n', "\r\n")
        );
        if out
            .write_all(screen.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return Ok(());
        }
        if keys.quit_within(Duration::from_secs(1)) {
            let _ = out.write_all(b"\r\n");
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOOK1: &str = r#"{"processes":[{"name":"busy","state":"running","pid":7,"uptime_ms":2000,"restarts":0,"ready":false,"cpu_seconds":1.000,"memory_bytes":2097152,"threads":1},{"name":"idle","state":"ready","pid":8,"uptime_ms":2000,"restarts":1,"ready":true,"cpu_seconds":0.010,"memory_bytes":9437184,"threads":4},{"name":"job","state":"completed","pid":null,"uptime_ms":null,"restarts":0,"ready":false,"cpu_seconds":null,"memory_bytes":null,"threads":null}]}"#;

    #[test]
    fn first_look_is_since_start_then_between_looks() {
        let mut seen = Seen::new();
        let r = rows(LOOK1, &Seen::new(), Duration::ZERO, &mut seen);
        assert_eq!(r[0].cpu_cell, "50.0%");
        assert_eq!(r[2].cpu_cell, "-");
        let look2 = LOOK1.replace("\"cpu_seconds\":1.000", "\"cpu_seconds\":1.900");
        let mut again = Seen::new();
        let r = rows(&look2, &seen, Duration::from_secs(1), &mut again);
        assert_eq!(r[0].cpu_cell, "90.0%");
        assert_eq!(r[1].cpu_cell, "0.0%");
    }

    #[test]
    fn sorted_by_cpu_or_memory() {
        let t = render(
            rows(LOOK1, &Seen::new(), Duration::ZERO, &mut Seen::new()),
            Sort::Cpu,
        );
        let names: Vec<&str> = t.lines().skip(1).map(|l| &l[..4]).collect();
        assert_eq!(names, ["busy", "idle", "job "]);
        let t = render(
            rows(LOOK1, &Seen::new(), Duration::ZERO, &mut Seen::new()),
            Sort::Mem,
        );
        assert!(t.lines().nth(1).unwrap().starts_with("idle"), "{t}");
        assert!(t.contains("   9.0M"), "{t}");
        assert_eq!(Sort::parse(&["-s".into(), "mem".into()]), Ok(Sort::Mem));
        assert!(Sort::parse(&["-s".into(), "disk".into()]).is_err());
    }
}
