//! `watch`: one inotify instance for the pod, read by the loop when the
//! kernel says something changed (never polled: no change, no wake-up).
//! Directories under a recursive glob are watched as they appear; a file
//! that matches a process's globs is reported to the supervisor, which
//! debounces and restarts. The kernel's queue overflowing (IN_Q_OVERFLOW)
//! is reported as "anything may have changed": one restart each.

use std::collections::HashMap;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};

use crate::config::ProcSpec;
use crate::config::watch::Watch;

/// A process that watches: its index, the directory its globs start from.
struct Watching {
    idx: usize,
    name: String,
    base: PathBuf,
    watch: Watch,
}

pub struct Watcher {
    ino: Inotify,
    dirs: HashMap<WatchDescriptor, PathBuf>,
    procs: Vec<Watching>,
}

fn mask() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_ONLYDIR
}

/// The error of a tree larger than the kernel lets one user watch: the
/// host's `fs.inotify.max_user_watches`, or this user namespace's
/// `user.max_inotify_watches` when that is lower.
fn limit_error(name: &str, dir: &Path) -> String {
    let read = |p: &str| -> Option<u64> { std::fs::read_to_string(p).ok()?.trim().parse().ok() };
    let host = read("/proc/sys/fs/inotify/max_user_watches");
    let ns = read("/proc/sys/user/max_inotify_watches");
    let (max, key) = match (host, ns) {
        (Some(h), Some(n)) if n < h => (
            n.to_string(),
            "user.max_inotify_watches of this user namespace",
        ),
        (Some(h), _) => (h.to_string(), "fs.inotify.max_user_watches"),
        _ => ("?".to_string(), "fs.inotify.max_user_watches"),
    };
    format!(
        "process.{name}.watch: watching {} would pass the kernel's limit of {max} inotify watches per user ({key}); raise it (sysctl -w fs.inotify.max_user_watches=524288 on the host), narrow the globs, or list big directories in watch_ignore",
        dir.display()
    )
}

impl Watcher {
    /// The watches of every process with `watch` (None: no process has
    /// it). A glob that matches nothing yet is a warning; a tree beyond
    /// the watch limit an error (nothing has started).
    pub fn new(specs: &[ProcSpec]) -> Result<Option<Watcher>, String> {
        let procs: Vec<Watching> = specs
            .iter()
            .enumerate()
            .filter_map(|(idx, s)| {
                let watch = s.watch.as_deref()?.clone();
                let base = crate::config::watch::base_of(s.working_dir.as_deref());
                Some(Watching {
                    idx,
                    name: s.name.clone(),
                    base,
                    watch,
                })
            })
            .collect();
        if procs.is_empty() {
            return Ok(None);
        }
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC).map_err(|e| {
            format!("inotify for `watch`: {e} (fs.inotify.max_user_instances may be reached)")
        })?;
        let mut w = Watcher {
            ino,
            dirs: HashMap::new(),
            procs,
        };
        for k in 0..w.procs.len() {
            for glob in w.procs[k].watch.globs.clone() {
                // A glob matching nothing is a warning of config::warnings.
                let (root, deep) = Watch::root(&glob, &w.procs[k].base);
                w.add_tree(k, &root, deep, &mut Vec::new())?;
            }
        }
        Ok(Some(w))
    }

    pub fn fd(&self) -> RawFd {
        self.ino.as_fd().as_raw_fd()
    }

    /// Watches `dir` (and, when `deep`, every directory under it that is
    /// not ignored); files found in new directories go to `found`.
    fn add_tree(
        &mut self,
        k: usize,
        dir: &Path,
        deep: bool,
        found: &mut Vec<PathBuf>,
    ) -> Result<(), String> {
        let mut todo = vec![dir.to_path_buf()];
        while let Some(d) = todo.pop() {
            match self.ino.add_watch(&d, mask()) {
                Ok(wd) => {
                    self.dirs.insert(wd, d.clone());
                }
                Err(Errno::ENOSPC) => return Err(limit_error(&self.procs[k].name, &d)),
                Err(e) => {
                    log::debug!("watch {}: {e}", d.display());
                    continue;
                }
            }
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let path = e.path();
                if e.file_type().is_ok_and(|t| t.is_dir()) {
                    let rel = crate::config::watch::relative(&path, &self.procs[k].base, false);
                    if deep && !self.procs[k].watch.ignored(&rel) {
                        todo.push(path);
                    }
                } else {
                    found.push(path);
                }
            }
        }
        Ok(())
    }

    /// Reads what the kernel reported: the processes to tell, with the
    /// file each sees changed (None after an overflow).
    pub fn on_readable(&mut self) -> Vec<(usize, Option<String>)> {
        let mut out = Vec::new();
        loop {
            let events = match self.ino.read_events() {
                Ok(ev) if !ev.is_empty() => ev,
                _ => break, // EAGAIN: all read
            };
            for ev in events {
                if ev.mask.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                    out.extend(self.procs.iter().map(|p| (p.idx, None)));
                    continue;
                }
                if ev.mask.contains(AddWatchFlags::IN_IGNORED) {
                    self.dirs.remove(&ev.wd);
                    continue;
                }
                let (Some(dir), Some(name)) = (self.dirs.get(&ev.wd), ev.name) else {
                    continue;
                };
                let path = dir.join(name);
                let mut paths = vec![path.clone()];
                let new_dir = ev.mask.contains(AddWatchFlags::IN_ISDIR)
                    && ev
                        .mask
                        .intersects(AddWatchFlags::IN_CREATE | AddWatchFlags::IN_MOVED_TO);
                if new_dir {
                    paths.extend(self.watch_new_dir(&path));
                }
                for p in &paths {
                    for w in &self.procs {
                        if let Some(shown) = w.watch.wants_at(p, &w.base) {
                            out.push((w.idx, Some(shown)));
                        }
                    }
                }
            }
        }
        out
    }

    /// A directory that appeared: watched for every process whose
    /// recursive glob covers it; the files already in it (created before
    /// the watch was) are returned as changed.
    fn watch_new_dir(&mut self, path: &Path) -> Vec<PathBuf> {
        let mut found = Vec::new();
        for k in 0..self.procs.len() {
            let p = &self.procs[k];
            let rel = crate::config::watch::relative(path, &p.base, false);
            let covers = p.watch.globs.iter().any(|g| {
                let (root, deep) = Watch::root(g, &p.base);
                deep && path.starts_with(&root)
            });
            if covers
                && !p.watch.ignored(&rel)
                && let Err(e) = self.add_tree(k, path, true, &mut found)
            {
                log::error!("{e}");
            }
        }
        found
    }
}
