//! The process table as /proc shows it: who descends from whom, and who is
//! stopped.
//!
//! Used to reach processes that left a process group (setsid, double fork),
//! to continue only processes that are actually stopped, and, when podinit
//! is not PID 1, to find the strays below it. Reading /proc costs one open
//! and one read per process, so the runtime reads it once per batch of
//! actions (a whole shutdown step) and asks this snapshot, never once per
//! signal: that was quadratic in the size of the pod.

use std::collections::{HashMap, HashSet};

/// One row of /proc: pid, ppid, process group, stopped (state T or t).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    pub pid: i32,
    pub ppid: i32,
    pub pgrp: i32,
    pub stopped: bool,
    /// utime + stime, and cutime + cstime of the children it waited for,
    /// in clock ticks.
    pub ticks: u64,
    /// Resident pages.
    pub rss_pages: u64,
    pub threads: u64,
}

/// The rows of every process /proc lists.
fn rows() -> Vec<Row> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        // One open and one read: the line is under 1 KiB (a 64-byte name and
        // 52 numbers), and the fields wanted come right after the name.
        let mut buf = [0u8; 1024];
        let Ok(n) = std::fs::File::open(format!("/proc/{pid}/stat"))
            .and_then(|mut f| std::io::Read::read(&mut f, &mut buf))
        else {
            continue;
        };
        if let Some(row) = parse_stat(pid, &String::from_utf8_lossy(&buf[..n])) {
            out.push(row);
        }
    }
    out
}

/// A row from the text of /proc/PID/stat; the command name may hold
/// spaces and parentheses, so fields are counted from its last ')'.
pub fn parse_stat(pid: i32, stat: &str) -> Option<Row> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    // After pgrp: session tty tpgid flags minflt cminflt majflt cmajflt
    // utime stime cutime cstime priority nice num_threads itrealvalue
    // starttime vsize rss (proc(5)).
    let rest: Vec<u64> = fields.take(19).map(|f| f.parse().unwrap_or(0)).collect();
    let at = |i: usize| rest.get(i).copied().unwrap_or(0);
    Some(Row {
        pid,
        ppid,
        pgrp,
        stopped: matches!(state, "T" | "t"),
        ticks: at(8) + at(9) + at(10) + at(11),
        threads: at(14),
        rss_pages: at(18),
    })
}

/// A snapshot of the process table, indexed by parent and by stopped group.
#[derive(Default)]
pub struct Table {
    children: HashMap<i32, Vec<Row>>,
    stopped_groups: HashSet<i32>,
    stopped: Vec<i32>,
}

impl Table {
    /// Reads /proc once.
    pub fn read() -> Table {
        Table::from_rows(rows())
    }

    pub fn from_rows(rows: Vec<Row>) -> Table {
        let mut t = Table::default();
        for r in rows {
            if r.stopped {
                t.stopped_groups.insert(r.pgrp);
                t.stopped.push(r.pid);
            }
            t.children.entry(r.ppid).or_default().push(r);
        }
        t
    }

    /// Every live descendant of `root` (not `root` itself).
    pub fn descendants(&self, root: i32) -> Vec<Row> {
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        let mut todo = vec![root];
        while let Some(p) = todo.pop() {
            for r in self.children.get(&p).map_or(&[][..], |v| v.as_slice()) {
                if r.pid != root && seen.insert(r.pid) {
                    out.push(*r);
                    todo.push(r.pid);
                }
            }
        }
        out
    }

