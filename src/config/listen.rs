//! `listen`: sockets podinit binds before anything starts, keeps for the
//! pod's life and passes to every run of the process with systemd's
//! socket-activation protocol (fds from 3, `LISTEN_FDS`, `LISTEN_PID`,
//! `LISTEN_FDNAMES`): a restart refuses no connection.

use toml::de::DeValue;

use super::ConfigError;
use super::read::{Ctx, Item, as_int, check_keys};

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Addr {
    Tcp(std::net::SocketAddr),
    Udp(std::net::SocketAddr),
    Unix(String),
}

impl std::fmt::Display for Addr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Addr::Tcp(a) => write!(f, "tcp:{a}"),
            Addr::Udp(a) => write!(f, "udp:{a}"),
            Addr::Unix(p) => write!(f, "unix:{p}"),
        }
    }
}

/// One `listen` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listen {
    pub addr: Addr,
    /// Its name in `LISTEN_FDNAMES` (default: the process's name).
    pub name: String,
    /// `listen(2)`'s backlog (TCP and Unix stream).
    pub backlog: i32,
    /// A Unix socket's file mode and owner (`user` or `user:group`).
    pub mode: Option<u32>,
    pub owner: Option<String>,
}

pub const DEFAULT_BACKLOG: i32 = 4096;

/// `tcp:HOST:PORT`, `udp:HOST:PORT` (IPv6 in brackets), `unix:/path`.
pub fn parse_addr(s: &str) -> Result<Addr, String> {
    let (kind, rest) = s
        .split_once(':')
        .ok_or_else(|| format!("{s:?}: expected tcp:HOST:PORT, udp:HOST:PORT or unix:/PATH"))?;
    let ip = |r: &str| -> Result<std::net::SocketAddr, String> {
        let a: std::net::SocketAddr = r.parse().map_err(|_| {
            format!("{s:?}: expected an IP address and a port, as in \"tcp:0.0.0.0:8080\" or \"tcp:[::]:8080\"")
        })?;
        if a.port() == 0 {
            return Err(format!("{s:?}: a port of 0 would change at every start"));
        }
        Ok(a)
    };
    match kind {
        "tcp" => Ok(Addr::Tcp(ip(rest)?)),
        "udp" => Ok(Addr::Udp(ip(rest)?)),
        "unix" if rest.starts_with('/') && rest.len() < 108 => Ok(Addr::Unix(rest.to_string())),
        "unix" => Err(format!(
            "{s:?}: a Unix socket needs an absolute path under 108 bytes"
        )),
        other => Err(format!("{s:?}: {other:?} is not tcp, udp or unix")),
    }
}

/// The `listen` array: strings or tables (`address`, `name`, `backlog`,
/// `mode`, `owner`).
pub(super) fn parse(cx: &Ctx, item: &Item, proc_name: &str) -> Result<Vec<Listen>, ConfigError> {
    let mut out: Vec<Listen> = Vec::new();
    for e in item.array(cx)? {
        let mut l = Listen {
            addr: Addr::Unix(String::new()),
            name: proc_name.to_string(),
            backlog: DEFAULT_BACKLOG,
            mode: None,
            owner: None,
        };
        match e.val.get_ref() {
            DeValue::String(s) => l.addr = parse_addr(s).map_err(|m| e.bad(cx, m))?,
            _ => table(cx, &e, &mut l)?,
        }
        if out.iter().any(|o| o.addr == l.addr) {
            return Err(e.bad(cx, format!("{} is listed twice", l.addr)));
        }
        out.push(l);
    }
    Ok(out)
}

/// A `listen` entry in table form into `l`.
fn table(cx: &Ctx, e: &Item, l: &mut Listen) -> Result<(), ConfigError> {
    let entries = e.table(cx)?;
    check_keys(
        cx,
        &entries,
        &["address", "name", "backlog", "mode", "owner"],
    )?;
    let mut addr = None;
    for (k, _, v) in &entries {
        match *k {
            "address" => addr = Some(parse_addr(v.string(cx)?).map_err(|m| v.bad(cx, m))?),
            "name" => {
                let n = v.string(cx)?;
                if n.is_empty() || n.contains(':') || n.len() > 255 {
                    return Err(v.bad(cx, "a name of 1 to 255 characters without `:`"));
                }
                l.name = n.to_string();
            }
            "backlog" => {
                l.backlog = match as_int(v.val) {
                    Some(n) if (1..=65535).contains(&n) => n as i32,
                    _ => return Err(v.bad(cx, "expected 1 to 65535")),
                }
            }
            "mode" => {
                let m = v.string(cx)?;
                l.mode = Some(
                    u32::from_str_radix(m, 8)
                        .ok()
                        .filter(|m| *m <= 0o777)
                        .ok_or_else(|| v.bad(cx, "an octal mode such as \"0660\""))?,
                );
            }
            _ => l.owner = Some(v.string(cx)?.to_string()),
        }
    }
    l.addr = addr.ok_or_else(|| e.bad(cx, "needs `address`"))?;
    if (l.mode.is_some() || l.owner.is_some()) && !matches!(l.addr, Addr::Unix(_)) {
        return Err(e.bad(cx, "`mode` and `owner` are for unix: sockets"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr("tcp:0.0.0.0:8080").unwrap().to_string(),
            "tcp:0.0.0.0:8080"
        );
        assert_eq!(
            parse_addr("tcp:[::]:80").unwrap().to_string(),
            "tcp:[::]:80"
        );
        assert!(matches!(
            parse_addr("udp:127.0.0.1:53").unwrap(),
            Addr::Udp(_)
        ));
        assert_eq!(
            parse_addr("unix:/run/a.sock").unwrap(),
            Addr::Unix("/run/a.sock".into())
        );
        assert!(parse_addr("tcp:localhost:80").is_err());
        assert!(parse_addr("tcp:0.0.0.0:0").is_err());
        assert!(parse_addr("unix:rel.sock").is_err());
        assert!(parse_addr("sctp:1.2.3.4:5").is_err());
        assert!(parse_addr("8080").is_err());
    }
}
