//! The config file: TOML text → a validated [`Config`].
//!
//! Boundary: reads text and an environment lookup, returns values or one
//! error that names the file, line and key. It never touches the process
//! table or the clock; it asks the system only for its defaults (podinit's
//! euid, whether `/run` is writable), and `load_file` reads the file and,
//! without root, `/etc/passwd` for the identity check. Split by job:
//! `schema` (types, defaults), `read` (TOML with spans), `process` (one
//! process table), `probe`, `describe` (`check`), `units`.

mod describe;
pub mod layers;
pub mod listen;
pub mod probe;
mod process;
mod read;
pub mod replicas;
pub mod resources;
pub mod schedule;
mod schema;
pub mod units;
pub mod watch;

use std::collections::HashMap;
use std::time::Duration;

use toml::de::{DeTable, DeValue};

use crate::plan::{self, Plan};
pub use describe::{describe, describe_at, warnings, worst_case_shutdown};
pub use probe::{Hook, Probe, ProbeKind};
use read::{Ctx, GLOBAL_KEYS, PROCESS_KEYS, check_keys, entries, lookup, valid_name};
pub use schedule::{Schedule, Zone};
pub use schema::*;
pub use units::{
    all_forwardable, format_duration, forwardable, parse_duration, parse_size, signal_name,
};

/// `control_socket` when the config does not say: `/run/podinit.sock` as
/// root; otherwise `$XDG_RUNTIME_DIR/podinit.sock`, else a directory of
/// podinit's own (`podinit-UID`, made 0700, refused if another user owns
/// it) in `/run` when podinit may write there (a Kubernetes `emptyDir`),
/// else in `$TMPDIR` or `/tmp`. Never a bare name in a shared directory,
/// which another user could take first.
pub fn default_control_socket(env: EnvLookup) -> String {
    let uid = crate::sys::euid();
    let run_writable = uid != 0 && crate::sys::writable_dir(std::path::Path::new("/run"));
    default_control_socket_as(uid, run_writable, env)
}

pub fn default_control_socket_as(uid: u32, run_writable: bool, env: EnvLookup) -> String {
    if uid == 0 {
        return "/run/podinit.sock".into();
    }
    if let Some(d) = env("XDG_RUNTIME_DIR").filter(|v| v.starts_with('/')) {
        return format!("{}/podinit.sock", d.trim_end_matches('/'));
    }
    if run_writable {
        return format!("/run/podinit-{uid}/podinit.sock");
    }
    let tmp = env("TMPDIR").filter(|t| t.starts_with('/'));
    let tmp = tmp.as_deref().unwrap_or("/tmp").trim_end_matches('/');
    format!("{tmp}/podinit-{uid}/podinit.sock")
}

/// `log_dir` when the config does not say: the container place as root, a
/// place of the user's own otherwise (`$XDG_STATE_HOME/podinit`, else
/// `$HOME/.local/state/podinit`). Never a shared directory such as /tmp,
/// where another user could read the logs or plant files: without an
/// absolute `XDG_STATE_HOME` or a `HOME` other than `/`, there is no default
/// (empty), and a relative `file:` target is a config error.
pub fn default_log_dir(env: EnvLookup) -> String {
    default_log_dir_as(crate::sys::euid(), env)
}

pub fn default_log_dir_as(uid: u32, env: EnvLookup) -> String {
    if uid == 0 {
        return "/var/log/podinit".into();
    }
    let usable = |v: String| -> Option<String> {
        let v = v.trim_end_matches('/').to_string();
        (v.starts_with('/') && !v.is_empty()).then_some(v)
    };
    if let Some(x) = env("XDG_STATE_HOME").and_then(usable) {
        return format!("{x}/podinit");
    }
    match env("HOME").and_then(usable) {
        Some(h) => format!("{h}/.local/state/podinit"),
        None => String::new(),
    }
}

