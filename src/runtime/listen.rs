//! `listen`: the sockets podinit holds for its processes. Bound before
//! anything starts (with podinit's privileges: a low port works for a
//! process running as another user), kept across restarts and reloads
//! that keep them, handed to each run as fds 3… (spawn's `extra_fds`).
//! podinit never reads them: connections wait in the backlog while the
//! process is down.

use std::collections::HashMap;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use crate::config::ProcSpec;
use crate::config::listen::{Addr, Listen};

#[derive(Default)]
pub struct Listeners {
    /// By address: the spec it was bound with, and the socket.
    bound: HashMap<Addr, (Listen, OwnedFd)>,
}

fn os_err(what: &str) -> String {
    format!("{what}: {}", std::io::Error::last_os_error())
}

/// A socket of `domain`/`ty`, close-on-exec in podinit (the child gets a
/// dup2 without the flag).
fn socket(domain: i32, ty: i32) -> Result<OwnedFd, String> {
    // SAFETY: socket(2) with integer arguments; the fd is ours alone.
    let fd = unsafe { libc::socket(domain, ty | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(os_err("socket"));
    }
    // SAFETY: a fresh fd nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_int(fd: &OwnedFd, level: i32, opt: i32, v: i32) {
    // SAFETY: setsockopt with a pointer to a live int.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            opt,
            (&v as *const i32).cast(),
            std::mem::size_of::<i32>() as u32,
        )
    };
}

/// Binds (and for streams, listens on) one address.
fn bind(l: &Listen) -> Result<OwnedFd, String> {
    use nix::sys::socket::{SockaddrIn, SockaddrIn6, SockaddrLike, UnixAddr};
    let (fd, stream) = match &l.addr {
        Addr::Tcp(a) | Addr::Udp(a) => {
            let stream = matches!(l.addr, Addr::Tcp(_));
            let domain = if a.is_ipv4() {
                libc::AF_INET
            } else {
                libc::AF_INET6
            };
            let ty = if stream {
                libc::SOCK_STREAM
            } else {
                libc::SOCK_DGRAM
            };
            let fd = socket(domain, ty)?;
            set_int(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1);
            if a.is_ipv6() {
                // `[::]` is IPv6 only, as systemd's BindIPv6Only=both is not
                // the default of a listen list that may also hold 0.0.0.0.
                set_int(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1);
            }
            let r = match a {
                std::net::SocketAddr::V4(v4) => {
                    let sa = SockaddrIn::from(*v4);
                    // SAFETY: a valid sockaddr of its stated length.
                    unsafe { libc::bind(fd.as_raw_fd(), sa.as_ptr().cast(), sa.len()) }
                }
                std::net::SocketAddr::V6(v6) => {
                    let sa = SockaddrIn6::from(*v6);
                    // SAFETY: as above.
                    unsafe { libc::bind(fd.as_raw_fd(), sa.as_ptr().cast(), sa.len()) }
                }
            };
            if r < 0 {
                return Err(os_err(&format!("bind {}", l.addr)));
            }
            (fd, stream)
        }
        Addr::Unix(path) => {
            remove_stale(path)?;
            let fd = socket(libc::AF_UNIX, libc::SOCK_STREAM)?;
            let sa = UnixAddr::new(path.as_str()).map_err(|e| format!("{path}: {e}"))?;
            // SAFETY: a valid sockaddr_un of its stated length.
            if unsafe { libc::bind(fd.as_raw_fd(), sa.as_ptr().cast(), sa.len()) } < 0 {
                return Err(os_err(&format!("bind {}", l.addr)));
            }
            unix_owner(l, path)?;
            (fd, true)
        }
    };
    // SAFETY: listen(2) on our socket.
    if stream && unsafe { libc::listen(fd.as_raw_fd(), l.backlog) } < 0 {
        return Err(os_err(&format!("listen {}", l.addr)));
    }
    Ok(fd)
}

/// A socket file left by an earlier run (nobody accepts on it) is
/// removed; anything else at the path is an error.
fn remove_stale(path: &str) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let Ok(meta) = std::fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(format!("{path} exists and is not a socket"));
    }
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(format!("{path}: another process accepts on it"));
    }
    std::fs::remove_file(path).map_err(|e| format!("{path}: {e}"))
}

/// A Unix socket's `mode` and `owner`.
fn unix_owner(l: &Listen, path: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(m) = l.mode {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(m))
            .map_err(|e| format!("chmod {path}: {e}"))?;
    }
    if let Some(owner) = &l.owner {
        let (user, group) = owner.split_once(':').unwrap_or((owner, ""));
        let group = (!group.is_empty()).then_some(group);
        let id =
            crate::users::lookup(Some(user), group).map_err(|e| format!("owner of {path}: {e}"))?;
        std::os::unix::fs::chown(path, Some(id.uid), Some(id.gid))
            .map_err(|e| format!("chown {path}: {e}"))?;
    }
    Ok(())
}

impl Listeners {
    /// Binds what `specs` list and is not bound yet, keeps what they still
    /// list, closes the rest. An error names the process and the address;
    /// nothing of this call is kept then.
    pub fn sync(&mut self, specs: &[ProcSpec]) -> Result<(), String> {
        let mut kept: HashMap<Addr, (Listen, OwnedFd)> = HashMap::new();
        let mut fresh: HashMap<Addr, (Listen, OwnedFd)> = HashMap::new();
        for s in specs {
            for (k, l) in s.listen.iter().enumerate() {
                if kept.contains_key(&l.addr) || fresh.contains_key(&l.addr) {
                    continue; // replicas share their table's sockets
                }
                match self.bound.remove(&l.addr) {
                    Some((old, fd)) if old == *l => {
                        kept.insert(l.addr.clone(), (old, fd));
                    }
                    other => {
                        // A changed socket is closed and bound again (the
                        // address would be in use otherwise).
                        drop(other);
                        let bound = bind(l);
                        let Ok(fd) = bound else {
                            // The other old sockets stay, the new ones close.
                            self.bound.extend(kept);
                            let e = bound.err().unwrap_or_default();
                            return Err(format!("process.{}.listen[{k}]: {e}", s.name));
                        };
                        fresh.insert(l.addr.clone(), (l.clone(), fd));
                    }
                }
            }
        }
        kept.extend(fresh);
        self.bound = kept;
        Ok(())
    }

    /// The fds of a process's sockets in its `listen` order, and the
    /// `LISTEN_FDS` / `LISTEN_FDNAMES` values.
    pub fn for_spec(&self, spec: &ProcSpec) -> (Vec<RawFd>, String) {
        let fds = spec
            .listen
            .iter()
            .filter_map(|l| self.bound.get(&l.addr).map(|(_, fd)| fd.as_raw_fd()))
            .collect();
        let names: Vec<&str> = spec.listen.iter().map(|l| l.name.as_str()).collect();
        (fds, names.join(":"))
    }
}