    /// Whether a process of group `pgrp` is stopped.
    /// CPU, memory and threads of `pid` and everything it started: its
    /// descendants and the members of its process group (the set a stop
    /// reaches, escaped descendants included).
    pub fn usage(&self, pid: i32) -> crate::control::Usage {
        let mut set: HashMap<i32, Row> = self
            .descendants(pid)
            .into_iter()
            .chain(self.all().filter(|r| r.pgrp == pid || r.pid == pid))
            .map(|r| (r.pid, r))
            .collect();
        set.retain(|_, r| r.pid > 0);
        let (tick, page) = units();
        let (mut ticks, mut pages, mut threads) = (0, 0, 0);
        for r in set.values() {
            ticks += r.ticks;
            // statm's resident count is what VmRSS says; stat's `rss` lags
            // behind it (the kernel's per-thread counters), by 10 % here.
            pages += resident_pages(r.pid).unwrap_or(r.rss_pages);
            threads += r.threads;
        }
        crate::control::Usage {
            cpu_ms: ticks * 1000 / tick.max(1),
            memory_bytes: pages * page,
            threads,
        }
    }

    /// The row of one pid.
    pub fn row(&self, pid: i32) -> Option<Row> {
        self.all().find(|r| r.pid == pid)
    }

    fn all(&self) -> impl Iterator<Item = Row> + '_ {
        self.children.values().flatten().copied()
    }

    pub fn group_stopped(&self, pgrp: i32) -> bool {
        self.stopped_groups.contains(&pgrp)
    }

    /// Every stopped process.
    pub fn stopped(&self) -> &[i32] {
        &self.stopped
    }
}

/// Whether `pid` descends from `ancestor` (its parent chain, read from
/// /proc, reaches it).
/// The resident pages of a process, from /proc/PID/statm.
fn resident_pages(pid: i32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/statm")).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Clock ticks per second and the page size.
fn units() -> (u64, u64) {
    use nix::unistd::{SysconfVar, sysconf};
    let get = |v, default| sysconf(v).ok().flatten().map_or(default, |n| n as u64);
    (
        get(SysconfVar::CLK_TCK, 100),
        get(SysconfVar::PAGE_SIZE, 4096),
    )
}

pub fn is_descendant(pid: i32, ancestor: i32) -> bool {
    let mut p = pid;
    for _ in 0..64 {
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{p}/stat")) else {
            return false;
        };
        let Some(row) = parse_stat(p, &stat) else {
            return false;
        };
        if row.ppid == ancestor {
            return true;
        }
        if row.ppid <= 1 {
            return false;
        }
        p = row.ppid;
    }
    false
}

/// Every live descendant of `root`, from a fresh read of /proc.
pub fn descendants(root: i32) -> Vec<Row> {
    Table::read().descendants(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        let r = parse_stat(12, "12 (sh) S 1 12 12 0 -1").unwrap();
        assert_eq!((r.ppid, r.pgrp, r.stopped), (1, 12, false));
        let r = parse_stat(12, "12 (a) b) (c) T 7 9 9 0").unwrap();
        assert_eq!((r.ppid, r.pgrp, r.stopped), (7, 9, true));
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    fn row(pid: i32, ppid: i32, pgrp: i32, stopped: bool) -> Row {
        Row {
            pid,
            ppid,
            pgrp,
            stopped,
            ticks: 0,
            rss_pages: 0,
            threads: 1,
        }
    }

    #[test]
    fn tree_walk_and_stopped_groups() {
        let t = Table::from_rows(vec![
            row(1, 0, 1, false),
            row(10, 1, 10, false),
            row(11, 10, 10, true),
            row(12, 11, 12, false),
            row(20, 1, 20, false),
        ]);
        let mut d: Vec<(i32, i32)> = t.descendants(10).iter().map(|r| (r.pid, r.pgrp)).collect();
        d.sort();
        assert_eq!(d, vec![(11, 10), (12, 12)]);
        assert!(t.descendants(12).is_empty());
        assert!(t.group_stopped(10) && !t.group_stopped(20) && t.stopped() == [11]);
    }

    #[test]
    fn a_walk_of_a_big_table_is_linear() {
        // 20,000 processes under one parent: one index, one walk.
        let rows = (2..20_002).map(|p| row(p, 1, p, false)).collect();
        let t = Table::from_rows(rows);
        assert_eq!(t.descendants(1).len(), 20_000);
        assert!(t.descendants(5).is_empty());
    }
}
