//! Kubernetes Pod manifests and Procfiles run by the real binary as PID 1,
//! and their bad input refused naming the field.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

fn check(dir: &TempDir, name: &str, text: &str) -> (i32, String) {
    let f = dir.write(name, text);
    let out = Command::new(BIN)
        .args(["check", "-c", &f.to_string_lossy()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        text_of(&out.stdout) + &text_of(&out.stderr),
    )
}

fn text_of(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn the_multi_container_example_runs_in_kubernetes_order() {
    need_root!();
    let dir = TempDir::new("podyaml");
    let manifest = format!(
        "{}/examples/kubernetes/multi-container.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    let pod = Pod::start_pid1(dir, &["-c", &manifest]);
    pod.wait_text("podinit.stderr", "app started", LIMIT);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let e = &out.stderr;
    let at = |s: &str| e.find(s).unwrap_or_else(|| panic!("{s:?} not in\n{e}"));
    // Init, then the sidecar once its startup probe passed, then the main.
    assert!(at("migrate completed") < at("logship started"));
    assert!(at("logship is ready") < at("app started"));
    // The stop: the main first, then the sidecar.
    assert!(at("app stopped") < at("stopping logship"), "{e}");
    assert!(
        out.stdout.contains("app: serving as web with label web"),
        "{}",
        out.stdout
    );
}

/// The hooks' manifest: a sidecar whose postStart gates the next init
/// container, a main whose preStop delays its SIGTERM; each writes when.
const HOOKS: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  restartPolicy: Never
  terminationGracePeriodSeconds: 10
  initContainers:
    - name: proxy
      restartPolicy: Always
      env: [{name: D, value: "DIR"}]
      command: [sh, -c, 'trap "date +%s.%N > $D/proxy.term; exit 0" TERM; while :; do sleep 0.05; done']
      lifecycle:
        postStart: {exec: {command: [sh, -c, 'sleep 0.5; touch $D/proxy.poststart']}}
        preStop: {exec: {command: [sh, -c, 'date +%s.%N > $D/proxy.prestop']}}
    - name: check
      env: [{name: D, value: "DIR"}]
      command: [sh, -c, 'test -e $D/proxy.poststart']
  containers:
    - name: app
      env: [{name: D, value: "DIR"}]
      command: [sh, -c, 'trap "date +%s.%N > $D/app.term; exit 0" TERM; while :; do sleep 0.05; done']
      lifecycle:
        preStop: {exec: {command: [sh, -c, 'sleep 0.3; date +%s.%N > $D/app.prestop']}}
"#;

#[test]
fn lifecycle_hooks_gate_the_next_init_container_and_come_before_the_stop_signal() {
    need_root!();
    let dir = TempDir::new("podhooks");
    let d = dir.path().to_string_lossy().into_owned();
    let f = dir.write("hooks.yaml", &HOOKS.replace("DIR", &d));
    let pod = Pod::start_pid1(dir, &["-c", &f.to_string_lossy()]);
    pod.wait_text("podinit.stderr", "app started", LIMIT);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(out.stderr.contains("check completed"), "{}", out.stderr);
    let when = |f: &str| -> f64 {
        let t = std::fs::read_to_string(format!("{d}/{f}"))
            .unwrap_or_else(|e| panic!("{f}: {e}\n{}", out.stderr));
        t.trim().parse().unwrap()
    };
    // Both preStops start at once; the main's SIGTERM follows its own, and
    // the sidecar's follows the main's exit.
    assert!(
        when("proxy.prestop") < when("app.prestop"),
        "{}",
        out.stderr
    );
    assert!(when("app.prestop") <= when("app.term"), "{}", out.stderr);
    assert!(when("app.term") <= when("proxy.term"), "{}", out.stderr);
}

#[test]
fn a_never_pod_completes_with_the_first_failure_and_a_deployment_runs_its_template() {
    need_root!();
    let dir = TempDir::new("podnever");
    let f = dir.write(
        "job.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n        - {name: a, command: [sh, -c, 'exit 3']}\n        - {name: b, command: [sh, -c, 'sleep 0.3; exit 0']}\n",
    );
    let out = Pod::start_pid1(dir, &["-c", &f.to_string_lossy()]).wait(LIMIT);
    assert_eq!(out.code(), 3, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("the pod waits for its other main processes"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_manifests_name_the_field() {
    let dir = TempDir::new("podbad");
    let pod =
        |spec: &str| format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n{spec}");
    for (text, want) in [
        (
            pod("  containers:\n    - {name: a, args: [x]}\n"),
            "spec.containers[0].command: is missing while args is given",
        ),
        (pod("  initContainers: []\n"), "spec.containers: is missing"),
        (
            pod("  containers:\n    - {name: a, command: [x]}\n    - {name: a, command: [y]}\n"),
            "spec.containers[1].name: \"a\" is the name of another container",
        ),
        (
            pod(
                "  containers:\n    - name: a\n      command: [x]\n      readinessProbe: {httpGet: {port: web}}\n",
            ),
            "spec.containers[0].readinessProbe.httpGet.port: \"web\" is not the name of one of the container's ports",
        ),
        (
            pod(
                "  containers:\n    - name: a\n      command: [x]\n      livenessProbe: {exec: {command: [t]}, tcpSocket: {port: 1}}\n",
            ),
            "has 2 handlers",
        ),
        (
            pod(
                "  initContainers:\n    - name: a\n      command: [x]\n      startupProbe: {exec: {command: [t]}, periodSeconds: -1}\n  containers:\n    - {name: b, command: [y]}\n",
            ),
            "spec.initContainers[0].startupProbe.periodSeconds: must be an integer of at least 1",
        ),
        (
            pod(
                "  containers:\n    - name: a\n      command: [x]\n      lifecycle: {preStop: {tcpSocket: {port: 1}}}\n",
            ),
            "spec.containers[0].lifecycle.preStop.tcpSocket: Kubernetes accepts it but fails the hook",
        ),
        (
            pod(
                "  containers:\n    - name: a\n      command: [x]\n      lifecycle: {postStart: {sleep: {seconds: 1}, exec: {command: [y]}}}\n",
            ),
            "spec.containers[0].lifecycle.postStart: has 2 handlers (exec, sleep); a hook has one",
        ),
        (
            "kind: Service\nmetadata: {name: s}\n".to_string(),
            "no document is a Pod",
        ),
        ("kind: Pod\nspec: [\n".to_string(), "pod.yaml:"),
    ] {
        let (code, out) = check(&dir, "pod.yaml", &text);
        assert_eq!(code, 2, "{text}: {out}");
        assert!(out.contains(want), "{text}: {out}");
    }
    let two = format!(
        "{}---\n{}",
        pod("  containers: [{name: a, command: [x]}]\n"),
        pod("  containers: [{name: b, command: [y]}]\n").replace("name: p}", "name: q}")
    );
    let (code, out) = check(&dir, "two.yaml", &two);
    assert_eq!(code, 2);
    assert!(
        out.contains("2 documents bear a pod (Pod/p, Pod/q); choose one with --pod NAME"),
        "{out}"
    );
    let f = dir.join("two.yaml");
    let out = Command::new(BIN)
        .args(["check", "--pod", "q", "-c", &f.to_string_lossy()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out.stderr));
    assert!(
        text_of(&out.stdout).contains("[process.b]"),
        "{}",
        text_of(&out.stdout)
    );
}

#[test]
fn import_prints_toml_that_checks_and_a_procfile_runs() {
    need_root!();
    let dir = TempDir::new("procfile");
    let proc_ = dir.write(
        "Procfile",
        "web: echo web-ran $GREETING on $PORT; sleep 0.2\nworker: echo worker on $PORT; sleep 30\n",
    );
    dir.write(".env", "GREETING=hello\n");
    let out = Command::new(BIN)
        .args(["import", &proc_.to_string_lossy()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text_of(&out.stderr));
    let toml = text_of(&out.stdout);
    let imported = dir.write("imported.toml", &toml);
    let checked = Command::new(BIN)
        .args(["check", "-c", &imported.to_string_lossy()])
        .output()
        .unwrap();
    assert!(checked.status.success(), "{}", text_of(&checked.stderr));
    // As foreman: the first process to end ends them all.
    let out = Pod::start_pid1(dir, &["-c", &proc_.to_string_lossy()]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("web-ran hello on 5000"),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("worker on 5100"), "{}", out.stdout);
    assert!(out.stderr.contains("stopping worker"), "{}", out.stderr);
}

#[test]
fn a_bad_dot_env_or_procfile_line_names_file_and_line_and_starts_nothing() {
    let dir = TempDir::new("procbad");
    let proc_ = dir.write("Procfile", "web: touch started\n");
    dir.write(".env", "A=1\nnot a pair\n");
    let out = Command::new(BIN)
        .args(["--procfile", &proc_.to_string_lossy()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text_of(&out.stderr));
    let e = text_of(&out.stderr);
    assert!(e.contains("/.env: line 2: expected KEY=value"), "{e}");
    assert!(!dir.join("started").exists());
    let other = dir.write("jobs", "web: ok\nbroken line\n");
    std::fs::remove_file(dir.join(".env")).unwrap();
    let out = Command::new(BIN)
        .args(["check", "--procfile", &other.to_string_lossy()])
        .output()
        .unwrap();
    let e = text_of(&out.stderr);
    assert!(e.contains("jobs:2: expected `name: command`"), "{e}");
}

#[test]
fn a_readiness_probe_counts_failures_and_successes_as_kubernetes_does() {
    need_root!();
    let dir = TempDir::new("podready");
    let d = dir.path().to_string_lossy().into_owned();
    dir.write("ok", "");
    let manifest = dir.write(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: r}}\nspec:\n  containers:\n    - name: web\n      command: [sleep, '1000']\n      readinessProbe:\n        exec: {{command: [test, -e, {d}/ok]}}\n        periodSeconds: 1\n        failureThreshold: 2\n        successThreshold: 2\n"
        ),
    );
    // A second file gives this pod a control socket of its own.
    let sock = dir.write(
        "sock.toml",
        &format!("[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n"),
    );
    let (m, s) = (manifest.to_string_lossy(), sock.to_string_lossy());
    let pod = Pod::start_pid1(dir, &["-c", &m, "-c", &s]);
    pod.wait_file("ctl.sock", LIMIT);
    let health = || {
        let out = Command::new(BIN)
            .args(["health", "-c", &s])
            .output()
            .unwrap();
        (
            out.status.success(),
            text_of(&out.stdout) + &text_of(&out.stderr),
        )
    };
    pod.wait_until("ready", LIMIT, || health().0);
    std::fs::remove_file(pod.dir.join("ok")).unwrap();
    pod.wait_until("not ready after 2 failures", LIMIT, || {
        health().1.contains("web is not-ready")
    });
    let e = pod.dir.read("podinit.stderr");
    assert!(e.contains("readiness probe failed 2 times in a row"), "{e}");
    pod.dir.write("ok", "");
    pod.wait_until("ready again after 2 passes", LIMIT, || health().0);
    assert!(
        pod.dir
            .read("podinit.stderr")
            .contains("web is ready again")
    );
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 143, "sleep ends by the SIGTERM: {}", out.stderr);
}

/// A manifest with every honoured and ignored field of the README's table.
const EVERY_FIELD: &str = r#"apiVersion: v1
kind: Pod
metadata: {name: all, labels: {app: x}}
spec:
  restartPolicy: Always
  terminationGracePeriodSeconds: 20
  securityContext: {runAsNonRoot: false}
  volumes: [{name: v, emptyDir: {}}]
  nodeSelector: {a: b}
  hostNetwork: false
  serviceAccountName: sa
  initContainers:
    - name: proxy
      restartPolicy: Always
      command: [sleep, "100"]
      startupProbe: {tcpSocket: {port: 1}}
  containers:
    - name: app
      image: busybox
      imagePullPolicy: Always
      command: [sh, -c]
      args: ["sleep 100"]
      workingDir: /
      env: [{name: A, value: b}]
      ports: [{name: http, containerPort: 8080}]
      resources: {limits: {memory: 64Mi, cpu: 500m}, requests: {memory: 32Mi}}
      readinessProbe: {httpGet: {port: http, path: /r, httpHeaders: [{name: X, value: y}]}}
      livenessProbe: {exec: {command: [true]}}
      lifecycle: {postStart: {exec: {command: [true]}}, preStop: {sleep: {seconds: 1}}, stopSignal: SIGINT}
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
      volumeMounts: [{name: v, mountPath: /v}]
      stdin: true
      tty: true
      terminationMessagePath: /dev/termination-log
      restartPolicy: OnFailure
      restartPolicyRules:
        - {action: Restart, exitCodes: {operator: In, values: [42]}}
"#;

#[test]
fn the_readme_field_table_is_what_check_reports() {
    let readme =
        std::fs::read_to_string(format!("{}/README.md", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let table = readme
        .split("<!-- pod-fields -->")
        .nth(1)
        .and_then(|t| t.split("<!-- /pod-fields -->").next())
        .expect("README has the pod-fields table");
    let dir = TempDir::new("podfields");
    let (code, out) = check(&dir, "all.yaml", EVERY_FIELD);
    assert_eq!(code, 0, "{out}");
    // The refused rows, each with a manifest that has only that fault.
    let c = |body: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - name: a\n{body}"
        )
    };
    let refused = [
        ("spec.containers[].command", c("      args: [x]\n")),
        (
            "spec.initContainers[].restartPolicy",
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  initContainers:\n    - {name: i, command: [x], restartPolicy: Never}\n  containers:\n    - {name: a, command: [y]}\n".to_string(),
        ),
        (
            "spec.containers[].readinessProbe.grpc",
            c("      command: [x]\n      readinessProbe: {grpc: {port: 1}}\n"),
        ),
        (
            "spec.containers[].readinessProbe.httpGet.scheme",
            c("      command: [x]\n      readinessProbe: {httpGet: {port: 1, scheme: HTTPS}}\n"),
        ),
        (
            "spec.containers[].lifecycle.preStop.tcpSocket",
            c("      command: [x]\n      lifecycle: {preStop: {tcpSocket: {port: 1}}}\n"),
        ),
        (
            "spec.containers[].livenessProbe.successThreshold",
            c(
                "      command: [x]\n      livenessProbe: {exec: {command: [t]}, successThreshold: 2}\n",
            ),
        ),
    ];
    let mut rows = 0;
    for line in table.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line
            .split(" | ")
            .map(|c| c.trim_matches(['|', ' ']))
            .collect();
        let (path, verdict, why) = (cells[0].trim_matches('`'), cells[1], cells[2]);
        let at = path.replace("[]", "[0]");
        rows += 1;
        if verdict.starts_with("refused") {
            let (_, text) = refused
                .iter()
                .find(|(p, _)| *p == path)
                .unwrap_or_else(|| panic!("no manifest tests the refused row {path}"));
            let (code, out) = check(&dir, "bad.yaml", text);
            assert_eq!(code, 2, "{path}: {out}");
            assert!(
                out.contains(&format!("{at}: {why}")) || out.contains(&at) && out.contains(why),
                "{path}: {out}"
            );
            continue;
        }
        let want = match verdict {
            "honoured" => format!("  {at}: honoured\n"),
            _ => format!("  {at}: ignored ({why})\n"),
        };
        assert!(
            out.contains(&want),
            "README row {line:?}: check says\n{out}"
        );
    }
    assert!(rows > 30, "{rows} rows");
}

#[test]
fn secrets_and_configmaps_come_from_files_laid_out_as_mounted_volumes() {
    need_root!();
    let dir = TempDir::new("podsecret");
    let d = dir.path().to_string_lossy().into_owned();
    std::fs::create_dir_all(dir.join("kube/secrets/db")).unwrap();
    std::fs::create_dir_all(dir.join("kube/configmaps/app")).unwrap();
    dir.write("kube/secrets/db/password", "s3cret\n");
    dir.write("kube/configmaps/app/MODE", "fast");
    dir.write("kube/configmaps/app/LEVEL", "3");
    let f = dir.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: s}\nspec:\n  restartPolicy: Never\n  containers:\n    - name: a\n      command: [sh, -c, 'echo \"pw=$PW mode=$MODE level=$LEVEL\"']\n      env:\n        - name: PW\n          valueFrom: {secretKeyRef: {name: db, key: password}}\n      envFrom:\n        - configMapRef: {name: app}\n",
    );
    let opts = Opts {
        env: vec![("PODINIT_KUBE_DIR".into(), format!("{d}/kube"))],
        ..Opts::default()
    };
    let out = Pod::start_pid1_with(dir, &["-c", &f.to_string_lossy()], &opts).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // A Secret file's trailing newline is kept by Kubernetes too; the shell's
    // echo shows the value as it is.
    assert!(out.stdout.contains("pw=s3cret"), "{}", out.stdout);
    assert!(out.stdout.contains("mode=fast level=3"), "{}", out.stdout);
}

#[test]
fn on_failure_restarts_until_success_and_one_grace_budget_bounds_the_stop() {
    need_root!();
    let dir = TempDir::new("podonfail");
    let d = dir.path().to_string_lossy().into_owned();
    let f = dir.write(
        "pod.yaml",
        &format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: o}}\nspec:\n  restartPolicy: OnFailure\n  containers:\n    - name: flaky\n      command: [sh, -c, 'echo run >> {d}/runs; test $(wc -l < {d}/runs) -ge 3']\n"),
    );
    let out = Pod::start_pid1(dir, &["-c", &f.to_string_lossy()]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(out.dir.read("runs").lines().count(), 3, "{}", out.stderr);

    // A container that ignores SIGTERM, next to a sidecar: the whole stop
    // takes terminationGracePeriodSeconds, not one grace per container.
    let dir = TempDir::new("podgrace");
    let f = dir.write(
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: g}\nspec:\n  terminationGracePeriodSeconds: 2\n  initContainers:\n    - {name: side, restartPolicy: Always, command: [sh, -c, \"trap '' TERM; while :; do sleep 0.1; done\"]}\n  containers:\n    - {name: deaf, command: [sh, -c, \"trap '' TERM; echo up; while :; do sleep 0.1; done\"]}\n",
    );
    let pod = Pod::start_pid1(dir, &["-c", &f.to_string_lossy()]);
    pod.wait_text("podinit.stdout", "up", LIMIT);
    let (out, took) = pod.terminate(LIMIT);
    assert!(
        took >= Duration::from_millis(1900) && took < Duration::from_millis(3500),
        "{took:?}\n{}",
        out.stderr
    );
    assert!(out.stderr.contains("SIGKILL"), "{}", out.stderr);
}
