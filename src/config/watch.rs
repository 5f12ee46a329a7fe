//! `watch`: the globs whose changes restart a process (`**` recursive,
//! `*`, `?`, `[a-z]` within a name), `watch_ignore`, `watch_debounce`;
//! and the glob matching the runtime's inotify watcher uses.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::ConfigError;
use super::read::{Ctx, Item};

/// A process's `watch` settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Watch {
    /// As written: relative to `working_dir` (or podinit's directory).
    pub globs: Vec<String>,
    /// `watch_ignore`: a name pattern (no `/`) ignores that name anywhere;
    /// a path pattern ignores what is at or under it. `.git` always.
    pub ignore: Vec<String>,
    pub debounce: Duration,
}

pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(300);

fn is_glob(segment: &str) -> bool {
    segment.contains(['*', '?', '['])
}

/// A list of non-empty strings (`watch`, `watch_ignore`).
pub(super) fn patterns(cx: &Ctx, item: &Item) -> Result<Vec<String>, ConfigError> {
    let mut out = Vec::new();
    for e in item.array(cx)? {
        let s = e.string(cx)?;
        if s.is_empty() {
            return Err(e.bad(cx, "an empty pattern"));
        }
        if s.split('/').any(|seg| seg.contains("**") && seg != "**") {
            return Err(e.bad(
                cx,
                "`**` must be a whole path segment, as in \"src/**/*.py\"",
            ));
        }
        out.push(s.to_string());
    }
    Ok(out)
}

/// The directory a process's relative globs start from: its
/// `working_dir` (relative to podinit's), else podinit's own.
pub fn base_of(working_dir: Option<&str>) -> PathBuf {
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
    working_dir.map_or(cwd.clone(), |d| cwd.join(d))
}

impl Watch {
    /// The directory a glob starts in (its leading segments without
    /// wildcards, under `base`), and whether its subdirectories count.
    pub fn root(glob: &str, base: &Path) -> (PathBuf, bool) {
        let segs: Vec<&str> = glob.split('/').collect();
        let fixed = segs.iter().take_while(|s| !is_glob(s)).count();
        // A glob without wildcards names a file: watch its directory.
        let fixed = fixed.min(segs.len().saturating_sub(1));
        let mut dir = if glob.starts_with('/') {
            PathBuf::from("/")
        } else {
            base.to_path_buf()
        };
        for s in &segs[..fixed] {
            if !s.is_empty() && *s != "." {
                dir.push(s);
            }
        }
        (dir, segs.len() - fixed > 1)
    }

    /// Whether `rel` (a path relative to the process's directory, or an
    /// absolute one for absolute globs) is watched: some glob matches and
    /// no ignore pattern does.
    pub fn wants(&self, rel: &str) -> bool {
        !self.ignored(rel)
            && self.globs.iter().any(|g| {
                let g = g.trim_start_matches("./");
                path_match(&split(g), &split(rel))
            })
    }

    /// The name a changed `path` is watched under (relative to `base` for
    /// relative globs, whole for absolute ones), if some glob wants it.
    pub fn wants_at(&self, path: &Path, base: &Path) -> Option<String> {
        let rel = relative(path, base, false);
        let abs = path.to_string_lossy();
        self.globs.iter().find_map(|g| {
            let t = if g.starts_with('/') {
                abs.as_ref()
            } else {
                rel.as_str()
            };
            let g = g.trim_start_matches("./");
            (!self.ignored(t) && path_match(&split(g), &split(t))).then(|| t.to_string())
        })
    }

    /// Whether `rel` is ignored (a directory so ignored is not watched).
    pub fn ignored(&self, rel: &str) -> bool {
        let segs = split(rel);
        if segs.contains(&".git") {
            return true;
        }
        self.ignore.iter().any(|p| {
            let p = p.trim_end_matches('/').trim_start_matches("./");
            if !p.contains('/') {
                return segs.iter().any(|s| seg_match(p, s));
            }
            let pat = split(p);
            (1..=segs.len()).any(|n| path_match(&pat, &segs[..n]))
        })
    }
}

fn split(p: &str) -> Vec<&str> {
    p.split('/')
        .filter(|s| !s.is_empty() && *s != ".")
        .collect()
}

