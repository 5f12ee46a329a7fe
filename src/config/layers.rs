//! Several config files as one pod: which files a lookup names (a
//! directory is its `*.toml` in lexical order), and their merge, key by
//! key, with every value keeping the file and line that set it.
//!
//! The files' texts are laid end to end (a newline between two), each
//! parsed alone and its spans moved to its place in that whole, so that a
//! span anywhere names its file and line ([`Ctx::line`](super::read::Ctx)).

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::ConfigError;
pub use super::read::Layer;
use super::read::{Ctx, Removed};

/// The files of a lookup in merge order: a file as itself, a directory as
/// its `*.toml` files (not hidden ones) in lexical order of their names,
/// as bytes (a name that is not UTF-8 is still read). With `strict`, a
/// directory that someone else could write is refused
/// ([`crate::sys::untrusted`]).
pub fn expand(specs: &[String], strict: bool) -> Result<Vec<PathBuf>, ConfigError> {
    use std::os::unix::ffi::OsStrExt;
    let mut files = Vec::new();
    for spec in specs {
        let path = Path::new(spec);
        let Ok(meta) = std::fs::metadata(path).map(|m| (m.is_dir(), m)) else {
            files.push(path.to_path_buf());
            continue;
        };
        if !meta.0 {
            files.push(path.to_path_buf());
            continue;
        }
        if let Some(why) = crate::sys::untrusted(&meta.1).filter(|_| strict) {
            return Err(untrusted_error(spec, &why));
        }
        let dir = std::fs::read_dir(path)
            .map_err(|e| ConfigError(format!("{spec}: cannot read the config directory: {e}")))?;
        let mut names = Vec::new();
        for entry in dir {
            let entry = entry.map_err(|e| {
                ConfigError(format!("{spec}: cannot read the config directory: {e}"))
            })?;
            let name = entry.file_name();
            let b = name.as_bytes();
            if b.ends_with(b".toml") && !b.starts_with(b".") {
                names.push(name);
            }
        }
        names.sort();
        files.extend(names.into_iter().map(|n| path.join(n)));
    }
    Ok(files)
}

/// A config file or directory refused for its owner or mode.
pub fn untrusted_error(what: &str, why: &str) -> ConfigError {
    ConfigError(format!(
        "{what}: refused: {why}; anyone who can write it could run commands as podinit's user. Fix its owner or mode (chown root, chmod go-w), or set PODINIT_ALLOW_UNTRUSTED_CONFIG=1 to accept it"
    ))
}

/// The texts laid end to end, and where each starts.
pub(super) fn lay_out(texts: &[(String, String)]) -> (String, Vec<Layer>) {
    let mut all = String::new();
    let mut layers = Vec::new();
    for (file, text) in texts {
        layers.push(Layer {
            file: file.clone(),
            base: all.len(),
        });
        all.push_str(text);
        all.push('\n');
    }
    (all, layers)
}

/// Every file parsed and merged in order: a later file adds keys and
/// replaces values; tables merge key by key, arrays are replaced whole.
pub(super) fn merge_all<'t>(cx: &Ctx<'t>) -> Result<Spanned<DeTable<'t>>, ConfigError> {
    let mut root: Option<Spanned<DeTable<'t>>> = None;
    for (i, layer) in cx.layers.iter().enumerate() {
        let end = cx.layers.get(i + 1).map_or(cx.text.len(), |l| l.base) - 1;
        let doc = parse_one(cx, layer.base, &cx.text[layer.base..end])?;
        match &mut root {
            None => root = Some(doc),
            Some(r) => merge(cx, r.get_mut(), doc.into_inner(), "")?,
        }
    }
    Ok(root.unwrap_or_else(|| Spanned::new(0..0, DeTable::default())))
}

/// One file; a syntax error names its line (and, for a duplicate, the
/// key: toml itself says only "duplicate key").
fn parse_one<'t>(
    cx: &Ctx<'t>,
    base: usize,
    text: &'t str,
) -> Result<Spanned<DeTable<'t>>, ConfigError> {
    let doc = DeTable::parse(text).map_err(|e| {
        let span = e.span().unwrap_or(0..0);
        let msg = e.message().trim();
        let what = text.get(span.clone()).unwrap_or("").trim();
        let msg = if msg.starts_with("duplicate") && !what.is_empty() {
            format!(
                "{msg} `{what}`: it is already defined above (a key, or a [table], may appear once)"
            )
        } else {
            msg.to_string()
        };
        ConfigError(format!(
            "{}: invalid TOML: {msg}",
            cx.at(&moved(&span, base))
        ))
    })?;
    if base == 0 {
        return Ok(doc);
    }
    let span = moved(&doc.span(), base);
    Ok(Spanned::new(span, move_table(doc.into_inner(), base)))
}

