//! What a base image needs without s6-overlay, cron or rsyslog: layered
//! config drop-ins, scheduled jobs, a /dev/log receiver, secrets from
//! files. The real binary as PID 1.

mod common;

use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

#[test]
fn secrets_are_read_from_files_at_each_start_and_never_shown() {
    need_root!();
    let dir = TempDir::new("secret");
    dir.write("pw", "s3cret\n");
    let toml = format!(
        r#"[process.app]
command = ["sh", "-c", "echo \"$DB_URL\" >> {d}/seen; test $(wc -l < {d}/seen) -ge 2"]
main = true
restart = "on-failure"
restart_delay = "1s"
env = {{ DB_URL = "pg://u:${{file:{d}/pw}}@db" }}
"#,
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_podinit"))
        .args(["check", "-c", &cfg])
        .output()
        .unwrap();
    let shown = text(&check.stdout);
    assert!(check.status.success(), "{}", text(&check.stderr));
    assert!(!shown.contains("s3cret"), "{shown}");
    assert!(shown.contains("${file:"), "{shown}");
    // The first start reads "s3cret"; the file changes during the 1 s before
    // the restart, which reads it anew.
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_text("seen", "s3cret", LIMIT);
    std::fs::write(pod.dir.join("pw"), "rotated\n").unwrap();
    let out = pod.wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    let seen = out.dir.read("seen");
    assert!(seen.starts_with("pg://u:s3cret@db\n"), "{seen}");
    assert!(seen.ends_with("pg://u:rotated@db\n"), "{seen}");
}

#[test]
fn a_missing_secret_is_a_failed_start_naming_the_key() {
    need_root!();
    let toml = r#"
[process.app]
command = "true"
main = true
env = { TOKEN = "${file:/no/such/secret}" }
"#;
    let out = pod_pid1("nosecret", toml, &[]).wait(LIMIT);
    assert_eq!(out.code(), 126, "{}", out.stderr);
    assert!(
        out.stderr
            .contains("env.TOKEN: cannot read the secret /no/such/secret"),
        "{}",
        out.stderr
    );
}
