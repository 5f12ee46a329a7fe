//! A cgroup per process, where the container allows it: a writable cgroup
//! v2 (Kubernetes' writable cgroups, containerd `cgroup_writable`, Docker
//! with a private cgroup namespace and a delegated subtree).
//!
//! podinit first moves itself into a leaf, `init.scope` (the kernel's "no
//! internal processes" rule: a cgroup with processes cannot give its
//! controllers to children), enables the controllers the limits need, and
//! gives each process `ROOT/NAME`. A process joins its cgroup in the child,
//! before exec (so nothing it starts is outside), and then: a stop also
//! signals every member (a descendant that set up its own session
//! included), SIGKILL is `cgroup.kill`, what is left when the process ends
//! is killed, CPU comes from `cpu.stat`, memory from `memory.current`, OOM
//! kills from its own `memory.events`, and `memory_max`, `memory_high`,
//! `cpu_max`, `pids_max` are enforced.
//!
//! Without a writable cgroup v2 nothing here is used, and everything else
//! works as before. The root is `/sys/fs/cgroup` plus podinit's own cgroup
//! path, or `PODINIT_CGROUP_ROOT` (used by the tests).

use std::ffi::CString;
use std::path::{Path, PathBuf};

use crate::config::resources::CgroupLimits;
use crate::config::{CgroupMode, ProcSpec};

/// podinit's own leaf.
pub const LEAF: &str = "init.scope";

/// The cgroups podinit manages.
pub struct Cgroups {
    root: PathBuf,
}

/// Where the cgroups would live, and whether they can: what `check` says.
pub struct Probe {
    pub root: PathBuf,
    /// Why not, if not.
    pub unusable: Option<String>,
    pub controllers: Vec<String>,
}

/// The root: `PODINIT_CGROUP_ROOT`, else /sys/fs/cgroup and the `0::` line
/// of /proc/self/cgroup (a cgroup namespace shows `/`).
fn root() -> PathBuf {
    if let Some(r) = std::env::var_os("PODINIT_CGROUP_ROOT").filter(|r| !r.is_empty()) {
        return PathBuf::from(r);
    }
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let path = own_path(&own).unwrap_or("/").trim_matches('/');
    match path {
        "" => PathBuf::from("/sys/fs/cgroup"),
        p => Path::new("/sys/fs/cgroup").join(p),
    }
}

/// The cgroup v2 path of a /proc/self/cgroup text.
pub fn own_path(text: &str) -> Option<&str> {
    text.lines().find_map(|l| l.strip_prefix("0::"))
}

