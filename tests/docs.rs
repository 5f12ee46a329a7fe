//! Every TOML block of the docs and README, and every example pod, goes
//! through podinit's own parser: the documentation cannot drift.

mod common;

use podinit::config;

fn toml_blocks(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in text.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```toml") => current = Some((n + 1, String::new())),
            (Some(_), l) if l.starts_with("```") => out.push(current.take().unwrap()),
            (Some((_, body)), _) => {
                body.push_str(line);
                body.push('\n');
            }
            _ => {}
        }
    }
    out
}

fn check_file(path: &str) -> usize {
    let text = std::fs::read_to_string(path).unwrap();
    let blocks = toml_blocks(&text);
    for (line, body) in &blocks {
        let name = format!("{path}:{line}");
        // Variables in the docs have defaults or are set here.
        let env = |k: &str| match k {
            "PORT" => Some("8080".to_string()),
            // Relative `file:` targets need a log_dir: as non-root, from HOME.
            "HOME" => Some("/home/app".to_string()),
            _ => None,
        };
        // A drop-in is parsed over the base image example's pod.
        let mut texts = Vec::new();
        if body.starts_with("# /etc/podinit.d/") {
            let base = format!(
                "{}/examples/base-image/podinit.toml",
                env!("CARGO_MANIFEST_DIR")
            );
            texts.push((base.clone(), std::fs::read_to_string(&base).unwrap()));
        }
        texts.push((name.clone(), body.clone()));
        if let Err(e) = config::parse_layers(&texts, None, &env) {
            panic!("{name}: a documented config does not parse: {e}\n{body}");
        }
    }
    blocks.len()
}

#[test]
fn every_toml_block_of_the_docs_parses() {
    let root = env!("CARGO_MANIFEST_DIR");
    let n = check_file(&format!("{root}/docs/configuration.md"))
        + check_file(&format!("{root}/README.md"));
    assert!(n >= 8, "only {n} TOML blocks found");
}

#[test]
fn every_example_parses() {
    for path in common::example_files() {
        let mut specs = Vec::new();
        // A drop-in is read over the base file next to its directory.
        let dir = path.parent().unwrap();
        if dir.ends_with("podinit.d") {
            let base = dir.parent().unwrap().join("podinit.toml");
            specs.push(base.to_string_lossy().into_owned());
        }
        specs.push(path.to_string_lossy().into_owned());
        config::load(&specs, None, &|_| None).unwrap_or_else(|e| panic!("{e}"));
    }
}

/// The `--help` and `check` output shown in docs/configuration.md is what
/// the binary prints today.
#[test]
fn the_help_and_check_output_in_the_docs_is_the_binarys() {
    let root = env!("CARGO_MANIFEST_DIR");
    let docs = std::fs::read_to_string(format!("{root}/docs/configuration.md")).unwrap();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_podinit"))
            .args(args)
            .current_dir(root)
            .env_remove("USER")
            .env_remove("PODINIT_CONFIG")
            .output()
            .unwrap();
        assert!(out.status.success(), "podinit {args:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let help = run(&["--help"]);
    assert!(
        docs.contains(&format!("$ podinit --help\n{help}```")),
        "docs/configuration.md shows another --help than:\n{help}"
    );
    // check shows the defaults of log_dir and control_socket, which are
    // per-user places when not run as root.
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("SKIPPED (check part): the docs show check as root");
        return;
    }
    let check = run(&["check", "-c", "examples/demo.toml"]);
    assert!(
        docs.contains(&format!(
            "$ podinit check -c examples/demo.toml\n{check}```"
        )),
        "docs/configuration.md shows another check output than:\n{check}"
    );
}

/// The README's measurements are bench/run's last full run, as written to
/// bench/results.md (bench/run copies them between the README's markers).
#[test]
fn the_readme_tables_are_bench_runs_last_results() {
    let root = env!("CARGO_MANIFEST_DIR");
    let readme = std::fs::read_to_string(format!("{root}/README.md")).unwrap();
    let results = std::fs::read_to_string(format!("{root}/bench/results.md")).unwrap();
    let block = readme
        .split_once("<!-- bench/run: begin -->\n")
        .and_then(|(_, rest)| rest.split_once("<!-- bench/run: end -->"))
        .map(|(block, _)| block)
        .expect("README has the bench/run markers");
    let mut want: String = results[results.find("| measure").unwrap()..]
        .lines()
        .filter(|l| !l.starts_with("binaries:"))
        .map(|l| format!("{l}\n"))
        .collect();
    while want.contains("\n\n\n") {
        want = want.replace("\n\n\n", "\n\n");
    }
    assert_eq!(block.trim_end(), want.trim_end());
}
