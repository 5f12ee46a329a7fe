//! `replicas = N`: one process table run as `NAME-0` … `NAME-(N-1)`, each
//! with `PODINIT_REPLICA` and `{replica}` replaced in its command, env and
//! file targets; they share the table's `listen` sockets (the kernel
//! spreads `accept` over them), and a dependency on NAME waits for every
//! replica.

use std::ffi::OsString;

use super::{Dep, ProcSpec, Target};

const MARK: &str = "{replica}";

fn uses_mark(s: &ProcSpec) -> Option<&'static str> {
    if s.argv.iter().any(|a| a.to_string_lossy().contains(MARK)) {
        return Some("command");
    }
    if s.env.iter().any(|(_, v)| v.contains(MARK)) {
        return Some("env");
    }
    for (key, t) in [("stdout", &s.stdout), ("stderr", &s.stderr)] {
        if matches!(t, Target::File(p) if p.contains(MARK)) {
            return Some(key);
        }
    }
    None
}

/// Replica `k` of `s`.
fn replica(s: &ProcSpec, k: u32) -> ProcSpec {
    let mut r = s.clone();
    let n = k.to_string();
    r.name = format!("{}-{k}", s.name);
    r.replica = Some((s.name.clone(), k));
    // The count is the group's: a replica's spec does not change with it
    // (`podinit scale` leaves the running ones alone).
    r.replicas = None;
    r.argv = s
        .argv
        .iter()
        .map(|a| OsString::from(a.to_string_lossy().replace(MARK, &n)))
        .collect();
    for (_, v) in &mut r.env {
        *v = v.replace(MARK, &n);
    }
    r.env.push(("PODINIT_REPLICA".into(), n.clone()));
    for t in [&mut r.stdout, &mut r.stderr] {
        if let Target::File(p) = t {
            *p = p.replace(MARK, &n);
        }
    }
    r
}

/// The specs with their replicas spelled out, and `explicit` alongside;
/// an error names the key at fault.
pub fn expand(
    procs: Vec<ProcSpec>,
    explicit: Vec<bool>,
) -> Result<(Vec<ProcSpec>, Vec<bool>), String> {
    if procs.iter().all(|p| p.replicas.is_none()) {
        if let Some(p) = procs.iter().find(|p| uses_mark(p).is_some()) {
            let key = uses_mark(p).unwrap_or("command");
            return Err(format!("process.{}.{key}: {MARK} needs `replicas`", p.name));
        }
        for p in &procs {
            if let Some(d) = p.deps.iter().find(|d| d.cond == super::Condition::AnyReady) {
                let on = &procs[d.on].name;
                return Err(format!(
                    "process.{}.depends_on.{on}: any-ready needs {on} to have replicas",
                    p.name
                ));
            }
        }
        return Ok((procs, explicit));
    }
    let mut map: Vec<Vec<usize>> = Vec::with_capacity(procs.len());
    let mut out: Vec<ProcSpec> = Vec::new();
    let mut out_explicit = Vec::new();
    for (p, e) in procs.iter().zip(&explicit) {
        let mut mine = Vec::new();
        match p.replicas {
            Some(n) => {
                for k in 0..n {
                    mine.push(out.len());
                    out.push(replica(p, k));
                    out_explicit.push(*e);
                }
            }
            None => {
                if let Some(key) = uses_mark(p) {
                    return Err(format!("process.{}.{key}: {MARK} needs `replicas`", p.name));
                }
                mine.push(out.len());
                out.push(p.clone());
                out_explicit.push(*e);
            }
        }
        map.push(mine);
    }
    remap(&mut out, &map, &procs)?;
    for (i, s) in out.iter().enumerate() {
        if let Some(o) = out[..i].iter().find(|o| o.name == s.name) {
            return Err(format!(
                "process.{}: a replica's name is taken by process {} already",
                s.name, o.name
            ));
        }
    }
    Ok((out, out_explicit))
}

/// Dependencies on a replicated process wait for all its replicas; a
/// `process:` consumer must be one process.
fn remap(out: &mut [ProcSpec], map: &[Vec<usize>], procs: &[ProcSpec]) -> Result<(), String> {
    for s in out.iter_mut() {
        if let Some(d) = s
            .deps
            .iter()
            .find(|d| d.cond == super::Condition::AnyReady && procs[d.on].replicas.is_none())
        {
            return Err(format!(
                "process.{}.depends_on.{}: any-ready needs {} to have replicas",
                s.name, procs[d.on].name, procs[d.on].name
            ));
        }
        s.deps = s
            .deps
            .iter()
            .flat_map(|d| map[d.on].iter().map(|&on| Dep { on, cond: d.cond }))
            .collect();
        for (key, t) in [("stdout", &mut s.stdout), ("stderr", &mut s.stderr)] {
            if let Target::Process(c) = t {
                if map[*c].len() != 1 || procs[*c].replicas.is_some() {
                    return Err(format!(
                        "process.{}.{key}: process:{} has replicas; a consumer is one process",
                        s.name, procs[*c].name
                    ));
                }
                *c = map[*c][0];
            }
        }
    }
    Ok(())
}