fn moved(span: &Range<usize>, by: usize) -> Range<usize> {
    span.start + by..span.end + by
}

fn move_table(t: DeTable<'_>, by: usize) -> DeTable<'_> {
    t.into_iter()
        .map(|(k, v)| {
            let kspan = moved(&k.span(), by);
            (Spanned::new(kspan, k.into_inner()), move_value(v, by))
        })
        .collect()
}

fn move_value(v: Spanned<DeValue<'_>>, by: usize) -> Spanned<DeValue<'_>> {
    let span = moved(&v.span(), by);
    let inner = match v.into_inner() {
        DeValue::Table(t) => DeValue::Table(move_table(t, by)),
        DeValue::Array(a) => DeValue::Array(a.into_iter().map(|e| move_value(e, by)).collect()),
        other => other,
    };
    Spanned::new(span, inner)
}

fn is_table(v: &DeValue) -> bool {
    matches!(v, DeValue::Table(_))
}

/// `src` into `dst`. A key keeps the place of its first definition (so a
/// process keeps its place in the pod); its value is the last file's.
fn merge<'t>(
    cx: &Ctx<'t>,
    dst: &mut DeTable<'t>,
    src: DeTable<'t>,
    prefix: &str,
) -> Result<(), ConfigError> {
    for (k, v) in src {
        let name: &str = k.get_ref();
        let key = if prefix.is_empty() {
            name.to_string()
        } else {
            format!("{prefix}.{name}")
        };
        let Some(old) = dst.get_mut(name) else {
            dst.insert(k, v);
            continue;
        };
        if is_table(old.get_ref()) != is_table(v.get_ref()) {
            let shape = |v: &DeValue| if is_table(v) { "a table" } else { "a value" };
            return Err(cx.err(
                &v.span(),
                &key,
                format!(
                    "is {} here but {} in {}: a later file may change a key only with the same shape",
                    shape(v.get_ref()),
                    shape(old.get_ref()),
                    cx.at(&old.span())
                ),
            ));
        }
        let span = v.span();
        match (old.get_mut(), v.into_inner()) {
            (DeValue::Table(o), DeValue::Table(t)) => merge(cx, o, t, &key)?,
            (_, value) => *old = Spanned::new(span, value),
        }
    }
    Ok(())
}

/// Takes out of `[process]` every process whose merged `enabled` is false.
/// `enabled` is a key of a process only, never of `[defaults]`.
pub(super) fn remove_disabled(
    cx: &Ctx,
    root: &mut DeTable<'_>,
) -> Result<Vec<Removed>, ConfigError> {
    if let Some(d) = root.get("defaults")
        && let DeValue::Table(t) = d.get_ref()
        && let Some((k, _)) = t.iter().find(|(k, _)| k.get_ref() == "enabled")
    {
        return Err(cx.err(
            &k.span(),
            "defaults.enabled",
            "`enabled` belongs to a process table ([process.NAME] enabled = false removes that process)",
        ));
    }
    let Some(procs) = root.get_mut("process") else {
        return Ok(Vec::new());
    };
    let DeValue::Table(procs) = procs.get_mut() else {
        return Ok(Vec::new()); // the usual type error follows
    };
    let mut removed = Vec::new();
    for (name, table) in procs.iter() {
        let DeValue::Table(t) = table.get_ref() else {
            continue;
        };
        let Some(v) = t.get("enabled") else {
            continue;
        };
        match v.get_ref() {
            DeValue::Boolean(true) => {}
            DeValue::Boolean(false) => removed.push((name.get_ref().to_string(), v.span())),
            _ => {
                return Err(cx.err(
                    &v.span(),
                    &format!("process.{}.enabled", name.get_ref()),
                    "expected true or false",
                ));
            }
        }
    }
    for (name, _) in &removed {
        procs.remove(name.as_str());
    }
    Ok(removed)
}

/// Each effective setting and the file and line that set it, in order:
/// `[podinit]`, `[defaults]`, then each process (tables inside a process,
/// such as `env` or a probe, key by key).
pub(super) fn provenance(cx: &Ctx, root: &DeTable) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for (k, _, v) in super::read::entries(root, "") {
        let depth = if k == "process" { 3 } else { 1 };
        walk(cx, &v.key, v.val, depth, &mut out);
    }
    out
}

fn walk(cx: &Ctx, key: &str, v: &Spanned<DeValue>, depth: usize, out: &mut Vec<(String, String)>) {
    match v.get_ref() {
        DeValue::Table(t) if depth > 0 => {
            for (_, _, item) in super::read::entries(t, key) {
                walk(cx, &item.key, item.val, depth - 1, out);
            }
        }
        _ => out.push((key.to_string(), cx.at(&v.span()))),
    }
}
