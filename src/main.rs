//! podinit: a pod of processes under one PID 1.
//!
//! The command line: parse it, load the config, then either print the plan
//! (`check`) or hand the pod to the runtime and exit with its status.

use podinit::{config, control, runtime, supervisor};

use std::ffi::OsString;
use std::io::Write;

/// One row of the command line: the verbs it names, its synopsis and its
/// help (`--help` is made of these rows), and the function that runs it.
struct Row {
    verbs: &'static [&'static str],
    synopsis: &'static str,
    help: &'static [&'static str],
    run: fn(&mut Args) -> i32,
}

const ROWS: &[Row] = &[
    Row {
        verbs: &["run"],
        synopsis: "[-c FILE] [-- COMMAND [ARG...]]",
        help: &[
            "run the pod (the default verb); FILE: TOML,",
            "a Pod manifest, a Procfile (--procfile FILE:",
            "whatever its name), a supervisord.conf or a",
            "process-compose.yaml",
        ],
        run: run_pod,
    },
    Row {
        verbs: &[],
        synopsis: "[--stop-timeout D] -- COMMAND",
        help: &[
            "drop-in mode with a bounded stop: a shutdown",
            "signal, then SIGKILL after D (default: none,",
            "every signal forwarded, as tini)",
        ],
        run: run_pod,
    },
    Row {
        verbs: &["check"],
        synopsis: "check [-c FILE] [-- COMMAND...]",
        help: &[
            "validate; print the start/stop plan and",
            "every process's effective settings",
        ],
        run: run_check,
    },
    Row {
        verbs: &["import"],
        synopsis: "import FILE [--pod NAME]",
        help: &[
            "print the podinit TOML for a Kubernetes Pod",
            "manifest (or pod template), a Procfile, a",
            "supervisord.conf or a process-compose.yaml",
        ],
        run: run_import,
    },
    Row {
        verbs: &["status"],
        synopsis: "status [NAME...] [--json]",
        help: &["ask the running podinit (control socket)"],
        run: control_client,
    },
    Row {
        verbs: &["health"],
        synopsis: "health [--live]",
        help: &[
            "exit 0 if the pod is ready (or, --live, not",
            "failing for good), else 1 saying why",
        ],
        run: control_client,
    },
    Row {
        verbs: &["events"],
        synopsis: "events [--json]",
        help: &["follow the pod's state changes as they happen"],
        run: control_client,
    },
    Row {
        verbs: &["logs"],
        synopsis: "logs NAME [-n N] [-f]",
        help: &["a process's last N lines (30), -f: and follow"],
        run: control_client,
    },
    Row {
        verbs: &["top"],
        synopsis: "top [-s cpu|mem]",
        help: &[
            "each process's CPU and memory, live until q",
            "(one table when stdout is not a terminal)",
        ],
        run: run_top,
    },
    Row {
        verbs: &["start", "stop", "restart"],
        synopsis: "start|stop|restart NAME...",
        help: &[
            "likewise; a group's name: all its replicas;",
            "restart --rolling: one at a time, each once",
            "the one before is ready again",
        ],
        run: control_client,
    },
    Row {
        verbs: &["signal"],
        synopsis: "signal NAME SIGNAL",
        help: &["likewise"],
        run: control_client,
    },
    Row {
        verbs: &["reload"],
        synopsis: "reload",
        help: &["likewise: read the config again and apply it"],
        run: control_client,
    },
    Row {
        verbs: &["scale"],
        synopsis: "scale NAME N",
        help: &["likewise: N replicas of NAME, until a reload"],
        run: control_client,
    },
];