/// The control socket a config lookup names (the last file that sets it),
/// read leniently: the client verbs must find a running podinit even when
/// the files have since been broken (the server validates on `reload`).
/// None: disabled.
pub fn control_socket_of(specs: &[String], env: EnvLookup) -> Option<String> {
    let default = Some(default_control_socket(env));
    let mut found = default.clone();
    for file in layers::expand(specs, false).unwrap_or_default() {
        // Never blocks on a FIFO, never reads a huge file (the same rule
        // as the server's reads).
        if let Some(v) = crate::sys::read_bounded(&file, crate::sys::MAX_CONFIG_FILE)
            .ok()
            .and_then(|(b, _)| String::from_utf8(b).ok())
            .and_then(|text| control_socket_in(&text))
        {
            found = match v.as_str() {
                "" => None,
                v => units::expand_vars(v, env).ok().or(default.clone()),
            };
        }
    }
    found
}

/// `[podinit] control_socket` of one file, if it parses and says.
fn control_socket_in(text: &str) -> Option<String> {
    let doc = DeTable::parse(text).ok()?;
    let podinit = doc.get_ref().get("podinit")?;
    let DeValue::Table(t) = podinit.get_ref() else {
        return None;
    };
    match t.get("control_socket")?.get_ref() {
        DeValue::String(s) => Some(s.to_string()),
        _ => None,
    }
}

/// One config file, read as [`crate::sys::read_bounded`] reads (regular,
/// at most 4 MiB, never blocking) and, `strict`, refused when someone else
/// could write it. Its name as messages show it, and its text.
fn read_config_file(path: &std::path::Path, strict: bool) -> Result<(String, String), ConfigError> {
    let file = path.to_string_lossy().into_owned();
    let cannot = |e: String| ConfigError(format!("{file}: cannot read the config file: {e}"));
    let (bytes, meta) = crate::sys::read_bounded(path, crate::sys::MAX_CONFIG_FILE)
        .map_err(|e| cannot(e.to_string()))?;
    if let Some(why) = crate::sys::untrusted(&meta).filter(|_| strict) {
        return Err(layers::untrusted_error(&file, &why));
    }
    let text = String::from_utf8(bytes).map_err(|e| {
        cannot(format!(
            "it is not UTF-8 text (byte {} is not), as TOML must be",
            e.utf8_error().valid_up_to()
        ))
    })?;
    // A Pod manifest or a Procfile: its TOML (the front-end translates).
    let pick = std::env::var("PODINIT_POD").ok().filter(|p| !p.is_empty());
    match crate::import::to_toml(&file, &text, pick.as_deref()).map_err(ConfigError)? {
        Some(t) => Ok((file, t.toml)),
        None => Ok((file, text)),
    }
}

/// How the environment of podinit is seen by the loader (injected for tests).
pub type EnvLookup<'a> = &'a dyn Fn(&str) -> Option<String>;

/// Reads and validates the config a lookup names: files and directories
/// (each its `*.toml` in lexical order), merged in order (`layers`).
pub fn load(
    specs: &[String],
    command: Option<Vec<std::ffi::OsString>>,
    env: EnvLookup,
) -> Result<Config, ConfigError> {
    let strict = env("PODINIT_ALLOW_UNTRUSTED_CONFIG").is_none_or(|v| v.is_empty() || v == "0");
    let mut texts = Vec::new();
    for path in layers::expand(specs, strict)? {
        texts.push(read_config_file(&path, strict)?);
    }
    if texts.is_empty() {
        return Err(ConfigError(format!(
            "{}: no *.toml file there; add one with a [process.NAME] table",
            specs.join(", ")
        )));
    }
    let mut cfg = parse_layers(&texts, command, env)?;
    cfg.specs = specs.to_vec();
    check_identities(&cfg)?;
    Ok(cfg)
}

/// [`load`] of one file.
pub fn load_file(
    path: &str,
    command: Option<Vec<std::ffi::OsString>>,
    env: EnvLookup,
) -> Result<Config, ConfigError> {
    load(&[path.to_string()], command, env)
}