/// Whether cgroups per process can be had, and with which controllers.
pub fn probe() -> Probe {
    let root = root();
    let controllers: Vec<String> = std::fs::read_to_string(root.join("cgroup.controllers"))
        .map(|t| t.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let unusable = if !root.join("cgroup.procs").exists()
        || !root.join("cgroup.controllers").exists()
    {
        Some(format!("{} is not a cgroup v2 directory", root.display()))
    } else if nix::unistd::access(&root, nix::unistd::AccessFlags::W_OK).is_err()
        || nix::unistd::access(&root.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK).is_err()
    {
        Some(format!(
            "{} is not writable (no delegated cgroup)",
            root.display()
        ))
    } else {
        None
    };
    Probe {
        root,
        unusable,
        controllers,
    }
}

/// The line `check` prints.
pub fn describe(mode: CgroupMode) -> String {
    if mode == CgroupMode::Off {
        return "cgroups: off ([podinit] cgroups = \"off\")".into();
    }
    let p = probe();
    match p.unusable {
        Some(why) => format!("cgroups: none here ({why}); processes share podinit's cgroup"),
        None => format!(
            "cgroups: one per process under {} (controllers: {})",
            p.root.display(),
            if p.controllers.is_empty() {
                "none".to_string()
            } else {
                p.controllers.join(" ")
            }
        ),
    }
}

/// The controller each limit key needs that the root does not offer.
pub fn missing(procs: &[ProcSpec], controllers: &[String]) -> Vec<(String, &'static str)> {
    let mut out = Vec::new();
    for p in procs {
        for (key, ctl) in p.resources.cgroup.needs() {
            if !controllers.iter().any(|c| c == ctl) {
                out.push((format!("process.{}.{key}", p.name), ctl));
            }
        }
    }
    out
}

/// Enables for the children the controllers the limits need (and that
/// are there): each one costs the kernel bookkeeping.
fn enable(p: &Probe, procs: &[ProcSpec]) -> Result<(), String> {
    let mut wanted: Vec<&str> = procs
        .iter()
        .flat_map(|s| s.resources.cgroup.needs().into_iter().map(|(_, c)| c))
        .filter(|c| p.controllers.iter().any(|have| have == c))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    for c in wanted {
        write(&p.root.join("cgroup.subtree_control"), &format!("+{c}"))
            .map_err(|e| format!("enabling the {c} controller: {e}"))?;
    }
    Ok(())
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

impl Cgroups {
    /// Sets up per-process cgroups, or says why not. `Ok(None)`: not here
    /// (no writable cgroup v2, or off), a limit key without its controller
    /// under `best-effort` warned about. `Err`: a limit that cannot be had
    /// under the default mode, naming the key. Long on purpose: the checks
    /// in the order their failures must be reported, then the move.
    pub fn setup(mode: CgroupMode, procs: &[ProcSpec]) -> Result<Option<Cgroups>, String> {
        if mode == CgroupMode::Off {
            return Ok(None);
        }
        let p = probe();
        let limited: Vec<String> = procs
            .iter()
            .flat_map(|s| {
                s.resources
                    .cgroup
                    .needs()
                    .into_iter()
                    .map(|(k, _)| format!("process.{}.{k}", s.name))
            })
            .collect();
        let refuse = |why: String| -> Result<Option<Cgroups>, String> {
            if limited.is_empty() || mode == CgroupMode::BestEffort {
                if !limited.is_empty() {
                    log::warn!(
                        "{why}: {} not enforced (cgroups = \"best-effort\")",
                        limited.join(", ")
                    );
                }
                return Ok(None);
            }
            Err(format!(
                "{}: needs a cgroup of its own, but {why}; set [podinit] cgroups = \"best-effort\" to run without",
                limited[0]
            ))
        };
        if let Some(why) = p.unusable {
            return refuse(why);
        }
        let missing = missing(procs, &p.controllers);
        if let Some((key, ctl)) = missing.first() {
            let why = format!(
                "the {ctl} controller is not delegated to {}",
                p.root.display()
            );
            if mode != CgroupMode::BestEffort {
                return Err(format!(
                    "{key}: {why}; set [podinit] cgroups = \"best-effort\" to run without"
                ));
            }
            log::warn!("{key}: {why}; not enforced (cgroups = \"best-effort\")");
        }
        let leaf = p.root.join(LEAF);
        let moved = std::fs::create_dir_all(&leaf)
            .and_then(|()| write(&leaf.join("cgroup.procs"), &std::process::id().to_string()));
        if let Err(e) = moved {
            return refuse(format!(
                "podinit cannot move itself into {}: {e}",
                leaf.display()
            ));
        }
        if let Err(why) = enable(&p, procs) {
            return refuse(why);
        }
        log::debug!("a cgroup per process under {}", p.root.display());
        Ok(Some(Cgroups { root: p.root }))
    }

    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Makes (or keeps) the process's cgroup and writes its limits; the
    /// `cgroup.procs` path for the child to join by.
    pub fn prepare(&self, spec: &ProcSpec) -> Result<CString, String> {
        let dir = self.dir(&spec.name);
        std::fs::create_dir_all(&dir).map_err(|e| format!("cgroup {}: {e}", dir.display()))?;
        for (file, value, key) in limit_files(&spec.resources.cgroup) {
            if !dir.join(file).exists() {
                continue; // its controller is missing: warned at start (best-effort)
            }
            write(&dir.join(file), &value).map_err(|e| {
                format!(
                    "{key}: writing {value:?} to {}: {e}",
                    dir.join(file).display()
                )
            })?;
        }
        CString::new(dir.join("cgroup.procs").as_os_str().as_encoded_bytes())
            .map_err(|_| "a cgroup path with a NUL byte".to_string())
    }

    /// The pids in a process's cgroup.
    pub fn members(&self, name: &str) -> Vec<i32> {
        std::fs::read_to_string(self.dir(name).join("cgroup.procs"))
            .map(|t| t.lines().filter_map(|l| l.trim().parse().ok()).collect())
            .unwrap_or_default()
    }

    /// SIGKILL to every member at once, by the kernel (`cgroup.kill`,
    /// Linux 5.14); false when it is not there.
    pub fn kill(&self, name: &str) -> bool {
        write(&self.dir(name).join("cgroup.kill"), "1").is_ok()
    }

    /// CPU (µs) and memory of a process's cgroup, where the files are.
    pub fn usage(&self, name: &str) -> (Option<u64>, Option<u64>) {
        let dir = self.dir(name);
        let cpu = std::fs::read_to_string(dir.join("cpu.stat"))
            .ok()
            .and_then(|t| stat_field(&t, "usage_usec"));
        let mem = std::fs::read_to_string(dir.join("memory.current"))
            .ok()
            .and_then(|t| t.trim().parse().ok());
        (cpu, mem)
    }

    /// The `oom_kill` count of a process's own `memory.events`.
    pub fn oom_kills(&self, name: &str) -> Option<u64> {
        let t = std::fs::read_to_string(self.dir(name).join("memory.events")).ok()?;
        stat_field(&t, "oom_kill")
    }

    /// Removes the cgroups of the processes (at exit; empty ones only).
    pub fn remove(&self, names: &[&str]) {
        for n in names {
            let _ = std::fs::remove_dir(self.dir(n));
        }
    }
}

/// The files of cgroup v2's interface for `limits`, their values, and the
/// key each comes from (Documentation/admin-guide/cgroup-v2.rst).
pub fn limit_files(l: &CgroupLimits) -> Vec<(&'static str, String, &'static str)> {
    let bytes = |n: u64| {
        if n == crate::config::resources::UNLIMITED {
            "max".to_string()
        } else {
            n.to_string()
        }
    };
    let mut v = Vec::new();
    if let Some(n) = l.memory_max {
        v.push(("memory.max", bytes(n), "memory_max"));
    }
    if let Some(n) = l.memory_high {
        v.push(("memory.high", bytes(n), "memory_high"));
    }
    if let Some((quota, period)) = l.cpu_max {
        v.push(("cpu.max", format!("{quota} {period}"), "cpu_max"));
    }
    if let Some(n) = l.pids_max {
        v.push(("pids.max", bytes(n), "pids_max"));
    }
    v
}

/// A `key value` line of a flat-keyed file (`cpu.stat`, `memory.events`).
pub fn stat_field(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Recorded from a 6.1 kernel with the controllers delegated.
    const CPU_STAT: &str = "usage_usec 2460113\nuser_usec 1730003\nsystem_usec 730110\nnr_periods 11\nnr_throttled 3\nthrottled_usec 81234\nnr_bursts 0\nburst_usec 0\n";
    const MEMORY_EVENTS: &str = "low 0\nhigh 4\nmax 17\noom 2\noom_kill 1\noom_group_kill 0\n";

    #[test]
    fn recorded_interface_files_are_read() {
        assert_eq!(stat_field(CPU_STAT, "usage_usec"), Some(2_460_113));
        assert_eq!(stat_field(CPU_STAT, "nr_throttled"), Some(3));
        assert_eq!(stat_field(MEMORY_EVENTS, "oom_kill"), Some(1));
        assert_eq!(stat_field(MEMORY_EVENTS, "oom"), Some(2));
        assert_eq!(stat_field(MEMORY_EVENTS, "absent"), None);
        assert_eq!(
            own_path("12:memory:/x\n0::/kubepods/pod1/c1\n"),
            Some("/kubepods/pod1/c1")
        );
        assert_eq!(own_path("4:memory:/x\n"), None);
    }

    #[test]
    fn limits_are_written_as_the_kernel_reads_them() {
        let l = CgroupLimits {
            memory_max: Some(256 << 20),
            memory_high: Some(crate::config::resources::UNLIMITED),
            cpu_max: Some((50_000, 100_000)),
            pids_max: Some(64),
        };
        assert_eq!(
            limit_files(&l),
            vec![
                ("memory.max", "268435456".to_string(), "memory_max"),
                ("memory.high", "max".to_string(), "memory_high"),
                ("cpu.max", "50000 100000".to_string(), "cpu_max"),
                ("pids.max", "64".to_string(), "pids_max"),
            ]
        );
    }
}
