//! A process's resources and security context, applied by the child
//! between fork and exec: rlimits, `oom_score_adj`, `nice`, CPU affinity,
//! the capability bounding set, and added capabilities (inheritable and
//! ambient, so that a non-root `user` really has them after exec, as
//! Kubernetes' `securityContext.capabilities` behaves).
//!
//! The parent prepares everything ([`ChildLimits::new`]); the child's
//! functions only make system calls on that memory (no allocation).

use crate::config::resources::{ALL_MARK, Resources, Rlimit};

/// Steps the child reports on failure (beside those of `spawn`).
pub(super) const STEP_OOM: u8 = 6;
pub(super) const STEP_NICE: u8 = 7;
pub(super) const STEP_AFFINITY: u8 = 8;
pub(super) const STEP_CAPS_DROP: u8 = 9;
pub(super) const STEP_CAPS_ADD: u8 = 10;
/// `STEP_RLIMIT + k`: the k-th of the process's rlimits.
pub(super) const STEP_RLIMIT: u8 = 32;

const CAP_SETPCAP: u32 = 8;
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// This task's capability sets (two words each, as capget gives them).
fn capget() -> Option<[CapData; 2]> {
    let mut head = CapHeader {
        version: CAP_VERSION_3,
        pid: 0,
    };
    let mut data = [CapData::default(); 2];
    // SAFETY: capget into a header and two data words of the kernel's layout.
    let r = unsafe { libc::syscall(libc::SYS_capget, &mut head, data.as_mut_ptr()) };
    (r == 0).then_some(data)
}

/// Whether podinit may change a bounding set (CAP_SETPCAP in effect).
pub(super) fn can_drop_bounding() -> bool {
    static CAN: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *CAN.get_or_init(|| capget().is_some_and(|d| d[0].effective & (1 << CAP_SETPCAP) != 0))
}

/// What the child applies, prepared by the parent.
#[derive(Clone, Copy)]
pub(super) struct ChildLimits {
    rlimits: *const Rlimit,
    nrlimits: usize,
    /// `oom_score_adj` as the text written to /proc/self/oom_score_adj.
    oom: [u8; 8],
    oom_len: usize,
    /// A failed write fails the start (false: the main's score, derived,
    /// tried only).
    oom_required: bool,
    nice: Option<i32>,
    affinity: Option<libc::cpu_set_t>,
    /// Capabilities to drop from the bounding set (`ALL_MARK`: every one
    /// the kernel has), none when podinit cannot (then `no_new_privs`
    /// keeps them out of reach).
    cap_drop: u64,
    cap_add: u64,
}

impl ChildLimits {
    /// `r`'s settings for the child; the rlimits stay in `r`, which the
    /// caller keeps alive until the child has exec'ed.
    pub(super) fn new(r: &Resources) -> ChildLimits {
        let mut oom = [0u8; 8];
        let mut oom_len = 0;
        if let Some(s) = r.oom_score_adj {
            let text = format!("{s}\n");
            oom[..text.len()].copy_from_slice(text.as_bytes());
            oom_len = text.len();
        }
        let affinity = (!r.cpu_affinity.is_empty()).then(|| {
            // SAFETY: an all-zero cpu_set_t is the empty set.
            let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
            for &cpu in &r.cpu_affinity {
                // SAFETY: cpu < 1024 = CPU_SETSIZE (checked by the config).
                unsafe { libc::CPU_SET(cpu, &mut set) };
            }
            set
        });
        let caps = r.caps.unwrap_or_default();
        let cap_drop = if can_drop_bounding() {
            caps.drop & !caps.add
        } else {
            0
        };
        ChildLimits {
            rlimits: r.rlimits.as_ptr(),
            nrlimits: r.rlimits.len(),
            oom,
            oom_len,
            oom_required: !r.oom_from_main,
            nice: r.nice,
            affinity,
            cap_drop,
            cap_add: caps.add,
        }
    }

    /// Whether the process must get `no_new_privs`: it was to lose
    /// capabilities from its bounding set, which podinit cannot change.
    pub(super) fn forces_no_new_privs(r: &Resources) -> bool {
        r.caps.is_some_and(|c| c.drop & !c.add != 0) && !can_drop_bounding()
    }