/// Every `user` / `group` can be had: podinit is root, or the identity is
/// its own already. Otherwise the pod would start half-way and fail there.
fn check_identities(cfg: &Config) -> Result<(), ConfigError> {
    if crate::sys::euid() == 0 {
        return Ok(()); // root resolves names at each start (126 if unknown)
    }
    for (idx, at) in &cfg.identity_at {
        let p = &cfg.procs[*idx];
        crate::users::lookup(p.user.as_deref(), p.group.as_deref())
            .and_then(|id| crate::users::switch_needed(&id))
            .map_err(|e| ConfigError(format!("{at} {e}")))?;
    }
    Ok(())
}

/// The pod of `podinit -- COMMAND` without a config file. Without a
/// `stop_timeout` it behaves as tini (signals forwarded, no timer of its
/// own); with one, a shutdown signal stops the command within it.
pub fn command_only(argv: Vec<std::ffi::OsString>, stop_timeout: Option<Duration>) -> Config {
    let timeout = stop_timeout.unwrap_or(DEFAULT_STOP_TIMEOUT);
    let procs = vec![command_proc(argv, Vec::new(), timeout)];
    // One process without dependencies: its plan is that one level.
    let plan = plan::levels(&dependency_lists(&procs)).unwrap_or(Plan {
        levels: vec![vec![0]],
    });
    Config {
        source: None,
        specs: Vec::new(),
        time_zone: None,
        provenance: Vec::new(),
        global: Global {
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            log_dir: default_log_dir(&|k| std::env::var(k).ok()),
            control_socket: Some(default_control_socket(&|k| std::env::var(k).ok())),
            http: None,
            syslog: None,
            forward_only: stop_timeout.is_none(),
            // Drop-in mode is tini: it makes no cgroups.
            cgroups: CgroupMode::Off,
            all_mains: false,
        },
        procs,
        plan,
        identity_at: Vec::new(),
    }
}

fn command_proc(argv: Vec<std::ffi::OsString>, deps: Vec<Dep>, stop_timeout: Duration) -> ProcSpec {
    ProcSpec {
        name: COMMAND_NAME.into(),
        argv,
        main: true,
        oneshot: false,
        deps,
        stop_signal: libc::SIGTERM,
        stop_timeout,
        env: Vec::new(),
        success_codes: vec![0],
        forward_signals: all_forwardable(),
        from_command_line: true,
        tty: false,
        restart: Restart::Never,
        restart_delay: DEFAULT_RESTART_DELAY,
        restart_delay_max: DEFAULT_RESTART_DELAY_MAX,
        max_restarts: None,
        critical: false,
        ready: None,
        health: None,
        readiness: None,
        post_start: None,
        pre_stop: None,
        watch: None,
        manual_start: false,
        on_demand: false,
        listen: Vec::new(),
        fd_store_max: 0,
        replicas: None,
        replica: None,
        restart_codes: Vec::new(),
        env_file: None,
        user: None,
        group: None,
        working_dir: None,
        umask: None,
        stdout: Target::Console,
        stderr: Target::Console,
        log_format: None,
        log_timestamps: false,
        log_max_size: None,
        log_max_files: DEFAULT_LOG_MAX_FILES,
        log_buffer: DEFAULT_LOG_BUFFER,
        watchdog: None,
        no_new_privs: false,
        schedule: None,
        resources: Box::default(),
    }
}

/// Parses and validates config text. `file` names it in messages; `command`
/// is the `-- COMMAND` of the command line, added as process `main`.
pub fn parse(
    text: &str,
    file: &str,
    command: Option<Vec<std::ffi::OsString>>,
    env: EnvLookup,
) -> Result<Config, ConfigError> {
    parse_layers(&[(file.to_string(), text.to_string())], command, env)
}