/// Path segments against glob segments; `**` takes zero or more.
fn path_match(pat: &[&str], path: &[&str]) -> bool {
    match pat.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|k| path_match(rest, &path[k..])),
        Some((p, rest)) => {
            !path.is_empty() && seg_match(p, path[0]) && path_match(rest, &path[1..])
        }
    }
}

/// One name against one glob segment: `*`, `?`, `[abc]`, `[a-z]`, `[!x]`.
fn seg_match(pat: &str, name: &str) -> bool {
    let p: Vec<char> = pat.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // Backtracking over the last `*` (the classic linear-ish wildcard walk).
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < n.len() {
        if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
            continue;
        }
        if i < p.len()
            && let Some(len) = one_char(&p[i..], n[j])
        {
            i += len;
            j += 1;
            continue;
        }
        match star {
            Some((si, sj)) => {
                i = si + 1;
                j = sj + 1;
                star = Some((si, sj + 1));
            }
            None => return false,
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

/// Whether the pattern's next item matches `c`; its length in the pattern.
fn one_char(p: &[char], c: char) -> Option<usize> {
    match p[0] {
        '?' => Some(1),
        '[' => {
            let end = p.iter().skip(1).position(|&x| x == ']')? + 1;
            let body = &p[1..end];
            let (neg, body) = match body.first() {
                Some('!' | '^') => (true, &body[1..]),
                _ => (false, body),
            };
            let mut hit = false;
            let mut k = 0;
            while k < body.len() {
                if k + 2 < body.len() && body[k + 1] == '-' {
                    hit |= (body[k]..=body[k + 2]).contains(&c);
                    k += 3;
                } else {
                    hit |= body[k] == c;
                    k += 1;
                }
            }
            (hit != neg).then_some(end + 1)
        }
        x => (x == c).then_some(1),
    }
}

/// Whether some file under `base` matches a glob (for the warning of a
/// glob that matches nothing); walks at most `budget` directories.
pub fn matches_something(w: &Watch, glob: &str, base: &Path) -> bool {
    let (root, deep) = Watch::root(glob, base);
    let one = Watch {
        globs: vec![glob.to_string()],
        ..w.clone()
    };
    let mut todo = vec![root];
    let mut budget = 10_000;
    while let Some(dir) = todo.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in rd.flatten() {
            let path = e.path();
            let rel = relative(&path, base, glob.starts_with('/'));
            let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
            if is_dir && deep && !one.ignored(&rel) && budget > 0 {
                budget -= 1;
                todo.push(path);
            } else if !is_dir && one.wants(&rel) {
                return true;
            }
        }
    }
    false
}

/// `path` as the globs see it: relative to `base`, or whole for absolute globs.
pub fn relative(path: &Path, base: &Path, absolute: bool) -> String {
    if absolute {
        return path.to_string_lossy().into_owned();
    }
    path.strip_prefix(base)
        .unwrap_or(path)
        .to_string_lossy()
        .into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_as_shells_and_gitignore_do() {
        let w = Watch {
            globs: vec![
                "src/**/*.py".into(),
                "config/*.toml".into(),
                "Makefile".into(),
            ],
            ignore: vec!["*.tmp".into(), "src/gen/".into()],
            debounce: DEFAULT_DEBOUNCE,
        };
        assert!(w.wants("src/a.py"));
        assert!(w.wants("src/x/y/b.py"));
        assert!(!w.wants("src/a.pyc"));
        assert!(w.wants("config/app.toml"));
        assert!(!w.wants("config/sub/app.toml"));
        assert!(w.wants("Makefile"));
        assert!(!w.wants("src/gen/c.py"), "ignored directory");
        assert!(!w.wants("src/.git/d.py"));
        assert!(!w.wants("src/e.tmp"));
        assert!(seg_match("[a-c]?.rs", "b1.rs"));
        assert!(!seg_match("[!a-c]*", "apple"));
        assert!(seg_match("*a*b", "xxaxxb"));
        assert!(!seg_match("*a*b", "xxaxxbc"));
        let base = Path::new("/w");
        assert_eq!(Watch::root("src/**/*.py", base), ("/w/src".into(), true));
        assert_eq!(
            Watch::root("config/*.toml", base),
            ("/w/config".into(), false)
        );
        assert_eq!(Watch::root("Makefile", base), ("/w".into(), false));
        assert_eq!(
            Watch::root("/etc/app/*.conf", base),
            ("/etc/app".into(), false)
        );
        assert_eq!(Watch::root("*/x", base), ("/w".into(), true));
    }
}
