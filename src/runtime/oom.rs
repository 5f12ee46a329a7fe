//! Naming OOM kills: the kernel counts them in the memory cgroup
//! (`memory.events` `oom_kill` on cgroup v2, `memory.oom_control`
//! `oom_kill` on v1), readable even on a read-only cgroup mount as in
//! Docker and Kubernetes. A process that dies of SIGKILL while that count
//! went up was killed by the OOM killer.

use std::path::PathBuf;

/// The counter file of podinit's memory cgroup, and the count last seen.
pub struct OomWatch {
    path: PathBuf,
    seen: u64,
}

/// The `oom_kill` count of a `memory.events` or `memory.oom_control` text.
pub fn parse_counter(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| l.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
}

/// Where the counter may be, from the text of /proc/self/cgroup: the v1
/// memory controller's `memory.oom_control`, then v2's `memory.events`;
/// each under its cgroup path, then at the mount's root (a cgroup
/// namespace shows a container its own cgroup there).
pub fn candidates(self_cgroup: &str) -> Vec<PathBuf> {
    let mut v1 = Vec::new();
    let mut v2 = Vec::new();
    for line in self_cgroup.lines() {
        let mut f = line.splitn(3, ':');
        let (_, controllers, path) = (f.next(), f.next().unwrap_or(""), f.next().unwrap_or("/"));
        let path = path.trim_start_matches('/');
        if controllers.split(',').any(|c| c == "memory") {
            v1.push(
                PathBuf::from("/sys/fs/cgroup/memory")
                    .join(path)
                    .join("memory.oom_control"),
            );
            v1.push(PathBuf::from("/sys/fs/cgroup/memory/memory.oom_control"));
        } else if controllers.is_empty() {
            v2.push(
                PathBuf::from("/sys/fs/cgroup")
                    .join(path)
                    .join("memory.events"),
            );
            v2.push(PathBuf::from("/sys/fs/cgroup/memory.events"));
        }
    }
    v1.extend(v2);
    v1
}

impl OomWatch {
    /// The counter of podinit's own memory cgroup, if the kernel shows one.
    pub fn find() -> Option<OomWatch> {
        let own = std::fs::read_to_string("/proc/self/cgroup").ok()?;
        candidates(&own).into_iter().find_map(|path| {
            let seen = parse_counter(&std::fs::read_to_string(&path).ok()?)?;
            Some(OomWatch { path, seen })
        })
    }

    /// How many OOM kills happened since the last call.
    pub fn new_kills(&mut self) -> u64 {
        let now = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| parse_counter(&t))
            .unwrap_or(self.seen);
        let new = now.saturating_sub(self.seen);
        self.seen = now;
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_of_both_cgroup_versions() {
        // cgroup v2 memory.events, as the kernel writes it.
        let v2 = "low 0\nhigh 0\nmax 12\noom 3\noom_kill 2\noom_group_kill 0\n";
        assert_eq!(parse_counter(v2), Some(2));
        // cgroup v1 memory.oom_control (kernel 4.13 and later).
        let v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 7\n";
        assert_eq!(parse_counter(v1), Some(7));
        assert_eq!(parse_counter("oom_kill_disable 0\n"), None);
    }

    #[test]
    fn where_to_look() {
        let hybrid = "4:memory:/docker/abc\n1:cpu:/\n0::/\n";
        assert_eq!(
            candidates(hybrid),
            vec![
                PathBuf::from("/sys/fs/cgroup/memory/docker/abc/memory.oom_control"),
                PathBuf::from("/sys/fs/cgroup/memory/memory.oom_control"),
                PathBuf::from("/sys/fs/cgroup/memory.events"),
                PathBuf::from("/sys/fs/cgroup/memory.events"),
            ]
        );
        let v2 = "0::/kubepods/pod1/c2\n";
        assert_eq!(
            candidates(v2)[0],
            PathBuf::from("/sys/fs/cgroup/kubepods/pod1/c2/memory.events")
        );
    }
}