/// Parses and validates config files (name, text), merged in order.
// Long on purpose: one pass over the merged document, in the order a
// reader checks it (tables, names, processes, the command, the plan).
pub fn parse_layers(
    texts: &[(String, String)],
    command: Option<Vec<std::ffi::OsString>>,
    env: EnvLookup,
) -> Result<Config, ConfigError> {
    let (all, layer_list) = layers::lay_out(texts);
    let mut cx = Ctx {
        layers: &layer_list,
        text: &all,
        removed: Vec::new(),
        identity_at: Default::default(),
    };
    let mut doc = layers::merge_all(&cx)?;
    cx.removed = layers::remove_disabled(&cx, doc.get_mut())?;
    let provenance = if texts.len() > 1 {
        let mut p = layers::provenance(&cx, doc.get_ref());
        for (name, span) in &cx.removed {
            p.push((
                format!("process.{name} (removed: enabled = false)"),
                cx.at(span),
            ));
        }
        p
    } else {
        Vec::new()
    };
    let files: Vec<&str> = texts.iter().map(|(f, _)| f.as_str()).collect();
    let file = files.join(", ");
    let top = entries(doc.get_ref(), "");
    check_keys(&cx, &top, &["podinit", "defaults", "process"])?;
    let get = |name: &str| top.iter().find(|(n, _, _)| *n == name).map(|(_, _, i)| i);
    let mut global = parse_global(&cx, get("podinit"), env)?;
    let defaults = get("defaults").map_or(Ok(Vec::new()), |item| {
        let items = item.table(&cx)?;
        check_keys(&cx, &items, PROCESS_KEYS).map(|()| items)
    })?;
    // [process.NAME]: names first, so that depends_on can refer forward.
    let procs_items = get("process").map_or(Ok(Vec::new()), |item| item.table(&cx))?;
    let index = process_index(&cx, &procs_items, command.is_some())?;
    let (tables, kinds) = process_tables(&cx, &procs_items, &defaults)?;
    let mut procs = Vec::new();
    for (i, ((name, span, item), items)) in procs_items.iter().zip(&tables).enumerate() {
        let table = process::Table {
            cx: &cx,
            name,
            span,
            table: item,
            items,
            defaults: &defaults,
            index: &index,
            oneshot: &kinds,
            me: i,
            env,
            log_dir: &global.log_dir,
        };
        let spec = table.spec()?;
        if spec.tty
            && let Some(other) = procs
                .iter()
                .find(|o: &&ProcSpec| o.tty)
                .or(command.is_some().then_some(&spec))
        {
            let with = if other.name == spec.name {
                "the `-- COMMAND` process".to_string()
            } else {
                format!("process {}", other.name)
            };
            return Err(cx.err(
                span,
                &format!("process.{name}.tty"),
                format!("{with} has the terminal already: one process at most"),
            ));
        }
        for l in &spec.listen {
            if let Some(other) = procs
                .iter()
                .find(|o: &&ProcSpec| o.listen.iter().any(|x| x.addr == l.addr))
            {
                return Err(cx.err(
                    span,
                    &format!("process.{name}.listen"),
                    format!(
                        "{} is bound by process {} already: one socket, one process",
                        l.addr, other.name
                    ),
                ));
            }
        }
        procs.push(spec);
    }
    global.syslog = parse_syslog(&cx, get("podinit"), &index, &kinds, env, &global.log_dir)?;
    if let Some(argv) = command {
        let stop_timeout = match lookup(&[], &defaults, "stop_timeout") {
            Some(i) => i.duration(&cx)?,
            None => DEFAULT_STOP_TIMEOUT,
        };
        procs.push(command_after_all(argv, &kinds, stop_timeout)?);
    }
    if procs.is_empty() {
        return Err(ConfigError(format!(
            "{file}: the config defines no process; add a [process.NAME] table or give a command after `--`"
        )));
    }
    let explicit: Vec<bool> = (0..procs.len())
        .map(|i| {
            tables
                .get(i)
                .and_then(|items| lookup(items, &defaults, "forward_signals"))
                .is_some()
        })
        .collect();
    let (mut procs, explicit) =
        replicas::expand(procs, explicit).map_err(|e| ConfigError(format!("{file}: {e}")))?;
    pod_wide_rules(&mut procs, &explicit);
    // The `-- COMMAND` waits for every oneshot but the scheduled ones.
    let scheduled: Vec<bool> = procs.iter().map(|p| p.schedule.is_some()).collect();
    if let Some(cmd) = procs.iter_mut().find(|p| p.from_command_line) {
        cmd.deps.retain(|d| !scheduled[d.on]);
    }
    for (i, p) in procs.iter().enumerate().take(procs_items.len()) {
        if let Some(d) = p.deps.iter().find(|d| procs[d.on].schedule.is_some()) {
            let (_, span, item) = &procs_items[i];
            return Err(cx.err(
                span,
                &format!("{}.depends_on", item.key),
                format!(
                    "{} is a scheduled job: nothing may wait for it (it runs only at its times)",
                    procs[d.on].name
                ),
            ));
        }
    }
    let plan = plan::levels(&dependency_lists(&procs)).map_err(|cycle| {
        let (_, span, item) = &procs_items[cycle[0]];
        let names: Vec<&str> = cycle.iter().map(|&i| procs[i].name.as_str()).collect();
        cx.err(
            span,
            &format!("{}.depends_on", item.key),
            format!("dependency cycle: {} -> {}", names.join(" -> "), names[0]),
        )
    })?;
    Ok(Config {
        source: Some(file),
        specs: Vec::new(),
        time_zone: procs
            .iter()
            .any(|p| p.schedule.is_some())
            .then(|| schedule::zone_source(env)),
        provenance,
        global,
        procs,
        plan,
        identity_at: cx.identity_at.take(),
    })
}

