//! The process table as /proc shows it: who descends from whom.
//!
//! Used to reach processes that left a process group (setsid, double fork)
//! and, when podinit is not PID 1, the strays below it.

use std::collections::HashMap;

/// (pid, ppid, pgrp) of every process /proc lists.
fn table() -> Vec<(i32, i32, i32)> {
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
        if let Some(row) = parse_stat(&String::from_utf8_lossy(&buf[..n])) {
            out.push((pid, row.0, row.1));
        }
    }
    out
}

/// (ppid, pgrp) from the text of /proc/PID/stat; the command name may hold
/// spaces and parentheses, so fields are counted from its last ')'.
pub fn parse_stat(stat: &str) -> Option<(i32, i32)> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    let _state = fields.next()?;
    let ppid = fields.next()?.parse().ok()?;
    let pgrp = fields.next()?.parse().ok()?;
    Some((ppid, pgrp))
}

/// Every live descendant of `root` (not `root` itself), with its process group.
pub fn descendants(root: i32) -> Vec<(i32, i32)> {
    descendants_in(&table(), root)
}

pub fn descendants_in(table: &[(i32, i32, i32)], root: i32) -> Vec<(i32, i32)> {
    let mut children: HashMap<i32, Vec<(i32, i32)>> = HashMap::new();
    for &(pid, ppid, pgrp) in table {
        children.entry(ppid).or_default().push((pid, pgrp));
    }
    let mut out = Vec::new();
    let mut todo = vec![root];
    while let Some(p) = todo.pop() {
        if let Some(kids) = children.get(&p) {
            for &(pid, pgrp) in kids {
                if pid != root && !out.iter().any(|&(q, _)| q == pid) {
                    out.push((pid, pgrp));
                    todo.push(pid);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_odd_command_names() {
        assert_eq!(parse_stat("12 (sh) S 1 12 12 0 -1"), Some((1, 12)));
        assert_eq!(parse_stat("12 (a) b) (c) R 7 9 9 0"), Some((7, 9)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn tree_walk() {
        let t = [
            (1, 0, 1),
            (10, 1, 10),
            (11, 10, 10),
            (12, 11, 12),
            (20, 1, 20),
        ];
        let mut d = descendants_in(&t, 10);
        d.sort();
        assert_eq!(d, vec![(11, 10), (12, 12)]);
        assert_eq!(descendants_in(&t, 12), vec![]);
    }
}