const HELP_END: &str = "\
Config lookup: every -c FILE|DIR, else $PODINIT_CONFIG (paths separated by :),
else /etc/podinit.toml and /etc/podinit.d/*.toml; merged in that order.
Options may come before or after the verb (podinit -c FILE status).
`-- COMMAND` adds a main process named `main` that starts after every other
process is ready (or completed); with no config at all, podinit is a drop-in
for tini: one child, signals forwarded, zombies reaped, its status returned.

Environment: PODINIT_LOG sets podinit's own log level (error, warn, info, debug;
info by default, warn in drop-in mode, which is as quiet as tini);
PODINIT_STOP_TIMEOUT is --stop-timeout for images that cannot change their ENTRYPOINT.
Exit status: the main process's status (128+N when killed by signal N), 0 after
a requested shutdown without a main, 2 for a usage or config error.
";

/// `--help`: the rows, then the lookup, environment and exit status.
fn usage() -> String {
    let mut out = String::from("podinit — a pod of processes under one PID 1\n\nUsage:\n");
    for row in ROWS {
        for (k, line) in row.help.iter().enumerate() {
            let head = if k == 0 { row.synopsis } else { "" };
            let cmd = if k == 0 { "podinit " } else { "        " };
            out += &format!("  {cmd}{head:<34}{line}\n");
        }
    }
    out += "  podinit --help | --version\n\n";
    out + HELP_END
}

/// The usage line of a verb, for its error message.
fn usage_of(verb: &str) -> String {
    let row = ROWS.iter().find(|r| r.verbs.contains(&verb));
    let synopsis = row.map_or(verb, |r| r.synopsis);
    let synopsis = synopsis.replace("start|stop|restart", verb);
    format!("usage: podinit {synopsis}")
}

/// Exit status for usage and config errors (README, "Exit status").
fn exit_usage() -> i32 {
    supervisor::exit_status(supervisor::Ending::UsageOrConfig)
}

#[derive(Debug, PartialEq)]
enum Verb {
    Run,
    Check,
    Top,
    Import,
    Control(control::Verb),
}

impl Verb {
    fn name(&self) -> &'static str {
        match self {
            Verb::Run => "run",
            Verb::Check => "check",
            Verb::Top => "top",
            Verb::Import => "import",
            Verb::Control(v) => v.as_str(),
        }
    }
}

#[derive(Debug, PartialEq)]
struct Args {
    verb: Verb,
    config: Vec<String>,
    command: Option<Vec<OsString>>,
    /// `--stop-timeout D`: drop-in mode with podinit's bounded stop.
    stop_timeout: Option<String>,
    rest: Vec<String>,
}

#[derive(Debug)]
enum Parsed {
    Args(Args),
    Help,
    Version,
}

/// Every verb of the command line, in the order of `--help`.
fn verbs() -> Vec<&'static str> {
    ROWS.iter().flat_map(|r| r.verbs.iter().copied()).collect()
}

/// Parses the command line. Options (`-c FILE`) may come before or after
/// the verb; everything after `--` is the command, byte for byte.
/// Long on purpose: one arm per option, in the order of `--help`.
fn parse_args(argv: &[OsString]) -> Result<Parsed, String> {
    let mut args = Args {
        verb: Verb::Run,
        config: Vec::new(),
        command: None,
        stop_timeout: None,
        rest: Vec::new(),
    };
    let mut verb_seen = false;
    let mut i = 0;
    while i < argv.len() {
        if argv[i] == "--" {
            if argv.len() == i + 1 {
                return Err("`--` must be followed by a command".into());
            }
            args.command = Some(argv[i + 1..].to_vec());
            break;
        }
        let a = argv[i].to_string_lossy();
        let a = a.as_ref();
        match a {
            "-h" | "--help" => return Ok(Parsed::Help),
            "-V" | "--version" => return Ok(Parsed::Version),
            "-c" | "--config" => {
                let f = argv.get(i + 1).ok_or(format!("{a} needs a file name"))?;
                args.config.push(f.to_string_lossy().into_owned());
                i += 1;
            }
            "--stop-timeout" => {
                let d = argv.get(i + 1).ok_or(format!("{a} needs a duration"))?;
                args.stop_timeout = Some(d.to_string_lossy().into_owned());
                i += 1;
            }
            _ if a.starts_with("--stop-timeout=") => {
                args.stop_timeout = Some(a["--stop-timeout=".len()..].to_string())
            }
            _ if a.starts_with("--config=") => args.config.push(a["--config=".len()..].to_string()),
            _ if a.starts_with("-c") && a.len() > 2 => args.config.push(a[2..].to_string()),
            _ if !verb_seen && verbs().contains(&a) => {
                verb_seen = true;
                args.verb = match (a, control::Verb::parse(a)) {
                    (_, Some(v)) => Verb::Control(v),
                    ("check", None) => Verb::Check,
                    ("top", None) => Verb::Top,
                    ("import", None) => Verb::Import,
                    _ => Verb::Run,
                };
            }
            "--procfile" => {
                let f = argv.get(i + 1).ok_or(format!("{a} needs a file name"))?;
                let f = f.to_string_lossy().into_owned();
                // Read as a Procfile whatever its name (the config lookup asks).
                // SAFETY: single-threaded, before anything else runs.
                unsafe { std::env::set_var("PODINIT_PROCFILE", &f) };
                args.config.push(f);
                i += 1;
            }
            "--pod" => {
                let n = argv.get(i + 1).ok_or(format!("{a} needs a pod name"))?;
                // The config lookup reads it (a file may hold several pods).
                // SAFETY: single-threaded, before anything else runs.
                unsafe { std::env::set_var("PODINIT_POD", n) };
                i += 1;
            }
            _ if matches!(args.verb, Verb::Control(_) | Verb::Top | Verb::Import) => {
                args.rest.push(a.to_string())
            }
            _ if a.starts_with('-') => return Err(format!("unknown option {a:?}")),
            _ => {
                return Err(format!(
                    "unexpected argument {a:?}: the verbs are {}; to run a command, put it after `--` (podinit -- {a} ...)",
                    verbs().join(", ")
                ));
            }
        }
        i += 1;
    }
    Ok(Parsed::Args(args))
}

/// podinit's own messages: `podinit: [LEVEL: ]TEXT` on stderr, one write
/// per message (a line never interleaves with another writer's).
struct Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata) -> bool {
        m.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let level = match record.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            log::Level::Info => "",
            log::Level::Debug => "debug: ",
            log::Level::Trace => "trace: ",
        };
        let line = format!("podinit: {level}{}\n", record.args());
        let _ = std::io::stderr().write_all(line.as_bytes());
    }

    fn flush(&self) {}
}

/// podinit's own messages, at `PODINIT_LOG`'s level (`error`, `warn`,
/// `info`, `debug`, `trace`, `off`), else `default`.
fn init_logging(default: &str) {
    let level = |name: &str| match name.trim().to_ascii_lowercase().as_str() {
        "off" => Some(log::LevelFilter::Off),
        "error" => Some(log::LevelFilter::Error),
        "warn" | "warning" => Some(log::LevelFilter::Warn),
        "info" => Some(log::LevelFilter::Info),
        "debug" => Some(log::LevelFilter::Debug),
        "trace" => Some(log::LevelFilter::Trace),
        _ => None,
    };
    let fallback = level(default).unwrap_or(log::LevelFilter::Info);
    let asked = std::env::var("PODINIT_LOG").ok().filter(|v| !v.is_empty());
    let chosen = asked.as_deref().map(level);
    static LOGGER: Logger = Logger;
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(chosen.flatten().unwrap_or(fallback));
    if let Some(v) = asked.filter(|_| chosen.flatten().is_none()) {
        log::warn!(
            "PODINIT_LOG={v:?} is not a level (error, warn, info, debug, trace, off); using {default}"
        );
    }
}

/// The config lookup: every `-c`, else `PODINIT_CONFIG` (paths separated
/// by `:`), else `/etc/podinit.toml` and `/etc/podinit.d/` where they exist.
/// Each is a file or a directory of `*.toml` files. Empty: no config.
fn config_specs(explicit: Vec<String>) -> Result<Vec<String>, String> {
    let env = match std::env::var_os("PODINIT_CONFIG").filter(|p| !p.is_empty()) {
        Some(p) => Some(
            p.into_string()
                .map_err(|_| "PODINIT_CONFIG is not valid UTF-8".to_string())?,
        ),
        None => None,
    };
    Ok(lookup(explicit, env.as_deref(), &|p| {
        std::path::Path::new(p).exists()
    }))
}

/// [`config_specs`] with the environment and the file system passed in.
fn lookup(explicit: Vec<String>, env: Option<&str>, exists: &dyn Fn(&str) -> bool) -> Vec<String> {
    if !explicit.is_empty() {
        return explicit;
    }
    if let Some(list) = env {
        return list
            .split(':')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
    }
    ["/etc/podinit.toml", "/etc/podinit.d"]
        .into_iter()
        .filter(|p| exists(p))
        .map(String::from)
        .collect()
}

fn load(args: &mut Args) -> Result<config::Config, String> {
    let specs = config_specs(std::mem::take(&mut args.config))?;
    let command = args.command.take();
    match (specs.is_empty(), command) {
        (true, None) => Err("no config file and no command: give -c FILE (or a directory of *.toml), set PODINIT_CONFIG, create /etc/podinit.toml or /etc/podinit.d/, or run a command with `podinit -- COMMAND`".into()),
        (true, Some(cmd)) => Ok(config::command_only(cmd, drop_in_stop_timeout(args)?)),
        (false, _) if args.stop_timeout.is_some() => Err(
            "--stop-timeout is for drop-in mode (podinit -- COMMAND without a config); with a config, set stop_timeout on the process".into(),
        ),
        (false, cmd) => config::load(&specs, cmd, &|k| std::env::var(k).ok()).map_err(|e| e.0),
    }
}

/// Drop-in mode's bounded stop, if asked for: `--stop-timeout`, else
/// `PODINIT_STOP_TIMEOUT` (for images that cannot change the ENTRYPOINT's
/// arguments). None: as tini, no timer of podinit's own.
fn drop_in_stop_timeout(args: &Args) -> Result<Option<std::time::Duration>, String> {
    let (key, value) = match (&args.stop_timeout, std::env::var("PODINIT_STOP_TIMEOUT")) {
        (Some(v), _) => ("--stop-timeout", v.clone()),
        (None, Ok(v)) if !v.is_empty() => ("PODINIT_STOP_TIMEOUT", v),
        _ => return Ok(None),
    };
    config::parse_duration(&value)
        .map(Some)
        .map_err(|e| format!("{key} {value:?}: {e}"))
}

/// The control socket the config lookup names; else the exit status,
/// said on stderr.
fn socket_path(config: Vec<String>) -> Result<String, i32> {
    let env = |k: &str| std::env::var(k).ok();
    let specs = config_specs(config).map_err(|e| {
        eprintln!("podinit: {e}");
        exit_usage()
    })?;
    config::control_socket_of(&specs, &env).ok_or_else(|| {
        eprintln!(
            "podinit: {} disables the control socket (control_socket = \"\")",
            specs.join(", ")
        );
        1
    })
}

/// `podinit import FILE`: the TOML of a manifest or a Procfile, with a
/// comment per field (honoured, ignored and why); checked before it is
/// printed, so that what is printed runs.
fn run_import(args: &mut Args) -> i32 {
    let [file] = args.rest.as_slice() else {
        eprintln!("podinit: {}", usage_of("import"));
        return exit_usage();
    };
    let text = match std::fs::read_to_string(file) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("podinit: {file}: {e}");
            return exit_usage();
        }
    };
    let pick = std::env::var("PODINIT_POD").ok();
    let t = match podinit::import::to_toml(file, &text, pick.as_deref()) {
        Ok(Some(t)) => t,
        Ok(None) => {
            eprintln!("podinit: {file} is podinit TOML already");
            return exit_usage();
        }
        Err(e) => {
            eprintln!("podinit: {e}");
            return exit_usage();
        }
    };
    if let Err(e) = config::parse(&t.toml, file, None, &|k| std::env::var(k).ok()) {
        eprintln!("podinit: {file}: the translation does not check: {}", e.0);
        return exit_usage();
    }
    let notes: String = t.report.iter().map(|l| format!("# {l}\n")).collect();
    print!("{notes}{}", t.toml);
    0
}

/// `podinit top [-s cpu|mem]`: the processes' CPU and memory, live.
fn run_top(args: &mut Args) -> i32 {
    let sort = match control::top::Sort::parse(&args.rest) {
        Ok(s) => s,
        Err(u) => {
            eprintln!("podinit: {u}");
            return exit_usage();
        }
    };
    let path = match socket_path(std::mem::take(&mut args.config)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    match control::top::run(&path, sort) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("podinit: top: {e}");
            1
        }
    }
}

/// The usage error of a control verb given the wrong arguments, if so.
fn misuse(verb: control::Verb, rest: &[String]) -> Option<String> {
    use control::Verb as V;
    let misused = match verb {
        V::Start | V::Stop | V::Restart => rest.is_empty(),
        V::Signal | V::Scale => rest.len() != 2,
        V::Reload | V::Events => !rest.is_empty(),
        V::Logs => rest.iter().all(|a| a.starts_with('-')),
        V::Health => rest.iter().any(|a| a != "--live"),
        V::Status => false,
    };
    misused.then(|| usage_of(verb.as_str()))
}

/// `podinit status|health|events|logs|start|stop|restart|signal|reload`:
/// asks the running pod.
fn control_client(args: &mut Args) -> i32 {
    use control::Verb as V;
    let Verb::Control(verb) = args.verb else {
        return exit_usage();
    };
    let path = match socket_path(std::mem::take(&mut args.config)) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let json = args.rest.iter().any(|a| a == "--json");
    let mut rest: Vec<String> = args
        .rest
        .iter()
        .filter(|a| *a != "--json")
        .cloned()
        .collect();
    if let Some(u) = misuse(verb, &rest) {
        eprintln!("podinit: {u}");
        return exit_usage();
    }
    if verb == V::Events || (verb == V::Logs && rest.iter().any(|a| a == "-f")) {
        if json {
            rest.push("--json".into());
        }
        return match control::follow(&path, verb, &rest, &mut std::io::stdout()) {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("podinit: {}: {e}", verb.as_str());
                1
            }
        };
    }
    match control::request(&path, verb, &rest) {
        Err(e) => {
            eprintln!("podinit: {e}");
            1
        }
        Ok((false, msg)) => {
            eprintln!("podinit: {}: {msg}", verb.as_str());
            1
        }
        Ok((true, payload)) => {
            match verb {
                V::Logs | V::Health => print!("{payload}"),
                V::Status if json => print!("{payload}"),
                V::Status => print!("{}", control::status_table(payload.trim())),
                _ => {}
            }
            0
        }
    }
}

fn main() {
    podinit::install_panic_guard();
    podinit::cloexec_inherited_fds();
    let argv: Vec<OsString> = std::env::args_os().skip(1).collect();
    let mut args = match parse_args(&argv) {
        Ok(Parsed::Args(a)) => a,
        Ok(Parsed::Help) => {
            print!("{}", usage());
            return;
        }
        Ok(Parsed::Version) => {
            println!(
                "podinit {} ({})",
                env!("CARGO_PKG_VERSION"),
                env!("PODINIT_GIT_REV")
            );
            return;
        }
        Err(e) => {
            eprintln!("podinit: {e}\n\n{}", usage());
            std::process::exit(exit_usage());
        }
    };
    // Drop-in mode (`podinit -- CMD`, no config) is as quiet as tini:
    // warnings and errors only, unless PODINIT_LOG asks for more.
    let drop_in = args.verb == Verb::Run
        && args.command.is_some()
        && matches!(config_specs(args.config.clone()), Ok(s) if s.is_empty());
    init_logging(if drop_in { "warn" } else { "info" });
    let name = args.verb.name();
    let row = ROWS.iter().find(|r| r.verbs.contains(&name));
    let code = row.map_or_else(exit_usage, |r| (r.run)(&mut args));
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// The config, its warnings said; else the exit status of a config error.
fn load_or_exit(args: &mut Args) -> Result<config::Config, i32> {
    let cfg = load(args).map_err(|e| {
        eprintln!("podinit: {e}");
        exit_usage()
    })?;
    for w in config::warnings(&cfg) {
        log::warn!("{w}");
    }
    Ok(cfg)
}

/// `podinit check`: the plan, each process's settings, the next runs.
fn run_check(args: &mut Args) -> i32 {
    let cfg = match load_or_exit(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    let now = podinit::sys::wall_ms().div_euclid(1000);
    print!(
        "{}",
        config::describe_at(&cfg, Some((now, podinit::sys::utc_offset)))
    );
    if cfg.source.is_some() {
        println!("\n{}", runtime::cgroup::describe(cfg.global.cgroups));
    }
    print!("{}", manifest_fields(&cfg.specs));
    0
}

/// For a Kubernetes manifest or a Procfile: what became of each field.
fn manifest_fields(specs: &[String]) -> String {
    let mut out = String::new();
    let pick = std::env::var("PODINIT_POD").ok();
    for file in specs {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        if let Ok(Some(t)) = podinit::import::to_toml(file, &text, pick.as_deref()) {
            out += &format!("\n{file}, field by field:\n");
            for l in t.report {
                out += &format!("  {l}\n");
            }
        }
    }
    out
}

/// `podinit [-c FILE] [-- COMMAND]`: the pod, until it ends; its status.
fn run_pod(args: &mut Args) -> i32 {
    let cfg = match load_or_exit(args) {
        Ok(c) => c,
        Err(code) => return code,
    };
    // The low fds the fast spawn needs, before anything else is opened.
    podinit::spawn::prepare();
    if let Some((old, new)) = podinit::spawn::raise_fd_limit() {
        log::debug!("fd limit raised from {old} to {new} for podinit; processes get {old}");
    }
    match runtime::Runtime::new(&cfg) {
        Ok(rt) => {
            // The runtime has what it needs: the parsed config goes.
            drop(cfg);
            rt.run()
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            // A setting that cannot be had here (podinit.http's address,
            // the syslog socket's path).
            eprintln!("podinit: {e}");
            exit_usage()
        }
        Err(e) => {
            log::error!("cannot set up the event loop: {e}");
            supervisor::exit_status(supervisor::Ending::LoopSetup)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Result<Parsed, String> {
        parse_args(&s.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn the_config_lookup_order() {
        let all = |_: &str| true;
        let none = |_: &str| false;
        let only_dir = |p: &str| p == "/etc/podinit.d";
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(lookup(v(&["a", "b"]), Some("x"), &all), v(&["a", "b"]));
        assert_eq!(
            lookup(vec![], Some("x.toml:/d::y"), &all),
            v(&["x.toml", "/d", "y"])
        );
        assert_eq!(
            lookup(vec![], None, &all),
            v(&["/etc/podinit.toml", "/etc/podinit.d"])
        );
        assert_eq!(lookup(vec![], None, &only_dir), v(&["/etc/podinit.d"]));
        assert!(lookup(vec![], None, &none).is_empty());
    }

    fn ok(s: &[&str]) -> Args {
        match args(s) {
            Ok(Parsed::Args(a)) => a,
            _ => panic!("{s:?} should parse"),
        }
    }

    #[test]
    fn command_line() {
        let a = ok(&["-c", "x.toml", "--", "sh", "-c", "exit 3"]);
        assert_eq!(a.verb, Verb::Run);
        assert_eq!(a.config, ["x.toml"]);
        assert_eq!(
            a.command,
            Some(vec!["sh".into(), "-c".into(), "exit 3".into()])
        );
        // Bytes that are not UTF-8 reach the command untouched.
        use std::os::unix::ffi::OsStringExt;
        let odd = OsString::from_vec(b"f\xe9.txt".to_vec());
        match parse_args(&["--".into(), "ls".into(), odd.clone()]) {
            Ok(Parsed::Args(a)) => assert_eq!(a.command, Some(vec!["ls".into(), odd])),
            _ => panic!("should parse"),
        }
        assert_eq!(ok(&["check", "--config=y"]).verb, Verb::Check);
        assert_eq!(ok(&["check", "-cy"]).config, ["y"]);
        assert_eq!(ok(&["-c", "a", "-c", "b"]).config, ["a", "b"]);
        // Options after `--` belong to the command.
        assert_eq!(
            ok(&["--", "ls", "--help"]).command,
            Some(vec!["ls".into(), "--help".into()])
        );
        assert!(matches!(args(&["--help"]), Ok(Parsed::Help)));
        assert!(matches!(args(&["-V"]), Ok(Parsed::Version)));
        assert!(args(&["--"]).is_err());
        assert!(args(&["-c"]).is_err());
        assert!(args(&["--bogus"]).is_err());
        assert!(args(&["sh"]).unwrap_err().contains("after `--`"));
        assert_eq!(
            ok(&["signal", "app", "USR1"]).rest,
            vec!["app".to_string(), "USR1".to_string()]
        );
        // Global options before the verb.
        let a = ok(&["-c", "x.toml", "status", "--json"]);
        assert_eq!(a.verb, Verb::Control(control::Verb::Status));
        assert_eq!(a.config, ["x.toml"]);
        assert_eq!(a.rest, vec!["--json".to_string()]);
        assert_eq!(ok(&["--config=y", "check"]).verb, Verb::Check);
        // A process named like a verb is still an argument of the verb.
        assert_eq!(ok(&["stop", "status"]).rest, vec!["status".to_string()]);
        assert!(
            args(&["-c", "x", "bogus"])
                .unwrap_err()
                .contains("the verbs are")
        );
    }

    #[test]
    fn every_verb_has_one_row_and_a_usage_line() {
        let all = verbs();
        for v in control::Verb::ALL {
            assert_eq!(all.iter().filter(|x| **x == v.as_str()).count(), 1, "{v:?}");
        }
        assert!(all.contains(&"run") && all.contains(&"check"));
        assert_eq!(usage_of("stop"), "usage: podinit stop NAME...");
        assert_eq!(usage_of("signal"), "usage: podinit signal NAME SIGNAL");
        let help = usage();
        assert!(help.contains("  podinit logs NAME [-n N] [-f]             a process's"));
        assert!(help.lines().all(|l| l.chars().count() <= 90), "{help}");
    }
}