/// `[podinit]`, over the defaults of this environment.
/// `[podinit] cgroups`.
fn cgroup_mode(cx: &Ctx, item: &read::Item) -> Result<CgroupMode, ConfigError> {
    Ok(match item.string(cx)? {
        "auto" => CgroupMode::Auto,
        "best-effort" => CgroupMode::BestEffort,
        "off" => CgroupMode::Off,
        other => {
            return Err(item.bad(
                cx,
                format!("{other:?}: expected \"auto\" (the default), \"best-effort\" or \"off\""),
            ));
        }
    })
}

/// Long on purpose: one arm per `[podinit]` key, in the docs' order.
fn parse_global(
    cx: &Ctx,
    item: Option<&read::Item>,
    env: EnvLookup,
) -> Result<Global, ConfigError> {
    let mut global = Global {
        shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
        log_dir: default_log_dir(env),
        control_socket: Some(default_control_socket(env)),
        http: None,
        syslog: None,
        forward_only: false,
        cgroups: CgroupMode::Auto,
        all_mains: false,
    };
    let Some(item) = item else {
        return Ok(global);
    };
    let items = item.table(cx)?;
    check_keys(cx, &items, GLOBAL_KEYS)?;
    for (name, _, item) in &items {
        match *name {
            "shutdown_timeout" => global.shutdown_timeout = item.duration(cx)?,
            "control_socket" => {
                let v = item.string(cx)?;
                global.control_socket = if v.is_empty() {
                    None
                } else {
                    Some(units::expand_vars(v, env).map_err(|e| item.bad(cx, e))?)
                };
            }
            "log_dir" => {
                let v = item.string(cx)?;
                if v.is_empty() {
                    return Err(item.bad(cx, "must not be empty"));
                }
                global.log_dir = units::expand_vars(v, env).map_err(|e| item.bad(cx, e))?;
            }
            "syslog" => {} // read with the processes (its targets may name one)
            "cgroups" => global.cgroups = cgroup_mode(cx, item)?,
            "pod_ends" => {
                global.all_mains = match item.string(cx)? {
                    "first-main" => false,
                    "all-mains" => true,
                    other => {
                        return Err(item.bad(
                            cx,
                            format!(
                                "{other:?}: expected \"first-main\" (the default) or \"all-mains\""
                            ),
                        ));
                    }
                }
            }
            "http" => {
                let v = item.string(cx)?;
                global.http = Some(v.parse().map_err(|_| {
                    item.bad(
                        cx,
                        format!("{v:?} is not an IP address and port, as in \"127.0.0.1:8558\" or \"0.0.0.0:8558\""),
                    )
                })?);
            }
            _ => {
                item.string(cx)?;
            }
        }
    }
    Ok(global)
}

