//! What a process gets of the machine, as a Pod's container does: its
//! `rlimits`, `oom_score_adj`, `nice`, `cpu_affinity`, `capabilities`, and
//! the cgroup limits (`memory_max`, `memory_high`, `cpu_max`, `pids_max`).
//! Parsed here, each error naming its key; applied by `spawn` (between fork
//! and exec) and by the runtime's cgroups.

use toml::de::DeValue;

use super::ConfigError;
use super::read::{Ctx, Item, as_int, check_keys, similar};
use super::units::{parse_duration, parse_size};

type Result<T> = std::result::Result<T, ConfigError>;

/// RLIM_INFINITY.
pub const UNLIMITED: u64 = u64::MAX;

/// One resource limit: soft and hard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rlimit {
    pub name: &'static str,
    pub resource: i32,
    pub soft: u64,
    pub hard: u64,
}

/// `capabilities = { drop = [...], add = [...] }`, as bit masks (bit N is
/// capability N).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Caps {
    pub drop: u64,
    pub add: u64,
}

/// The cgroup v2 limits of a process (each needs its controller).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CgroupLimits {
    pub memory_max: Option<u64>,
    pub memory_high: Option<u64>,
    /// `cpu.max`: quota and period in µs.
    pub cpu_max: Option<(u64, u64)>,
    pub pids_max: Option<u64>,
}

impl CgroupLimits {
    /// The keys set, with the controller each needs.
    pub fn needs(&self) -> Vec<(&'static str, &'static str)> {
        let mut v = Vec::new();
        if self.memory_max.is_some() {
            v.push(("memory_max", "memory"));
        }
        if self.memory_high.is_some() {
            v.push(("memory_high", "memory"));
        }
        if self.cpu_max.is_some() {
            v.push(("cpu_max", "cpu"));
        }
        if self.pids_max.is_some() {
            v.push(("pids_max", "pids"));
        }
        v
    }
}

/// A process's resources and security context.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Resources {
    pub rlimits: Vec<Rlimit>,
    /// `oom_score_adj`; see `oom_from_main`.
    pub oom_score_adj: Option<i32>,
    /// The score is not the process's own but the pod's main's (a sidecar
    /// scores no higher than its main, as in Kubernetes).
    pub oom_from_main: bool,
    pub nice: Option<i32>,
    pub cpu_affinity: Vec<usize>,
    pub caps: Option<Caps>,
    pub cgroup: CgroupLimits,
}

/// The rlimit names, their resource, and what a value is.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Count,
    Bytes,
    Seconds,
    Micros,
}

const RLIMITS: &[(&str, i32, Unit)] = &[
    ("as", libc::RLIMIT_AS as i32, Unit::Bytes),
    ("core", libc::RLIMIT_CORE as i32, Unit::Bytes),
    ("cpu", libc::RLIMIT_CPU as i32, Unit::Seconds),
    ("data", libc::RLIMIT_DATA as i32, Unit::Bytes),
    ("fsize", libc::RLIMIT_FSIZE as i32, Unit::Bytes),
    ("locks", libc::RLIMIT_LOCKS as i32, Unit::Count),
    ("memlock", libc::RLIMIT_MEMLOCK as i32, Unit::Bytes),
    ("msgqueue", libc::RLIMIT_MSGQUEUE as i32, Unit::Bytes),
    ("nice", libc::RLIMIT_NICE as i32, Unit::Count),
    ("nofile", libc::RLIMIT_NOFILE as i32, Unit::Count),
    ("nproc", libc::RLIMIT_NPROC as i32, Unit::Count),
    ("rss", libc::RLIMIT_RSS as i32, Unit::Bytes),
    ("rtprio", libc::RLIMIT_RTPRIO as i32, Unit::Count),
    ("rttime", libc::RLIMIT_RTTIME as i32, Unit::Micros),
    ("sigpending", libc::RLIMIT_SIGPENDING as i32, Unit::Count),
    ("stack", libc::RLIMIT_STACK as i32, Unit::Bytes),
];

/// The capability names of capabilities(7), bit by bit.
pub const CAPABILITIES: &[&str] = &[
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// Every capability podinit knows, as a mask.
pub const ALL_CAPS: u64 = (1 << CAPABILITIES.len() as u64) - 1;

/// In a `drop` mask: `ALL`, so also any capability newer than this list
/// (the child drops every one the kernel has).
pub const ALL_MARK: u64 = 1 << 63;

/// The names of the capabilities in `mask`, as `check` prints them.
pub fn cap_names(mask: u64) -> Vec<&'static str> {
    if mask & ALL_MARK != 0 {
        return vec!["ALL"];
    }
    CAPABILITIES
        .iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, n)| *n)
        .collect()
}

