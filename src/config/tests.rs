use super::read::similar;
use super::*;

fn env(k: &str) -> Option<String> {
    match k {
        "DB_NAME" => Some("shop".into()),
        "HOME" => Some("/root".into()),
        _ => None,
    }
}

fn ok(text: &str) -> Config {
    parse(text, "pod.toml", None, &env).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> String {
    parse(text, "pod.toml", None, &env).unwrap_err().0
}

#[test]
fn the_spec_example_parses_as_far_as_this_version_goes() {
    let c = ok(r#"
[podinit]
shutdown_timeout = "30s"

[defaults]
stop_timeout = "10s"

[process.db]
command = ["postgres", "-D", "/var/lib/postgresql/data"]
stop_signal = "INT"

[process.migrate]
command = "app migrate --all"
oneshot = true
depends_on = ["db"]

[process.app]
command = ["app", "serve"]
main = true
depends_on = { migrate = "completed", db = "ready" }
env = { PORT = "8080", DATABASE_URL = "postgres://localhost/${DB_NAME}" }
"#);
    let names: Vec<&str> = c.procs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["db", "migrate", "app"], "file order is kept");
    assert_eq!(c.procs[0].stop_signal, libc::SIGINT);
    assert_eq!(c.procs[1].argv, ["app", "migrate", "--all"]);
    assert_eq!(
        c.procs[1].deps,
        vec![Dep {
            on: 0,
            cond: Condition::Ready
        }]
    );
    assert_eq!(
        c.procs[2].deps,
        vec![
            Dep {
                on: 1,
                cond: Condition::Completed
            },
            Dep {
                on: 0,
                cond: Condition::Ready
            }
        ]
    );
    assert_eq!(
        c.procs[2].env[1],
        ("DATABASE_URL".into(), "postgres://localhost/shop".into())
    );
    assert_eq!(c.plan.levels, vec![vec![0], vec![1], vec![2]]);
    assert_eq!(c.global.shutdown_timeout, Duration::from_secs(30));
    // Forwarding defaults: the main gets every forwardable signal, others none.
    assert!(c.procs[0].forward_signals.is_empty());
    assert!(c.procs[2].forward_signals.contains(&libc::SIGUSR1));
    assert!(!c.procs[2].forward_signals.contains(&libc::SIGTERM));
}

#[test]
fn defaults_apply_and_process_keys_win() {
    let c = ok(r#"
[defaults]
stop_timeout = 3
stop_signal = "QUIT"
[process.a]
command = "a"
[process.b]
command = "b"
stop_timeout = "250ms"
"#);
    assert_eq!(c.procs[0].stop_timeout, Duration::from_secs(3));
    assert_eq!(c.procs[0].stop_signal, libc::SIGQUIT);
    assert_eq!(c.procs[1].stop_timeout, Duration::from_millis(250));
}

#[test]
fn command_strings_split_shell_style_and_expand_after_splitting() {
    let c = ok(r#"
[process.a]
command = "sh -c 'echo \"$$HOME is ${HOME}\"' ${GREETING}"
env = { GREETING = "hello world" }
"#);
    assert_eq!(
        c.procs[0].argv,
        ["sh", "-c", "echo \"$HOME is /root\"", "hello world"]
    );
}

#[test]
fn no_main_means_everyone_gets_forwarded_signals() {
    let c = ok("[process.a]\ncommand = \"a\"\n[process.b]\ncommand = \"b\"\n");
    assert!(
        c.procs
            .iter()
            .all(|p| p.forward_signals == all_forwardable())
    );
}

#[test]
fn the_command_line_adds_a_main_after_everything() {
    let c = parse(
        "[process.db]\ncommand = \"db\"\n[process.init]\ncommand = \"i\"\noneshot = true\n",
        "pod.toml",
        Some(vec!["app".into(), "--flag".into()]),
        &env,
    )
    .unwrap();
    let m = &c.procs[2];
    assert_eq!(m.name, "main");
    assert!(m.main && m.from_command_line);
    assert_eq!(
        m.deps,
        vec![
            Dep {
                on: 0,
                cond: Condition::Ready
            },
            Dep {
                on: 1,
                cond: Condition::Completed
            }
        ]
    );
    assert_eq!(c.plan.levels.last().unwrap(), &vec![2]);
    let e = parse(
        "[process.main]\ncommand = \"x\"\n",
        "pod.toml",
        Some(vec!["y".into()]),
        &env,
    )
    .unwrap_err();
    assert!(
        e.0.contains("pod.toml:1: process.main: the name `main` is taken"),
        "{e}"
    );
}

/// Every error names the file, the line and the key.
#[test]
fn errors_name_file_line_and_key() {
    let cases: &[(&str, &str)] = &[
        (
            "[process.a]\ncommand = \"a\"\nstop_timout = \"1s\"\n",
            "pod.toml:3: process.a.stop_timout: unknown key; did you mean `stop_timeout`?",
        ),
        (
            "[process.a]\ncommand = \"a\"\nstdout = \"syslog\"\n",
            "pod.toml:3: process.a.stdout: unknown target \"syslog\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\nstdout = \"process:a\"\n",
            "pod.toml:3: process.a.stdout: a process cannot write to its own stdin",
        ),
        (
            "[process.a]\ncommand = \"a\"\nstdout = \"stdout\"\n",
            "pod.toml:3: process.a.stdout: unknown target \"stdout\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\nlog_max_size = \"10XB\"\n",
            "pod.toml:3: process.a.log_max_size: bad size \"10XB\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\nlog_format = \"xml\"\n",
            "pod.toml:3: process.a.log_format: unknown format \"xml\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\nrestart = \"sometimes\"\n",
            "pod.toml:3: process.a.restart: unknown policy \"sometimes\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\nrestart_delay = \"2s\"\nrestart_delay_max = \"1s\"\n",
            "pod.toml:4: process.a.restart_delay_max: must not be less than restart_delay",
        ),
        (
            "[process.a]\ncommand = \"a\"\nmax_restarts = -1\n",
            "pod.toml:3: process.a.max_restarts: expected a whole number",
        ),
        (
            "[process.a]\ncommand = \"a\"\nready = { tcp = \"localhost\" }\n",
            "pod.toml:3: process.a.ready.tcp: \"localhost\" needs a port",
        ),
        (
            "[process.a]\ncommand = \"a\"\nready = { tcp = \"h:1\", file = \"/x\" }\n",
            "pod.toml:3: process.a.ready.",
        ),
        (
            "[process.a]\ncommand = \"a\"\nready = { interval = \"1s\" }\n",
            "pod.toml:3: process.a.ready: a probe needs one of",
        ),
        (
            "[process.a]\ncommand = \"a\"\nhealth = { sd_notify = true }\n",
            "pod.toml:3: process.a.health.sd_notify: this probe works for `ready` only",
        ),
        (
            "[process.a]\ncommand = \"a\"\nready = { notify_fd = 1 }\n",
            "pod.toml:3: process.a.ready.notify_fd: expected an fd number from 3",
        ),
        (
            "[process.a]\ncommand = \"a\"\nready = { http = \"https://x/\" }\n",
            "pod.toml:3: process.a.ready.http: \"https://x/\" must start with http://",
        ),
        (
            "[process.a]\ncommand = \"a\"\nhealth = { file = \"/x\", failures = 0 }\n",
            "pod.toml:3: process.a.health.failures: expected a whole number of at least 1",
        ),
        (
            "[process.a]\ncommand = \"a\"\numask = \"999\"\n",
            "pod.toml:3: process.a.umask: expected an octal mode",
        ),
        (
            "[process.a]\ncommand = \"a\"\nuser = \"\"\n",
            "pod.toml:3: process.a.user: must not be empty",
        ),
        (
            "[process.a]\ncommand = \"a\"\nstop_timeout = \"ten\"\n",
            "pod.toml:3: process.a.stop_timeout: bad duration \"ten\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\nstop_signal = \"TERMINATE\"\n",
            "pod.toml:3: process.a.stop_signal: unknown signal \"TERMINATE\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\ndepends_on = [\"b\"]\n",
            "pod.toml:3: process.a.depends_on[0]: unknown process \"b\" (defined: a)",
        ),
        (
            "[process.a]\ncommand = \"a\"\ndepends_on = [\"b\"]\n[process.b]\ncommand = \"b\"\ndepends_on = [\"a\"]\n",
            "pod.toml:1: process.a.depends_on: dependency cycle: a -> b -> a",
        ),
        (
            "[process.a]\ncommand = \"a\"\ndepends_on = [\"a\"]\n",
            "pod.toml:3: process.a.depends_on[0]: dependency cycle: a -> a",
        ),
        (
            "[process.a]\ncommand = \"a\"\n[process.b]\ncommand = \"b\"\ndepends_on = { a = \"done\" }\n",
            "pod.toml:5: process.b.depends_on.a: unknown condition \"done\"",
        ),
        (
            "[process.a]\ncommand = \"a\"\n[process.b]\ncommand = \"b\"\ndepends_on = { a = \"completed\" }\n",
            "pod.toml:5: process.b.depends_on.a: \"a\" is not a oneshot",
        ),
        (
            "[process.a]\nmain = true\n",
            "pod.toml:1: process.a: `command` is missing",
        ),
        (
            "[process.a]\ncommand = \"\"\n",
            "pod.toml:2: process.a.command: the command is empty",
        ),
        (
            "[process.a]\ncommand = \"sh -c 'oops\"\n",
            "pod.toml:2: process.a.command: unbalanced quotes",
        ),
        (
            "[process.a]\ncommand = 5\n",
            "pod.toml:2: process.a.command: expected an argv array or a command string, found an integer",
        ),
        (
            "[process.a]\ncommand = [\"a\", 1]\n",
            "pod.toml:2: process.a.command[1]: expected a string, found an integer",
        ),
        (
            "[process.a]\ncommand = \"a\"\nmain = \"yes\"\n",
            "pod.toml:3: process.a.main: expected true or false, found a string",
        ),
        (
            "[process.a]\ncommand = \"a ${NOPE}\"\n",
            "pod.toml:2: process.a.command: variable NOPE is not set",
        ),
        (
            "[process.a]\ncommand = \"a\"\nenv = { X = \"${NOPE}\" }\n",
            "pod.toml:3: process.a.env.X: variable NOPE is not set",
        ),
        (
            "[process.a]\ncommand = \"a\"\nforward_signals = [\"TERM\"]\n",
            "pod.toml:3: process.a.forward_signals[0]: SIGTERM is handled by podinit itself",
        ),
        (
            "[process.a]\ncommand = \"a\"\nsuccess_codes = [256]\n",
            "pod.toml:3: process.a.success_codes[0]: an exit status goes from 0 to 255",
        ),
        (
            "[process.\"a b\"]\ncommand = \"a\"\n",
            "pod.toml:1: process.a b: a process name may use",
        ),
        (
            "[podinit]\nshutdown_timeout = -1\n[process.a]\ncommand = \"a\"\n",
            "pod.toml:2: podinit.shutdown_timeout: a duration cannot be negative",
        ),
        (
            "[podinit]\nlog_level = 1\n",
            "pod.toml:2: podinit.log_level: unknown key",
        ),
        (
            "[proces.a]\ncommand = \"a\"\n",
            "pod.toml:1: proces: unknown key; did you mean `process`?",
        ),
        (
            "[defaults]\nstop_timeout = \"1x\"\n[process.a]\ncommand = \"a\"\n",
            "pod.toml:2: defaults.stop_timeout: bad duration",
        ),
        (
            "[process.a]\ncommand = \"a\"\n[process.a]\ncommand = \"b\"\n",
            "pod.toml:3: invalid TOML:",
        ),
        ("[process.a\ncommand = \"a\"\n", "pod.toml:1: invalid TOML:"),
        ("", "pod.toml: the config defines no process"),
    ];
    for (text, want) in cases {
        let got = err(text);
        assert!(
            got.starts_with(want),
            "for\n{text}\nwant: {want}\ngot:  {got}"
        );
    }
}

#[test]
fn describe_shows_plan_and_settings() {
    let c = ok(
        "[process.a]\ncommand = \"a\"\n[process.b]\ncommand = [\"b\", \"x y\"]\ndepends_on = [\"a\"]\nstop_signal = 2\n",
    );
    let d = describe(&c);
    assert!(d.contains("start order"), "{d}");
    assert!(
        d.contains("  1. a\n  2. b\nstop order (the reverse):\n  1. b\n  2. a\n"),
        "{d}"
    );
    assert!(d.contains("command = [\"b\", \"x y\"]"), "{d}");
    assert!(d.contains("depends_on = a (ready)"), "{d}");
    assert!(d.contains("stop_signal = SIGINT"), "{d}");
}

#[test]
fn worst_case_shutdown_sums_the_slowest_of_each_stop_level_plus_the_sweep() {
    // Levels: [a, b] then [c]; the slowest of the first is 4s, c is 1s, and
    // the stray sweep waits the longest stop_timeout (4s): 9s.
    let text = r#"
[process.a]
command = "a"
stop_timeout = "4s"
[process.b]
command = "b"
stop_timeout = "2s"
[process.c]
command = "c"
stop_timeout = "1s"
depends_on = ["a", "b"]
"#;
    let c = ok(text);
    assert_eq!(worst_case_shutdown(&c), Duration::from_secs(9));
    assert!(describe(&c).contains("worst-case shutdown: 9s\n"));
    // Capped by shutdown_timeout.
    let c = ok(&format!("[podinit]\nshutdown_timeout = \"5s\"\n{text}"));
    assert_eq!(worst_case_shutdown(&c), Duration::from_secs(5));
    // Past docker stop's default grace, check says so.
    let c = ok("[process.a]\ncommand = \"a\"\nstop_timeout = \"20s\"\n");
    let d = describe(&c);
    assert!(
        d.contains("worst-case shutdown: 30s (more than docker stop's 10s"),
        "{d}"
    );
}

#[test]
fn similar_key_detection() {
    assert!(similar("stop_timeout", "stop_timout"));
    assert!(similar("depends_on", "depends-on"));
    assert!(similar("main", "mainn"));
    assert!(!similar("main", "command"));
}

#[test]
fn lifecycle_keys_and_their_defaults() {
    let c = ok(r#"
[process.svc]
command = "svc"
[process.job]
command = "job"
oneshot = true
[process.app]
command = "app"
main = true
restart = "on-failure"
restart_delay = "200ms"
restart_delay_max = "800ms"
max_restarts = 3
critical = true
ready = { http = "http://localhost:8080/healthz", interval = "500ms", timeout = "2s", initial_delay = "1s" }
health = { exec = ["check", "--quick"], failures = 2 }
user = 1000
group = "www"
working_dir = "/srv"
umask = "027"
env_file = "/etc/app.env"
"#);
    assert_eq!(c.procs[0].restart, Restart::Always, "long-running default");
    assert_eq!(c.procs[1].restart, Restart::Never, "oneshot default");
    let a = &c.procs[2];
    assert_eq!(a.restart, Restart::OnFailure);
    assert_eq!(
        (a.restart_delay, a.restart_delay_max),
        (Duration::from_millis(200), Duration::from_millis(800))
    );
    assert_eq!(a.max_restarts, Some(3));
    assert!(a.critical);
    let r = a.ready.as_ref().unwrap();
    assert_eq!(
        r.kind,
        ProbeKind::Http {
            host: "localhost".into(),
            port: 8080,
            path: "/healthz".into()
        }
    );
    assert_eq!(
        (r.interval, r.timeout, r.initial_delay),
        (
            Duration::from_millis(500),
            Duration::from_secs(2),
            Duration::from_secs(1)
        )
    );
    let h = a.health.as_ref().unwrap();
    assert_eq!(
        h.kind,
        ProbeKind::Exec(vec!["check".into(), "--quick".into()])
    );
    assert_eq!(h.failures, 2);
    assert_eq!(a.user.as_deref(), Some("1000"));
    assert_eq!(a.group.as_deref(), Some("www"));
    assert_eq!(a.working_dir.as_deref(), Some("/srv"));
    assert_eq!(a.umask, Some(0o027));
    assert_eq!(a.env_file.as_deref(), Some("/etc/app.env"));
    let d = describe(&c);
    assert!(
        d.contains("restart = on-failure (delay 200ms doubling to 800ms, max_restarts 3)"),
        "{d}"
    );
    assert!(
        d.contains(
            "ready = http://localhost:8080/healthz every 500ms (timeout 2s, initial_delay 1s)"
        ),
        "{d}"
    );
    assert!(d.contains("umask = 027"), "{d}");
}

#[test]
fn every_key_has_a_row_in_the_reference_docs() {
    let docs = include_str!("../../docs/configuration.md");
    // A key is documented where a table row's first cell or a heading names it.
    let documented = |key: &str| {
        let name = format!("`{key}`");
        docs.lines().any(|l| {
            (l.starts_with("| ") && l.split(" | ").next().unwrap_or("").contains(&name))
                || (l.starts_with('#') && l.contains(&name))
        })
    };
    for key in PROCESS_KEYS.iter().chain(GLOBAL_KEYS) {
        assert!(
            documented(key),
            "docs/configuration.md does not document `{key}`"
        );
    }
    for kind in probe::KINDS {
        assert!(
            docs.contains(&format!("| `{kind} ")),
            "docs/configuration.md has no row for the `{kind}` probe"
        );
    }
    for key in ["interval", "timeout", "initial_delay", "failures"] {
        assert!(
            docs.contains(&format!("`{key}`")),
            "probe key `{key}` undocumented"
        );
    }
}

#[test]
fn environments_defaults_and_names() {
    // A pod written with defaults fits docker stop's 10 s.
    let c = ok("[process.a]\ncommand = \"sleep 1\"\n");
    assert!(worst_case_shutdown(&c) <= Duration::from_secs(10));
    assert!(!describe(&c).contains("more than docker stop"));
    // Names the verbs could take for an option are refused.
    let e = err("[process.-x]\ncommand = \"sleep 1\"\n");
    assert!(e.contains("process.-x") && e.contains("'-'"), "{e}");
    // A duplicate key is named.
    let e = err("[process.a]\ncommand = \"sleep 1\"\ncommand = \"sleep 2\"\n");
    assert!(
        e.starts_with("pod.toml:3:") && e.contains("`command`"),
        "{e}"
    );
}

#[test]
fn the_log_dir_default_is_never_shared() {
    let with = |vars: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(default_log_dir_as(0, &with(&[])), "/var/log/podinit");
    assert_eq!(
        default_log_dir_as(1000, &with(&[("HOME", "/home/u/")])),
        "/home/u/.local/state/podinit"
    );
    assert_eq!(
        default_log_dir_as(1000, &with(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])),
        "/s/podinit"
    );
    // HOME=/ (giving //.local/...), a relative or missing HOME: no default.
    for vars in [
        &[("HOME", "/")][..],
        &[("HOME", "rel")],
        &[],
        &[("XDG_STATE_HOME", "x")],
    ] {
        assert_eq!(default_log_dir_as(1000, &with(vars)), "", "{vars:?}");
    }
}

#[test]
fn the_control_socket_default_is_never_a_bare_name_in_a_shared_dir() {
    let none = |_: &str| None;
    let tmpdir = |k: &str| (k == "TMPDIR").then(|| "/scratch/".to_string());
    let xdg = |k: &str| (k == "XDG_RUNTIME_DIR").then(|| "/run/user/7".to_string());
    assert_eq!(
        default_control_socket_as(0, false, &none),
        "/run/podinit.sock"
    );
    assert_eq!(
        default_control_socket_as(7, true, &xdg),
        "/run/user/7/podinit.sock"
    );
    // A writable /run (a Kubernetes emptyDir) gets a directory of our own.
    assert_eq!(
        default_control_socket_as(7, true, &none),
        "/run/podinit-7/podinit.sock"
    );
    assert_eq!(
        default_control_socket_as(7, false, &none),
        "/tmp/podinit-7/podinit.sock"
    );
    assert_eq!(
        default_control_socket_as(7, false, &tmpdir),
        "/scratch/podinit-7/podinit.sock"
    );
}

fn layered(files: &[(&str, &str)]) -> Result<Config, String> {
    let texts: Vec<(String, String)> = files
        .iter()
        .map(|(f, t)| (f.to_string(), t.to_string()))
        .collect();
    parse_layers(&texts, None, &env).map_err(|e| e.0)
}

const BASE: &str = r#"[podinit]
shutdown_timeout = "20s"

[defaults]
stop_timeout = "3s"

[process.cache]
command = "cache --port 1"
env = { A = "1", B = "2" }
ready = { tcp = "127.0.0.1:1" }

[process.shipper]
command = ["ship", "--all"]
depends_on = ["cache"]

[process.app]
command = "app"
main = true
"#;

#[test]
fn layers_merge_key_by_key_in_order() {
    let app = r#"[defaults]
stop_timeout = "4s"

[process.cache.env]
B = "two"
C = "3"

[process.cache.ready]
timeout = "9s"

[process.shipper]
command = ["ship"]

[process.metrics]
command = "metrics"
"#;
    let cfg = layered(&[("base.toml", BASE), ("d/10-app.toml", app)]).unwrap();
    let names: Vec<&str> = cfg.procs.iter().map(|p| p.name.as_str()).collect();
    // A process keeps the place of its first definition; new ones follow.
    assert_eq!(names, ["cache", "shipper", "app", "metrics"]);
    let cache = &cfg.procs[0];
    let env: Vec<(&str, &str)> = cache
        .env
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(env, [("A", "1"), ("B", "two"), ("C", "3")]);
    let ready = cache.ready.as_ref().unwrap();
    assert_eq!(ready.timeout, Duration::from_secs(9));
    assert!(
        matches!(ready.kind, ProbeKind::Tcp { .. }),
        "the probe kept its kind"
    );
    // Arrays are replaced whole; [defaults] and [podinit] merge key by key.
    assert_eq!(cfg.procs[1].argv, ["ship"]);
    assert_eq!(cfg.procs[1].stop_timeout, Duration::from_secs(4));
    assert_eq!(cfg.global.shutdown_timeout, Duration::from_secs(20));
    assert_eq!(cfg.source.as_deref(), Some("base.toml, d/10-app.toml"));
}

#[test]
fn layers_show_where_each_setting_comes_from() {
    let app = "[process.cache.env]\nB = \"two\"\n\n[process.shipper]\nenabled = false\n";
    let cfg = layered(&[("base.toml", BASE), ("app.toml", app)]).unwrap();
    let at = |key: &str| {
        cfg.provenance
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| a.as_str())
            .unwrap_or_else(|| panic!("{key} in {:?}", cfg.provenance))
    };
    assert_eq!(at("podinit.shutdown_timeout"), "base.toml:2");
    assert_eq!(at("process.cache.env.A"), "base.toml:9");
    assert_eq!(at("process.cache.env.B"), "app.toml:2");
    assert_eq!(at("process.cache.ready.tcp"), "base.toml:10");
    assert_eq!(
        at("process.shipper (removed: enabled = false)"),
        "app.toml:5"
    );
    let shown = describe(&cfg);
    assert!(
        shown
            .lines()
            .any(|l| l.starts_with("  process.cache.env.B ") && l.ends_with(" app.toml:2")),
        "{shown}"
    );
    // One file: nothing to tell apart.
    assert!(ok(BASE).provenance.is_empty());
}

#[test]
fn layers_remove_with_enabled_false_and_refuse_a_silent_vanishing() {
    let off = "[process.shipper]\nenabled = false\n";
    let cfg = layered(&[("base.toml", BASE), ("off.toml", off)]).unwrap();
    assert!(cfg.procs.iter().all(|p| p.name != "shipper"));
    // A later file may bring it back.
    let on = "[process.shipper]\nenabled = true\n";
    let cfg = layered(&[("base.toml", BASE), ("off.toml", off), ("on.toml", on)]).unwrap();
    assert_eq!(cfg.procs[1].argv, ["ship", "--all"]);
    // Removing what another process needs names both files.
    let e = layered(&[
        ("base.toml", BASE),
        ("x.toml", "[process.cache]\nenabled = false\n"),
    ])
    .unwrap_err();
    assert_eq!(
        e,
        "base.toml:14: process.shipper.depends_on[0]: process \"cache\" was removed by `enabled = false` at x.toml:2; remove this reference too (in a later file), or keep \"cache\""
    );
    let e = layered(&[
        ("base.toml", BASE),
        ("x.toml", "[defaults]\nenabled = false\n"),
    ])
    .unwrap_err();
    assert!(
        e.starts_with("x.toml:2: defaults.enabled: `enabled` belongs to a process table"),
        "{e}"
    );
    let e = layered(&[
        ("base.toml", BASE),
        ("x.toml", "[process.app]\nenabled = \"no\"\n"),
    ])
    .unwrap_err();
    assert_eq!(e, "x.toml:2: process.app.enabled: expected true or false");
}

#[test]
fn layer_errors_name_the_file_and_line_that_set_the_value() {
    let e = layered(&[
        ("base.toml", BASE),
        ("x.toml", "\n[process.cache]\nenv = \"A=1\"\n"),
    ])
    .unwrap_err();
    assert_eq!(
        e,
        "x.toml:3: process.cache.env: is a value here but a table in base.toml:9: a later file may change a key only with the same shape"
    );
    let e = layered(&[
        ("base.toml", BASE),
        ("x.toml", "[process.app]\nstop_timeout = \"soon\"\n"),
    ])
    .unwrap_err();
    assert!(e.starts_with("x.toml:2: process.app.stop_timeout: "), "{e}");
    let e = layered(&[("base.toml", BASE), ("x.toml", "[process.app\n")]).unwrap_err();
    assert!(e.starts_with("x.toml:1: invalid TOML: "), "{e}");
    // An error at the very end of a file is still that file's.
    let e = layered(&[("a.toml", "[process.a]\ncommand ="), ("b.toml", BASE)]).unwrap_err();
    assert!(e.starts_with("a.toml:2: invalid TOML: "), "{e}");
    // An unknown key in a later file is that file's.
    let e = layered(&[
        ("base.toml", BASE),
        ("x.toml", "[process.app]\nrestar = \"always\"\n"),
    ])
    .unwrap_err();
    assert!(
        e.starts_with("x.toml:2: process.app.restar: unknown key; did you mean `restart`?"),
        "{e}"
    );
}

#[test]
fn a_directory_is_its_toml_files_in_lexical_order() {
    let dir = std::env::temp_dir().join(format!("podinit-layers-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for f in [
        "20-b.toml",
        "10-a.toml",
        ".hidden.toml",
        "notes.txt",
        "3.toml",
    ] {
        std::fs::write(dir.join(f), "").unwrap();
    }
    let d = dir.to_string_lossy().into_owned();
    let files = layers::expand(&["/etc/x.toml".into(), format!("{d}/")], true).unwrap();
    let files: Vec<String> = files.iter().map(|p| p.to_string_lossy().into()).collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        files,
        [
            "/etc/x.toml".to_string(),
            format!("{d}/10-a.toml"),
            format!("{d}/20-b.toml"),
            format!("{d}/3.toml")
        ]
    );
}

#[test]
fn schedule_errors_name_the_key() {
    let job = |extra: &str| format!("[process.job]\ncommand = \"j\"\n{extra}\n");
    assert_eq!(
        err(&job("schedule = \"*/5 * * * *\"")),
        "pod.toml:3: process.job.schedule: only a oneshot may have a schedule (a scheduled job runs to completion at each due time); add oneshot = true"
    );
    assert_eq!(
        err(&job("oneshot = true\nschedule = \"61 * * * *\"")),
        "pod.toml:4: process.job.schedule: minute field \"61\": 61 is out of range 0-59"
    );
    assert_eq!(
        err(&job("oneshot = true\nschedule = \"0 0 30 2 *\"")),
        "pod.toml:4: process.job.schedule: \"0 0 30 2 *\" can never run: none of the months it names has those days of the month"
    );
    assert!(
        err(&job("oneshot = true\nschedule = \"0 0 31 4,6,9,11 *\"")).contains("can never run")
    );
    for fine in ["0 0 29 2 *", "0 0 30 2 1", "0 0 31 1-12 *"] {
        let ok = job(&format!("oneshot = true\nschedule = {fine:?}"));
        assert!(parse(&ok, "pod.toml", None, &env).is_ok(), "{fine}");
    }
    assert_eq!(
        err(&job("oneshot = true\nschedule = \"@every 0.5s\"")),
        "pod.toml:4: process.job.schedule: \"@every 0.5s\": the shortest interval is 1s"
    );
    assert!(
        err(&job("oneshot = true\nmain = true\nschedule = \"@daily\""))
            .contains("a main process cannot have a schedule")
    );
    assert!(
        err(&job(
            "oneshot = true\nrestart = \"always\"\nschedule = \"@daily\""
        ))
        .contains("restart = \"always\" would run")
    );
    let waits = format!(
        "{}[process.app]\ncommand = \"a\"\ndepends_on = [\"job\"]\n",
        job("oneshot = true\nschedule = \"@daily\"")
    );
    assert_eq!(
        err(&waits),
        "pod.toml:5: process.app.depends_on: job is a scheduled job: nothing may wait for it (it runs only at its times)"
    );
    // The `-- COMMAND` waits for the other oneshots, not for scheduled ones.
    let text = job("oneshot = true\nschedule = \"@daily\"");
    let cfg = parse(&text, "pod.toml", Some(vec!["app".into()]), &env).unwrap();
    assert!(cfg.procs[1].deps.is_empty());
    assert!(cfg.time_zone.is_some());
    assert!(describe(&cfg).contains("  schedule = \"@daily\""));
}

#[test]
fn an_unreadable_drop_in_directory_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("podinit-noread-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o000)).unwrap();
    let d = dir.to_string_lossy().into_owned();
    let got = layers::expand(std::slice::from_ref(&d), true);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    if crate::sys::euid() == 0 {
        return; // root reads it anyway; the non-root lane checks the error
    }
    let e = got.unwrap_err().0;
    assert!(
        e.starts_with(&format!("{d}: cannot read the config directory: ")),
        "{e}"
    );
    assert!(e.contains("Permission denied"), "{e}");
}

mod keys;