/// `[podinit] syslog`: `true` (at `/dev/log`), a path, or a table with
/// `path` and the output keys of a process (`stdout`, `log_format`, ...).
/// Long on purpose: three forms of one key, each checked where it is read
/// so every error names the key at fault.
fn parse_syslog(
    cx: &Ctx,
    podinit: Option<&read::Item>,
    index: &HashMap<String, usize>,
    oneshot: &[bool],
    env: EnvLookup,
    log_dir: &str,
) -> Result<Option<Syslog>, ConfigError> {
    let Some(items) = podinit.map(|p| p.table(cx)).transpose()? else {
        return Ok(None);
    };
    let Some((_, span, item)) = items.iter().find(|(n, _, _)| *n == "syslog") else {
        return Ok(None);
    };
    let (path, entries) = match item.val.get_ref() {
        DeValue::Boolean(false) => return Ok(None),
        DeValue::Boolean(true) => (DEFAULT_SYSLOG_PATH.to_string(), Vec::new()),
        DeValue::String(p) => (p.to_string(), Vec::new()),
        DeValue::Table(_) => {
            let entries = item.table(cx)?;
            read::check_keys(cx, &entries, read::SYSLOG_KEYS)?;
            let path = match entries.iter().find(|(n, _, _)| *n == "path") {
                Some((_, _, p)) => p.string(cx)?.to_string(),
                None => DEFAULT_SYSLOG_PATH.to_string(),
            };
            (path, entries)
        }
        _ => return Err(item.wrong_type(cx, "true, a socket path, or a table")),
    };
    if !path.starts_with('/') {
        return Err(item.bad(
            cx,
            format!("{path:?}: the socket path must be absolute, as in \"/dev/log\""),
        ));
    }
    if index.contains_key(SYSLOG_NAME) {
        return Err(item.bad(
            cx,
            "the log source of syslog is named `syslog`, as is a process here: rename the process",
        ));
    }
    let table = process::Table {
        cx,
        name: SYSLOG_NAME,
        span,
        table: item,
        items: &entries,
        defaults: &[],
        index,
        oneshot,
        me: usize::MAX,
        env,
        log_dir,
    };
    let out = table.output()?;
    let mut spec = command_proc(Vec::new(), Vec::new(), DEFAULT_STOP_TIMEOUT);
    spec.name = SYSLOG_NAME.into();
    spec.from_command_line = false;
    spec.stdout = out.stdout;
    spec.stderr = Target::Null;
    spec.log_format = out.log_format;
    spec.log_timestamps = out.log_timestamps;
    spec.log_max_size = out.log_max_size;
    spec.log_max_files = out.log_max_files;
    Ok(Some(Syslog { path, output: spec }))
}

/// Where `syslog = true` listens.
pub const DEFAULT_SYSLOG_PATH: &str = "/dev/log";

/// The entries of every process table, in file order.
type Tables<'v, 'i> = Vec<Vec<read::Entry<'v, 'i>>>;