/// The resource keys of a process (`get` looks in the process's table,
/// then `[defaults]`).
pub(super) fn parse<'a, 'v: 'a, 'i: 'a>(
    cx: &Ctx,
    get: &dyn Fn(&str) -> Option<&'a Item<'v, 'i>>,
) -> Result<Resources> {
    let int_in = |key: &str, lo: i64, hi: i64| -> Result<Option<i32>> {
        let Some(i) = get(key) else { return Ok(None) };
        match as_int(i.val) {
            Some(n) if (lo..=hi).contains(&n) => Ok(Some(n as i32)),
            Some(_) => Err(i.bad(cx, format!("out of range: from {lo} to {hi}"))),
            None => Err(i.wrong_type(cx, "an integer")),
        }
    };
    Ok(Resources {
        rlimits: get("rlimits")
            .map(|i| rlimits(cx, i))
            .transpose()?
            .unwrap_or_default(),
        oom_score_adj: int_in("oom_score_adj", -1000, 1000)?,
        oom_from_main: false,
        nice: int_in("nice", -20, 19)?,
        cpu_affinity: get("cpu_affinity")
            .map(|i| affinity(cx, i))
            .transpose()?
            .unwrap_or_default(),
        caps: get("capabilities")
            .map(|i| capabilities(cx, i))
            .transpose()?,
        cgroup: CgroupLimits {
            memory_max: get("memory_max").map(|i| bytes(cx, i)).transpose()?,
            memory_high: get("memory_high").map(|i| bytes(cx, i)).transpose()?,
            cpu_max: get("cpu_max").map(|i| cpu_max(cx, i)).transpose()?,
            pids_max: get("pids_max")
                .map(|i| count(cx, i, Unit::Count))
                .transpose()?,
        },
    })
}

/// `rlimits = { nofile = 65536, stack = "8MiB", cpu = "10m", core = { soft = 0, hard = "unlimited" } }`.
fn rlimits(cx: &Ctx, item: &Item) -> Result<Vec<Rlimit>> {
    let mut out = Vec::new();
    for (name, kspan, v) in item.table(cx)? {
        let Some(&(name, resource, unit)) = RLIMITS.iter().find(|(n, _, _)| *n == name) else {
            let known: Vec<&str> = RLIMITS.iter().map(|(n, _, _)| *n).collect();
            let msg = match known.iter().find(|k| similar(k, name)) {
                Some(close) => format!("unknown limit; did you mean `{close}`?"),
                None => format!("unknown limit; expected one of: {}", known.join(", ")),
            };
            return Err(cx.err(&kspan, &v.key, msg));
        };
        let (soft, hard) = match v.val.get_ref() {
            DeValue::Table(_) => {
                let parts = v.table(cx)?;
                check_keys(cx, &parts, &["soft", "hard"])?;
                let part = |k: &str| parts.iter().find(|(n, _, _)| *n == k).map(|(_, _, i)| i);
                let (Some(s), Some(h)) = (part("soft"), part("hard")) else {
                    return Err(v.bad(cx, "needs both soft and hard (or one value for both)"));
                };
                (count(cx, s, unit)?, count(cx, h, unit)?)
            }
            _ => {
                let n = count(cx, &v, unit)?;
                (n, n)
            }
        };
        if soft > hard {
            return Err(v.bad(cx, "the soft limit is above the hard limit"));
        }
        out.push(Rlimit {
            name,
            resource,
            soft,
            hard,
        });
    }
    Ok(out)
}

