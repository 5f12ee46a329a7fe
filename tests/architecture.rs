//! The layering of ARCHITECTURE.md, kept by a test: every `crate::MODULE`
//! that a file of `src/` names (in a `use` or inline) must point down the
//! layers or sideways without a circle, and the supervisor names nothing
//! that touches the system. A violation names the file and the line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top to bottom. A module may name modules of lower layers, and of its
/// own layer as long as no circle forms.
const LAYERS: &[&[&str]] = &[
    &["main", "lib"],
    &["runtime", "spawn", "control"],
    &["logs", "supervisor"],
    &["config", "plan", "import"],
    &["sys", "users", "poll", "json"],
];

/// The supervisor decides; it may know the config and nothing else.
const SUPERVISOR_MAY_NAME: &[&str] = &["config", "plan"];

fn layer(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

/// The module a file of src/ belongs to: `src/config/units.rs` → config.
fn module_of(rel: &str) -> String {
    let rel = rel.trim_start_matches("src/");
    let first = rel.split('/').next().unwrap_or(rel);
    first.trim_end_matches(".rs").to_string()
}

/// (line, module) for every `crate::MODULE` a text names, comments aside;
/// `crate::{a, b::c}` names a and b.
fn named(text: &str) -> Vec<(usize, String)> {
    named_after(text, "crate::")
}

/// (line, name) for every `PREFIX NAME` a text names, comments aside.
fn named_after(text: &str, prefix: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(i) = rest.find(prefix) {
            // `crate::` inside `super::crate::`-like text is not ours; a
            // prefix must start a path.
            let before = rest[..i].chars().last();
            rest = &rest[i + prefix.len()..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            if let Some(group) = rest.strip_prefix('{') {
                let end = group.find('}').unwrap_or(group.len());
                for item in group[..end].split(',') {
                    let m: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_alphanumeric() || *c == '_')
                        .collect();
                    if !m.is_empty() {
                        out.push((n + 1, m));
                    }
                }
            } else {
                let m: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !m.is_empty() {
                    out.push((n + 1, m));
                }
            }
        }
    }
    out
}

/// Every violation in `files` ((path relative to the root, text)).
fn violations(files: &[(String, String)]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut first_at: BTreeMap<(String, String), String> = BTreeMap::new();
    for (path, text) in files {
        let from = module_of(path);
        let Some(lf) = layer(&from) else {
            errors.push(format!(
                "{path}: module `{from}` has no layer in tests/architecture.rs"
            ));
            continue;
        };
        for (line, to) in named(text) {
            if to == from {
                continue;
            }
            let at = format!("{path}:{line}");
            let Some(lt) = layer(&to) else {
                errors.push(format!("{at}: names `crate::{to}`, which has no layer"));
                continue;
            };
            if lt < lf {
                errors.push(format!(
                    "{at}: `{from}` (layer {lf}) names `crate::{to}` (layer {lt}), which is above it"
                ));
            }
            if from == "supervisor" && !SUPERVISOR_MAY_NAME.contains(&to.as_str()) {
                errors.push(format!(
                    "{at}: the supervisor names `crate::{to}`; it may only name {SUPERVISOR_MAY_NAME:?}"
                ));
            }
            edges.entry(from.clone()).or_default().insert(to.clone());
            first_at.entry((from.clone(), to)).or_insert(at);
        }
    }
    errors.extend(file_circles(files));
    // Circles among modules (sideways edges included).
    for start in edges.keys() {
        let mut path = vec![start.clone()];
        if let Some(circle) = find_circle(&edges, start, &mut path) {
            let at: Vec<String> = circle
                .windows(2)
                .map(|w| first_at[&(w[0].clone(), w[1].clone())].clone())
                .collect();
            errors.push(format!(
                "circle {} (at {})",
                circle.join(" -> "),
                at.join(", ")
            ));
            break;
        }
    }
    errors
}

/// Circles between the files of one folder (`config/layers.rs` naming
/// `super::read`, `read.rs` naming `super::layers` back), through `super::`,
/// `self::` (in a `mod.rs`) or `crate::FOLDER::FILE`. A folder's `mod.rs`
/// is the room itself: its files may use it, and it declares them.
fn file_circles(files: &[(String, String)]) -> Vec<String> {
    let mut errors = Vec::new();
    let mut folders: BTreeMap<String, Vec<(String, &str)>> = BTreeMap::new();
    for (path, text) in files {
        let rel = path.trim_start_matches("src/");
        let Some((folder, file)) = rel.split_once('/') else {
            continue;
        };
        let name = file
            .split('/')
            .next()
            .unwrap_or(file)
            .trim_end_matches(".rs");
        folders
            .entry(folder.to_string())
            .or_default()
            .push((name.to_string(), text.as_str()));
    }
    for (folder, members) in &folders {
        let siblings: BTreeSet<&str> = members
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| *n != "mod")
            .collect();
        let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let mut first_at: BTreeMap<(String, String), String> = BTreeMap::new();
        for (name, text) in members {
            if name == "mod" {
                continue;
            }
            let deep = format!("crate::{folder}::");
            let named: Vec<(usize, String)> = named_after(text, "super::")
                .into_iter()
                .chain(named_after(text, &deep))
                .collect();
            for (line, to) in named {
                if &to == name || !siblings.contains(to.as_str()) {
                    continue;
                }
                edges.entry(name.clone()).or_default().insert(to.clone());
                let at = format!("src/{folder}/{name}.rs:{line}");
                first_at.entry((name.clone(), to)).or_insert(at);
            }
        }
        for start in edges.keys() {
            let mut path = vec![start.clone()];
            if let Some(circle) = find_circle(&edges, start, &mut path) {
                let at: Vec<String> = circle
                    .windows(2)
                    .map(|w| first_at[&(w[0].clone(), w[1].clone())].clone())
                    .collect();
                errors.push(format!(
                    "circle inside {folder}/: {} (at {})",
                    circle.join(" -> "),
                    at.join(", ")
                ));
                break;
            }
        }
    }
    errors
}