/// Each process's table, keys checked, and whether it is a oneshot (the
/// default conditions of `depends_on` need that of every process first).
fn process_tables<'v, 'i>(
    cx: &Ctx,
    procs: &[read::Entry<'v, 'i>],
    defaults: &[read::Entry<'v, 'i>],
) -> Result<(Tables<'v, 'i>, Vec<bool>), ConfigError> {
    let mut kinds = Vec::new();
    let mut tables = Vec::new();
    for (_, _, item) in procs {
        let items = item.table(cx)?;
        check_keys(cx, &items, PROCESS_KEYS)?;
        kinds.push(match lookup(&items, defaults, "oneshot") {
            Some(i) => i.boolean(cx)?,
            None => false,
        });
        tables.push(items);
    }
    Ok((tables, kinds))
}

/// Process name → index, every name checked.
fn process_index(
    cx: &Ctx,
    procs: &[read::Entry],
    with_command: bool,
) -> Result<HashMap<String, usize>, ConfigError> {
    let mut index = HashMap::new();
    for (i, (name, span, item)) in procs.iter().enumerate() {
        if !valid_name(name) {
            return Err(cx.err(
                span,
                &item.key,
                "a process name may use letters, digits, '_', '-' and '.' (up to 64, not starting with '.' or '-', which the verbs would take for an option)",
            ));
        }
        if with_command && *name == COMMAND_NAME {
            return Err(cx.err(
                span,
                &item.key,
                "the name `main` is taken by the command given after `--`; rename this process",
            ));
        }
        index.insert(name.to_string(), i);
    }
    Ok(index)
}

/// The `-- COMMAND` process: a main that waits for every other process to
/// be ready (long-running) or completed (oneshot).
fn command_after_all(
    argv: Vec<std::ffi::OsString>,
    oneshot: &[bool],
    stop_timeout: Duration,
) -> Result<ProcSpec, ConfigError> {
    if argv.is_empty() {
        return Err(ConfigError("the command after `--` is empty".into()));
    }
    let deps = oneshot
        .iter()
        .enumerate()
        .map(|(on, &o)| Dep {
            on,
            cond: if o {
                Condition::Completed
            } else {
                Condition::Ready
            },
        })
        .collect();
    Ok(command_proc(argv, deps, stop_timeout))
}

/// Rules that need the whole pod: default forwarding goes to the mains, or
/// to everyone when there is no main (`explicit`: the process set its
/// own); a producer depends on its `process:` consumer being started, so
/// the consumer starts first and stops last.
fn pod_wide_rules(procs: &mut [ProcSpec], explicit: &[bool]) {
    let any_main = procs.iter().any(|p| p.main);
    for (p, &explicit) in procs.iter_mut().zip(explicit) {
        if !explicit && (p.main || !any_main) {
            p.forward_signals = all_forwardable();
        }
    }
    // A sidecar scores no higher than its main for the OOM killer (as a
    // Kubernetes sidecar's oom_score_adj follows its pod's containers):
    // one without a score of its own takes the lowest main's.
    let main_score = procs
        .iter()
        .filter(|p| p.main)
        .filter_map(|p| p.resources.oom_score_adj)
        .min();
    if let Some(score) = main_score {
        for p in procs
            .iter_mut()
            .filter(|p| !p.main && p.resources.oom_score_adj.is_none())
        {
            p.resources.oom_score_adj = Some(score);
            p.resources.oom_from_main = true;
        }
    }
    for p in procs.iter_mut() {
        for t in [p.stdout.clone(), p.stderr.clone()] {
            if let Target::Process(on) = t
                && !p.deps.iter().any(|d| d.on == on)
            {
                p.deps.push(Dep {
                    on,
                    cond: Condition::Started,
                });
            }
        }
    }
}

/// Each process's dependencies as plain indices, for [`plan::levels`].
pub fn dependency_lists(procs: &[ProcSpec]) -> Vec<Vec<usize>> {
    procs
        .iter()
        .map(|p| p.deps.iter().map(|d| d.on).collect())
        .collect()
}

#[cfg(test)]
mod tests;
