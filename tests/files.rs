//! Odd files under PID 1 (RELIABILITY.md, "Files podinit reads"): a FIFO,
//! a device or a huge file where a secret, an `env_file` or a drop-in is
//! expected never blocks or bloats the loop; a config or drop-in that
//! someone else could write is refused; names and secrets are bytes.

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(20);

fn mkfifo(p: &std::path::Path) {
    let c = std::ffi::CString::new(p.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: a valid C string.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
}

/// A pod whose `svc` reads `env` (a TOML inline table body) from odd files.
fn odd_env(tag: &str, env: &str) -> Pod {
    let dir = TempDir::new(tag);
    mkfifo(&dir.join("fifo"));
    let toml = format!(
        "[podinit]\ncontrol_socket = \"$DIR/ctl.sock\"\n[process.svc]\ncommand = [\"sh\", \"-c\", \"printf %s \\\"$S\\\" > $DIR/got; sleep 1000\"]\nrestart = \"never\"\n{env}\n[process.keep]\ncommand = \"sleep 1000\"\n"
    )
    .replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    Pod::start_pid1(dir, &["-c", &cfg])
}

#[test]
fn a_fifo_as_a_secret_or_env_file_fails_the_start_and_never_blocks_pid1() {
    need_root!();
    for (tag, env, key) in [
        ("fsec", "env = { S = \"${file:$DIR/fifo}\" }", "env.S"),
        ("fenv", "env_file = \"$DIR/fifo\"", "env_file"),
        ("fdev", "env = { S = \"${file:/dev/zero}\" }", "env.S"),
    ] {
        let pod = odd_env(tag, env);
        pod.wait_text("podinit.stderr", "cannot start", LIMIT);
        // The loop is alive: the control socket is bound, SIGTERM is heard.
        pod.wait_file("ctl.sock", LIMIT);
        let (out, took) = pod.terminate(LIMIT);
        assert!(took < Duration::from_secs(3), "{tag}: {took:?}");
        assert!(
            out.stderr.contains(&format!("{key}: cannot read")),
            "{}",
            out.stderr
        );
        assert!(out.stderr.contains("not a regular file"), "{}", out.stderr);
    }
}

#[test]
fn a_huge_secret_is_refused_naming_the_key_and_the_limit() {
    need_root!();
    let dir = TempDir::new("fbig");
    let big = dir.join("big");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(100 << 20)
        .unwrap();
    let toml = format!(
        "[process.svc]\ncommand = \"true\"\nrestart = \"never\"\nenv = {{ S = \"${{file:{}}}\" }}\n",
        big.display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let out = Pod::start_pid1(dir, &["-c", &cfg]).wait(LIMIT);
    assert!(
        out.stderr.contains("env.S: cannot read the secret")
            && out.stderr.contains("larger than the limit of 128 KiB"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_secret_that_is_not_utf8_reaches_the_process_byte_for_byte() {
    need_root!();
    let dir = TempDir::new("fbytes");
    std::fs::write(dir.join("s"), b"p\xe9ss\xff\n").unwrap();
    let toml = "[process.svc]\ncommand = [\"sh\", \"-c\", \"printf %s \\\"$S\\\" > $DIR/got\"]\noneshot = true\nenv = { S = \"${file:$DIR/s}\" }\n"
        .replace("$DIR", &dir.path().to_string_lossy());
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let out = Pod::start_pid1(dir, &["-c", &cfg]).wait(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert_eq!(std::fs::read(out.dir.join("got")).unwrap(), b"p\xe9ss\xff");
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let out = Command::new(BIN)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_fifo_among_the_drop_ins_is_a_config_error_for_run_check_and_the_client() {
    let dir = TempDir::new("fdrop");
    let d = dir.join("podinit.d");
    std::fs::create_dir(&d).unwrap();
    std::fs::write(d.join("10-a.toml"), "[process.a]\ncommand = \"sleep 1\"\n").unwrap();
    mkfifo(&d.join("70-x.toml"));
    let ds = d.to_string_lossy().into_owned();
    let (code, err) = run(&["check", "-c", &ds], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("70-x.toml: cannot read the config file: it is a FIFO"),
        "{err}"
    );
    // The client verbs read the lookup too: they answer at once.
    let (code, err) = run(&["status", "-c", &ds], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no podinit is listening"), "{err}");
}

#[test]
fn a_fifo_drop_in_at_reload_is_refused_and_the_pod_answers() {
    need_root!();
    let dir = TempDir::new("freload");
    let d = dir.join("podinit.d");
    std::fs::create_dir(&d).unwrap();
    let sock = dir.s("ctl.sock");
    std::fs::write(
        d.join("10-a.toml"),
        format!("[podinit]\ncontrol_socket = \"{sock}\"\n[process.a]\ncommand = \"sleep 1000\"\n"),
    )
    .unwrap();
    let ds = d.to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &ds]);
    pod.wait_file("ctl.sock", LIMIT);
    mkfifo(&d.join("70-x.toml"));
    pod.signal(libc::SIGHUP);
    pod.wait_text(
        "podinit.stderr",
        "70-x.toml: cannot read the config file",
        LIMIT,
    );
    let (code, err) = run(&["reload", "-c", &ds], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("it is a FIFO"), "{err}");
    let (code, err) = run(&["status", "-c", &ds], &[]);
    assert_eq!(code, 0, "{err}");
    let (out, took) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    assert!(took < Duration::from_secs(3), "{took:?}");
}

#[test]
fn a_drop_in_someone_else_could_write_is_refused_naming_owner_and_mode() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("ftrust");
    let d = dir.join("podinit.d");
    std::fs::create_dir(&d).unwrap();
    let f = d.join("50-x.toml");
    std::fs::write(&f, "[process.x]\ncommand = \"id\"\n").unwrap();
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o666)).unwrap();
    let ds = d.to_string_lossy().into_owned();
    let (code, err) = run(&["check", "-c", &ds], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("50-x.toml: refused: owner uid"), "{err}");
    assert!(err.contains("mode 0666: writable by every user"), "{err}");
    // The documented opt-out.
    let (code, err) = run(
        &["check", "-c", &ds],
        &[("PODINIT_ALLOW_UNTRUSTED_CONFIG", "1")],
    );
    assert_eq!(code, 0, "{err}");
    // A world-writable directory without the sticky bit.
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (code, err) = run(&["check", "-c", &ds], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("podinit.d: refused:") && err.contains("mode 0777"),
        "{err}"
    );
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
    let (code, err) = run(&["check", "-c", &ds], &[]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn a_drop_in_owned_by_another_user_is_refused_at_start_and_at_reload() {
    need_real_root!();
    let dir = TempDir::new("fowner");
    let d = dir.join("podinit.d");
    std::fs::create_dir(&d).unwrap();
    let sock = dir.s("ctl.sock");
    std::fs::write(
        d.join("10-a.toml"),
        format!("[podinit]\ncontrol_socket = \"{sock}\"\n[process.a]\ncommand = \"sleep 1000\"\n"),
    )
    .unwrap();
    let evil = d.join("60-evil.toml");
    std::fs::write(&evil, "[process.evil]\ncommand = \"touch /tmp/pwned\"\n").unwrap();
    std::os::unix::fs::chown(&evil, Some(65534), Some(65534)).unwrap();
    let ds = d.to_string_lossy().into_owned();
    let (code, err) = run(&["-c", &ds], &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("60-evil.toml: refused: owner uid 65534"),
        "{err}"
    );
    // Planted after the start: the reload is refused, nothing runs.
    std::fs::remove_file(&evil).unwrap();
    let pod = Pod::start_pid1(dir, &["-c", &ds]);
    pod.wait_file("ctl.sock", LIMIT);
    std::fs::write(&evil, "[process.evil]\ncommand = \"sleep 1\"\n").unwrap();
    std::os::unix::fs::chown(&evil, Some(65534), Some(65534)).unwrap();
    let (code, err) = run(&["reload", "-c", &ds], &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("owned by a user other than root"), "{err}");
    let (out, _) = pod.terminate(LIMIT);
    assert!(!out.stderr.contains("evil started"), "{}", out.stderr);
}

#[test]
fn a_drop_in_whose_name_is_not_utf8_is_read() {
    use std::os::unix::ffi::OsStrExt;
    let dir = TempDir::new("fname");
    let d = dir.join("podinit.d");
    std::fs::create_dir(&d).unwrap();
    let name = std::ffi::OsStr::from_bytes(b"50-caf\xe9.toml");
    std::fs::write(
        d.join(name),
        "[process.x]\ncommand = \"true\"\noneshot = true\n",
    )
    .unwrap();
    let ds = d.to_string_lossy().into_owned();
    let out = Command::new(BIN)
        .args(["check", "-c", &ds])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("[process.x]")
            || String::from_utf8_lossy(&out.stdout).contains("x")
    );
}