fn find_circle(
    edges: &BTreeMap<String, BTreeSet<String>>,
    start: &str,
    path: &mut Vec<String>,
) -> Option<Vec<String>> {
    let last = path.last().unwrap().clone();
    for next in edges.get(&last).into_iter().flatten() {
        if next == start {
            let mut c = path.clone();
            c.push(next.clone());
            return Some(c);
        }
        if !path.contains(next) {
            path.push(next.clone());
            if let Some(c) = find_circle(edges, start, path) {
                return Some(c);
            }
            path.pop();
        }
    }
    None
}

fn sources() -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        for e in std::fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).unwrap()));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    walk(root, &root.join("src"), &mut out);
    out.sort();
    out
}

#[test]
fn the_layers_hold() {
    let files = sources();
    assert!(files.len() >= 15, "{} files", files.len());
    let errors = violations(&files);
    assert!(
        errors.is_empty(),
        "layering violations:\n{}",
        errors.join("\n")
    );
}

#[test]
fn a_planted_upward_import_is_named_with_file_and_line() {
    let mut files = sources();
    let plan = files.iter_mut().find(|(p, _)| p == "src/plan.rs").unwrap();
    plan.1 = format!("//! plan\n{}\nuse crate::runtime::Runtime;\n", "// x");
    let errors = violations(&files);
    assert!(
        errors.iter().any(|e| e.starts_with(
            "src/plan.rs:3: `plan` (layer 3) names `crate::runtime` (layer 1), which is above it"
        )),
        "{errors:#?}"
    );
    // A sideways circle: config -> plan -> config.
    let mut files = sources();
    let plan = files.iter_mut().find(|(p, _)| p == "src/plan.rs").unwrap();
    plan.1
        .push_str("\nfn f() { let _ = crate::config::DEFAULT_LOG_MAX_FILES; }\n");
    let errors = violations(&files);
    assert!(
        errors.iter().any(|e| e.starts_with("circle ")),
        "{errors:#?}"
    );
    // The supervisor touching the system.
    let mut files = sources();
    let sup = files
        .iter_mut()
        .find(|(p, _)| p == "src/supervisor/mod.rs")
        .unwrap();
    sup.1.push_str("\nuse crate::sys::os_err;\n");
    let errors = violations(&files);
    assert!(
        errors
            .iter()
            .any(|e| e.contains("the supervisor names `crate::sys`")),
        "{errors:#?}"
    );
}

#[test]
fn a_planted_circle_between_files_of_one_folder_is_named() {
    let mut files = sources();
    let units = files
        .iter_mut()
        .find(|(p, _)| p == "src/config/units.rs")
        .unwrap();
    units.1.push_str("\nuse super::read::Ctx;\n");
    let read = files
        .iter_mut()
        .find(|(p, _)| p == "src/config/read.rs")
        .unwrap();
    read.1
        .push_str("\nfn g() { let _ = crate::config::units::parse_duration(\"1s\"); }\n");
    let errors = violations(&files);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("circle inside config/: ") && e.contains("src/config/units.rs:")),
        "{errors:#?}"
    );
}

#[test]
fn names_are_found_in_groups_and_inline() {
    let got = named(
        "use crate::{config::X, sys};\nlet a = crate::poll::token(1, 2); // crate::runtime\n",
    );
    assert_eq!(
        got,
        vec![(1, "config".into()), (1, "sys".into()), (2, "poll".into())]
    );
}

/// Functions of `src/` (tests aside) longer than `max` lines whose doc
/// comment does not say why ("on purpose").
fn long_functions(files: &[(String, String)], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    for (path, text) in files {
        if path.ends_with("/tests.rs") {
            continue;
        }
        let lines: Vec<&str> = text.lines().collect();
        // Test modules at the end of a file are not the code's shape.
        let end = lines
            .iter()
            .position(|l| l.trim() == "#[cfg(test)]")
            .unwrap_or(lines.len());
        for i in 0..end {
            let l = lines[i];
            let trimmed = l.trim_start();
            let is_fn = [
                "fn ",
                "pub fn ",
                "pub(super) fn ",
                "pub(crate) fn ",
                "unsafe fn ",
            ]
            .iter()
            .any(|p| trimmed.starts_with(p));
            if !is_fn {
                continue;
            }
            let indent = &l[..l.len() - trimmed.len()];
            let Some(len) = lines[i..end]
                .iter()
                .position(|x| *x == format!("{indent}}}"))
            else {
                continue;
            };
            let said = lines[i.saturating_sub(12)..i]
                .iter()
                .any(|x| x.contains("on purpose"));
            if len + 1 > max && !said {
                out.push(format!("{path}:{}: {} lines", i + 1, len + 1));
            }
        }
    }
    out
}

#[test]
fn no_function_is_longer_than_a_screen_without_a_reason() {
    let long = long_functions(&sources(), 60);
    assert!(
        long.is_empty(),
        "functions over 60 lines:\n{}",
        long.join("\n")
    );
}

#[test]
fn no_source_file_is_over_900_lines() {
    let big: Vec<String> = sources()
        .into_iter()
        .map(|(p, t)| (p, t.lines().count()))
        .filter(|(_, n)| *n > 900)
        .map(|(p, n)| format!("{p}: {n} lines"))
        .collect();
    assert!(
        big.is_empty(),
        "split these into rooms:\n{}",
        big.join("\n")
    );
}