/// A limit's value: an integer, `"unlimited"`, a size or a duration.
fn count(cx: &Ctx, i: &Item, unit: Unit) -> Result<u64> {
    let want = match unit {
        Unit::Count => "a non-negative integer or \"unlimited\"",
        Unit::Bytes => "a size such as \"64MiB\", integer bytes, or \"unlimited\"",
        Unit::Seconds | Unit::Micros => {
            "a duration such as \"10m\", integer seconds, or \"unlimited\""
        }
    };
    match i.val.get_ref() {
        DeValue::Integer(_) => as_int(i.val)
            .and_then(|n| u64::try_from(n).ok())
            .map(|n| {
                if unit == Unit::Micros {
                    n.saturating_mul(1_000_000)
                } else {
                    n
                }
            })
            .ok_or_else(|| i.bad(cx, "cannot be negative")),
        DeValue::String(s) if matches!(s.as_ref(), "unlimited" | "infinity") => Ok(UNLIMITED),
        DeValue::String(s) => match unit {
            Unit::Bytes => parse_size(s).map_err(|e| i.bad(cx, e)),
            Unit::Seconds => parse_duration(s)
                .map(|d| d.as_secs())
                .map_err(|e| i.bad(cx, e)),
            Unit::Micros => parse_duration(s)
                .map(|d| d.as_micros() as u64)
                .map_err(|e| i.bad(cx, e)),
            Unit::Count => Err(i.wrong_type(cx, want)),
        },
        _ => Err(i.wrong_type(cx, want)),
    }
}

fn bytes(cx: &Ctx, i: &Item) -> Result<u64> {
    count(cx, i, Unit::Bytes)
}

/// `cpu_max = "0.5"` (cores) or `1.5`: a quota per 100 ms period.
fn cpu_max(cx: &Ctx, i: &Item) -> Result<(u64, u64)> {
    const PERIOD: u64 = 100_000;
    let cores: f64 = match i.val.get_ref() {
        DeValue::String(s) => s
            .trim()
            .parse()
            .map_err(|_| i.bad(cx, "expected a number of cores such as \"0.5\""))?,
        DeValue::Float(f) => f.as_str().parse().unwrap_or(f64::NAN),
        DeValue::Integer(_) => as_int(i.val).unwrap_or(-1) as f64,
        _ => return Err(i.wrong_type(cx, "a number of cores such as \"0.5\"")),
    };
    if !(0.01..=4096.0).contains(&cores) {
        return Err(i.bad(cx, "out of range: from 0.01 to 4096 cores"));
    }
    Ok(((cores * PERIOD as f64).round() as u64, PERIOD))
}

/// `cpu_affinity = [0, 2]`.
fn affinity(cx: &Ctx, item: &Item) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for i in item.array(cx)? {
        match as_int(i.val) {
            Some(n) if (0..1024).contains(&n) => cpus.push(n as usize),
            Some(_) => return Err(i.bad(cx, "a CPU number from 0 to 1023")),
            None => return Err(i.wrong_type(cx, "a CPU number")),
        }
    }
    if cpus.is_empty() {
        return Err(item.bad(cx, "names no CPU; leave it out to run on every CPU"));
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(cpus)
}

/// `capabilities = { drop = ["ALL"], add = ["NET_BIND_SERVICE"] }`.
fn capabilities(cx: &Ctx, item: &Item) -> Result<Caps> {
    let parts = item.table(cx)?;
    check_keys(cx, &parts, &["drop", "add"])?;
    let mut caps = Caps::default();
    for (name, _, list) in &parts {
        let mut mask = 0u64;
        for i in list.array(cx)? {
            mask |= cap_mask(i.string(cx)?).map_err(|e| i.bad(cx, e))?;
        }
        match *name {
            "drop" => caps.drop = mask,
            _ => caps.add = mask,
        }
    }
    if caps.add & !ALL_CAPS != 0 {
        return Err(item.bad(cx, "add cannot name ALL"));
    }
    Ok(caps)
}

/// One capability name (`NET_BIND_SERVICE`, `CAP_NET_BIND_SERVICE`, any
/// case) or `ALL`, as a mask.
pub fn cap_mask(text: &str) -> std::result::Result<u64, String> {
    let up = text.trim().to_ascii_uppercase();
    let bare = up.strip_prefix("CAP_").unwrap_or(&up);
    if bare == "ALL" {
        return Ok(ALL_CAPS | ALL_MARK);
    }
    if let Some(n) = CAPABILITIES.iter().position(|c| *c == bare) {
        return Ok(1 << n);
    }
    Err(match CAPABILITIES.iter().find(|c| similar(c, bare)) {
        Some(close) => format!("unknown capability {text:?}; did you mean {close:?}?"),
        None => format!(
            "unknown capability {text:?}; expected a name of capabilities(7) such as \"NET_BIND_SERVICE\", or \"ALL\""
        ),
    })
}
