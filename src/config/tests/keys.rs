//! The keys of this round: hooks, `start`, probe headers.

use super::*;

#[test]
fn hooks_parse_and_bad_ones_name_the_key() {
    let c = ok(r#"
[process.a]
command = "a"
post_start = { exec = "warm", timeout = "5s" }
pre_stop = { sleep = "2s" }
"#);
    let a = &c.procs[0];
    assert_eq!(
        a.post_start.as_deref().map(|h| h.timeout()),
        Some(Duration::from_secs(5))
    );
    assert_eq!(
        a.pre_stop.as_deref(),
        Some(&probe::Hook::Sleep(Duration::from_secs(2)))
    );
    for (hook, want) in [
        (
            "{ exec = \"x\", sleep = \"1s\" }",
            "process.a.pre_stop.sleep: a hook has exactly one of exec, http, tcp, sleep",
        ),
        (
            "{ timeout = \"1s\" }",
            "process.a.pre_stop: a hook has exactly one of",
        ),
        (
            "{ sleep = \"1s\", timeout = \"1s\" }",
            "process.a.pre_stop.timeout: a sleep hook takes no timeout",
        ),
        ("{ file = \"/x\" }", "process.a.pre_stop.file"),
        ("{ http = \"https://x/\" }", "process.a.pre_stop.http"),
    ] {
        let e = err(&format!(
            "[process.a]\ncommand = \"a\"\npre_stop = {hook}\n"
        ));
        assert!(e.contains(want), "{hook}: {e}");
    }
}

#[test]
fn start_is_auto_or_manual_and_never_manual_for_a_main() {
    let c = ok("[process.a]\ncommand = \"a\"\nstart = \"manual\"\n");
    assert!(c.procs[0].manual_start);
    let e = err("[process.a]\ncommand = \"a\"\nstart = \"later\"\n");
    assert!(
        e.contains("process.a.start: \"later\": expected \"auto\", \"manual\" or \"on-demand\""),
        "{e}"
    );
    let e = err("[process.a]\ncommand = \"a\"\nstart = \"on-demand\"\n");
    assert!(e.contains("process.a.start: needs `listen`"), "{e}");
    let e = err("[process.a]\ncommand = \"a\"\nmain = true\nstart = \"manual\"\n");
    assert!(
        e.contains("process.a.start: a main process starts with the pod"),
        "{e}"
    );
}

#[test]
fn http_probes_and_hooks_send_headers_and_nothing_can_be_smuggled() {
    let c = ok(r#"
[process.a]
command = "a"
ready = { http = "http://127.0.0.1:8080/ready", headers = { Authorization = "Bearer x" } }
"#);
    let r = c.procs[0].ready.as_deref().unwrap();
    assert_eq!(
        r.headers,
        [("Authorization".to_string(), "Bearer x".to_string())]
    );
    for (probe, want) in [
        (
            "{ tcp = \"h:1\", headers = { A = \"b\" } }",
            "process.a.ready.headers: only an `http` probe",
        ),
        (
            "{ http = \"http://h:1/\", headers = { A = \"b\\r\\nX: y\" } }",
            "process.a.ready.headers.A: a header value cannot hold a line break",
        ),
        (
            "{ http = \"http://h:1/\", headers = { \"A B\" = \"b\" } }",
            "is not an HTTP header name",
        ),
    ] {
        let e = err(&format!("[process.a]\ncommand = \"a\"\nready = {probe}\n"));
        assert!(e.contains(want), "{probe}: {e}");
    }
}

#[test]
fn replicas_expand_and_bad_ones_name_the_key() {
    let c = ok(r#"
[process.web]
command = "web --id {replica}"
replicas = 2
env = { LOG = "/tmp/web-{replica}.log" }
[process.after]
command = "after"
depends_on = ["web"]
"#);
    let names: Vec<&str> = c.procs.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["web-0", "web-1", "after"]);
    assert_eq!(c.procs[1].argv, ["web", "--id", "1"]);
    assert!(
        c.procs[1]
            .env
            .contains(&("LOG".into(), "/tmp/web-1.log".into()))
    );
    assert_eq!(
        c.procs[2].deps.iter().map(|d| d.on).collect::<Vec<_>>(),
        [0, 1]
    );
    for (text, want) in [
        (
            "[process.a]\ncommand = \"a\"\nreplicas = 0\n",
            "process.a.replicas: expected 1 to 1000 replicas",
        ),
        (
            "[process.a]\ncommand = \"a {replica}\"\n",
            "process.a.command: {replica} needs `replicas`",
        ),
        (
            "[process.a]\ncommand = \"a\"\nreplicas = 2\n[process.a-1]\ncommand = \"b\"\n",
            "a replica's name is taken",
        ),
    ] {
        let e = err(text);
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn any_ready_needs_replicas() {
    let e = err(
        "[process.a]\ncommand = \"a\"\n[process.b]\ncommand = \"b\"\ndepends_on = { a = \"any-ready\" }\n",
    );
    assert!(
        e.contains("process.b.depends_on.a: any-ready needs a to have replicas"),
        "{e}"
    );
}
