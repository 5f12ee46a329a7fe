//! Users and groups from /etc/passwd and /etc/group, read directly: a static
//! binary cannot rely on glibc's NSS modules, and a container has these files.
//!
//! Boundary: parsing and lookup only; the caller decides when to read.

/// Who a process runs as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups: the primary gid and every group listing the user.
    pub groups: Vec<u32>,
    /// Login name and home, when the user is in /etc/passwd.
    pub name: Option<String>,
    pub home: Option<String>,
    /// `group` was given (not only derived from the user).
    pub explicit_group: bool,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: f[0].to_string(),
                uid: f[2].parse().ok()?,
                gid: f[3].parse().ok()?,
                home: f[5].to_string(),
            })
        })
        .collect()
}

/// (name, gid, members) of /etc/group.
fn groups(text: &str) -> Vec<(String, u32, Vec<String>)> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            if f.len() < 4 {
                return None;
            }
            let members = f[3]
                .split(',')
                .filter(|m| !m.is_empty())
                .map(str::to_string)
                .collect();
            Some((f[0].to_string(), f[2].parse().ok()?, members))
        })
        .collect()
}

/// Resolves `user` (name or number) and `group` (name or number) against the
/// texts of /etc/passwd and /etc/group. An unknown name is an error; an
/// unknown number is used as it is (its gid: `group`, else the same number).
pub fn resolve(
    user: Option<&str>,
    group: Option<&str>,
    passwd_text: &str,
    group_text: &str,
) -> Result<Identity, String> {
    let pw = passwd(passwd_text);
    let gr = groups(group_text);
    let (uid, mut gid, name, home) = match user {
        None => {
            // Only a group: keep our uid.
            let (u, g) = (
                nix::unistd::getuid().as_raw(),
                nix::unistd::getgid().as_raw(),
            );
            (u, g, None, None)
        }
        Some(u) => {
            let entry = match u.parse::<u32>() {
                Ok(n) => pw.iter().find(|e| e.uid == n),
                Err(_) => Some(
                    pw.iter()
                        .find(|e| e.name == u)
                        .ok_or_else(|| format!("unknown user {u:?} (not in /etc/passwd)"))?,
                ),
            };
            match (entry, u.parse::<u32>()) {
                (Some(e), _) => (e.uid, e.gid, Some(e.name.clone()), Some(e.home.clone())),
                (None, Ok(n)) => (n, n, None, None),
                (None, Err(_)) => unreachable!("names are found or rejected above"),
            }
        }
    };
    if let Some(g) = group {
        gid = match g.parse::<u32>() {
            Ok(n) => n,
            Err(_) => gr
                .iter()
                .find(|(n, _, _)| n == g)
                .map(|(_, id, _)| *id)
                .ok_or_else(|| format!("unknown group {g:?} (not in /etc/group)"))?,
        };
    }
    let mut supplementary = vec![gid];
    if let Some(n) = &name {
        for (_, id, members) in &gr {
            if members.iter().any(|m| m == n) && !supplementary.contains(id) {
                supplementary.push(*id);
            }
        }
    }
    Ok(Identity {
        uid,
        gid,
        groups: supplementary,
        name,
        home,
        explicit_group: group.is_some(),
    })
}

/// Whether podinit, running as `euid`/`egid`, must switch identity to run
/// as `id`: `Ok(false)` when that identity is already in effect (the config
/// names podinit's own user, as under `docker run --user` or Kubernetes
/// `runAsUser`), `Err` with the reason when a switch is needed and podinit
/// is not root. A derived gid that differs is not a reason to fail: under
/// an arbitrary uid (OpenShift) the primary group is often 0.
pub fn switch_needed_as(id: &Identity, euid: u32, egid: u32) -> Result<bool, String> {
    if euid == 0 {
        return Ok(true);
    }
    if id.uid == euid && (id.gid == egid || !id.explicit_group) {
        return Ok(false);
    }
    let who = match &id.name {
        Some(n) => format!("{n:?} (uid {}, gid {})", id.uid, id.gid),
        None => format!("uid {}, gid {}", id.uid, id.gid),
    };
    Err(format!(
        "podinit runs as uid {euid}, gid {egid} without root privileges, so it cannot switch to {who}; \
         run podinit as root or as that user, or remove the key"
    ))
}

/// [`switch_needed_as`] for podinit's own effective ids.
pub fn switch_needed(id: &Identity) -> Result<bool, String> {
    let (euid, egid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    switch_needed_as(id, euid, egid)
}

/// Reads the two files and resolves; a missing file reads as empty. They
/// are read as every file on the loop's thread is: regular, bounded
/// (16 MiB), never blocking; one that breaks those rules is an error.
pub fn lookup(user: Option<&str>, group: Option<&str>) -> Result<Identity, String> {
    let read = |path: &str| match crate::sys::read_bounded(
        std::path::Path::new(path),
        crate::sys::MAX_ACCOUNTS_FILE,
    ) {
        Ok((b, _)) => Ok(String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(String::new()),
        Err(e) => Err(format!("cannot read {path}: {e}")),
    };
    resolve(user, group, &read("/etc/passwd")?, &read("/etc/group")?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\n# c\napp:x:1000:1000::/home/app:/bin/sh\nbad line\n";
    const GROUP: &str = "root:x:0:\napp:x:1000:\nwww:x:33:app,other\nlog:x:4:other\n";

    #[test]
    fn names_numbers_and_memberships() {
        let id = resolve(Some("app"), None, PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (1000, 1000));
        assert_eq!(id.groups, vec![1000, 33]);
        assert_eq!(id.home.as_deref(), Some("/home/app"));
        let id = resolve(Some("1000"), Some("log"), PASSWD, GROUP).unwrap();
        assert_eq!((id.uid, id.gid), (1000, 4));
        assert_eq!(id.groups, vec![4, 33]);
        let id = resolve(Some("4242"), None, PASSWD, GROUP).unwrap();
        assert_eq!(
            (id.uid, id.gid, id.groups.clone()),
            (4242, 4242, vec![4242])
        );
        assert!(
            resolve(Some("nobody2"), None, PASSWD, GROUP)
                .unwrap_err()
                .contains("unknown user \"nobody2\"")
        );
        assert!(
            resolve(Some("app"), Some("nogroup2"), PASSWD, GROUP)
                .unwrap_err()
                .contains("unknown group")
        );
    }

    #[test]
    fn a_switch_only_when_needed_and_possible() {
        let app = resolve(Some("app"), None, PASSWD, GROUP).unwrap();
        assert_eq!(switch_needed_as(&app, 0, 0), Ok(true));
        // Already app: nothing to do, even without root.
        assert_eq!(switch_needed_as(&app, 1000, 1000), Ok(false));
        // An arbitrary uid with gid 0 (OpenShift): the user is in effect.
        let n = resolve(Some("1000680000"), None, PASSWD, GROUP).unwrap();
        assert_eq!(switch_needed_as(&n, 1000680000, 0), Ok(false));
        // An explicit other group cannot be had without root.
        let g = resolve(Some("app"), Some("log"), PASSWD, GROUP).unwrap();
        assert!(switch_needed_as(&g, 1000, 1000).is_err());
        let e = switch_needed_as(&app, 65534, 65534).unwrap_err();
        assert!(
            e.contains("uid 65534") && e.contains("\"app\" (uid 1000"),
            "{e}"
        );
    }
}