    /// Before the switch of identity (lowering a score or a nice value and
    /// raising a hard limit need the privileges podinit may still have).
    ///
    /// # Safety
    /// In the child between fork and exec.
    pub(super) unsafe fn before_identity(&self, switching_user: bool) -> Result<(), u8> {
        unsafe {
            let limits = std::slice::from_raw_parts(self.rlimits, self.nrlimits);
            for (k, l) in limits.iter().enumerate() {
                let lim = libc::rlimit {
                    rlim_cur: l.soft,
                    rlim_max: l.hard,
                };
                if libc::setrlimit(l.resource as _, &lim) != 0 {
                    return Err(STEP_RLIMIT + k as u8);
                }
            }
            if self.oom_len > 0 {
                let fd = libc::open(
                    c"/proc/self/oom_score_adj".as_ptr(),
                    libc::O_WRONLY | libc::O_CLOEXEC,
                );
                let ok = fd >= 0
                    && libc::write(fd, self.oom.as_ptr().cast(), self.oom_len)
                        == self.oom_len as isize;
                if fd >= 0 {
                    libc::close(fd);
                }
                if !ok && self.oom_required {
                    return Err(STEP_OOM);
                }
            }
            if let Some(n) = self.nice
                && libc::setpriority(libc::PRIO_PROCESS, 0, n) != 0
            {
                return Err(STEP_NICE);
            }
            if let Some(set) = &self.affinity
                && libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) != 0
            {
                return Err(STEP_AFFINITY);
            }
            for cap in 0..63u64 {
                let asked = self.cap_drop & (ALL_MARK | 1 << cap) != 0;
                if !asked || self.cap_add & (1 << cap) != 0 {
                    continue;
                }
                match libc::prctl(libc::PR_CAPBSET_READ, cap, 0, 0, 0) {
                    r if r < 0 => break, // past the kernel's last capability
                    0 => continue,       // not in the set
                    _ => {}
                }
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    return Err(STEP_CAPS_DROP);
                }
            }
            // Keep the permitted set across setuid, to pass the added
            // capabilities on as ambient ones.
            if self.cap_add != 0
                && switching_user
                && libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0
            {
                return Err(STEP_CAPS_ADD);
            }
            Ok(())
        }
    }

    /// After the switch of identity: the added capabilities made
    /// inheritable and ambient (they then survive exec for any user).
    ///
    /// # Safety
    /// In the child between fork and exec.
    pub(super) unsafe fn after_identity(&self) -> Result<(), u8> {
        unsafe {
            if self.cap_add == 0 {
                return Ok(());
            }
            let mut head = CapHeader {
                version: CAP_VERSION_3,
                pid: 0,
            };
            let mut data = [CapData::default(); 2];
            if libc::syscall(libc::SYS_capget, &mut head, data.as_mut_ptr()) != 0 {
                return Err(STEP_CAPS_ADD);
            }
            data[0].inheritable |= self.cap_add as u32;
            data[1].inheritable |= (self.cap_add >> 32) as u32;
            if libc::syscall(libc::SYS_capset, &mut head, data.as_ptr()) != 0 {
                return Err(STEP_CAPS_ADD);
            }
            for cap in 0..63u64 {
                if self.cap_add & (1 << cap) != 0
                    && libc::prctl(
                        libc::PR_CAP_AMBIENT,
                        libc::PR_CAP_AMBIENT_RAISE as libc::c_ulong,
                        cap,
                        0,
                        0,
                    ) != 0
                {
                    return Err(STEP_CAPS_ADD);
                }
            }
            Ok(())
        }
    }
}

/// The config key and the call of a failed step, for the start's error.
pub(super) fn failed_step(r: &Resources, step: u8) -> Option<(String, String)> {
    let named = |key: &str, call: &str| Some((key.to_string(), call.to_string()));
    match step {
        STEP_OOM => named("oom_score_adj", "writing /proc/self/oom_score_adj"),
        STEP_NICE => named("nice", "setpriority"),
        STEP_AFFINITY => named("cpu_affinity", "sched_setaffinity"),
        STEP_CAPS_DROP => named("capabilities.drop", "PR_CAPBSET_DROP"),
        STEP_CAPS_ADD => named(
            "capabilities.add",
            "raising it (podinit must hold the capability itself)",
        ),
        s if s >= STEP_RLIMIT => {
            let l = r.rlimits.get((s - STEP_RLIMIT) as usize)?;
            Some((format!("rlimits.{}", l.name), "setrlimit".to_string()))
        }
        _ => None,
    }
}
