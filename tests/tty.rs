//! Interactive use under a pseudo-terminal: `podinit -- bash -i` behaves as
//! bash would without podinit (echo, Ctrl-C, Ctrl-Z, exit status).

mod common;

use std::process::Command;
use std::time::Duration;

use common::*;

#[test]
fn an_interactive_bash_under_podinit_behaves_as_without_it() {
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIPPED: bash is not installed");
        return;
    }
    let mut t = pty::Term::open();
    let mut cmd = Command::new(BIN);
    cmd.args(["--", "bash", "--norc", "--noprofile", "-i"])
        .env("PS1", "PROMPT$ ")
        .env("PODINIT_LOG", "warn");
    let mut child = t.spawn(cmd);
    t.expect("PROMPT$ ");
    // Echo, and bash's own output.
    t.send("echo hel''lo\n");
    t.expect("hello");
    t.expect("PROMPT$ ");
    // Ctrl-C interrupts the foreground job only.
    t.send("sleep 30.017\n");
    wait_process("sleep\x0030.017\x00", Duration::from_secs(20));
    t.send("\x03");
    t.expect("PROMPT$ ");
    t.send("echo alive-$((40+2))\n");
    t.expect("alive-42");
    // Ctrl-Z stops a job; job control works.
    t.send("sleep 31.017\n");
    wait_process("sleep\x0031.017\x00", Duration::from_secs(20));
    t.send("\x1a");
    t.expect("Stopped");
    t.send("jobs\n");
    t.expect("sleep 31.017");
    // `wait` until bash has reaped the killed job: bash refuses `exit` while
    // its job table still says "Stopped" (it did, ~5 % of runs, 100 ms on).
    t.send("kill -9 %1; wait; echo reaped-$((2+3))\n");
    t.expect("reaped-5");
    t.expect("PROMPT$ ");
    // `exit 5` makes podinit exit 5.
    t.send("exit 5\n");
    let status = t.wait(&mut child);
    assert_eq!(status.code(), Some(5), "screen:\n{}", t.seen);
}

#[test]
fn a_tty_process_of_a_pod_gets_the_terminal_next_to_a_sidecar() {
    // Kubernetes' `stdin: true, tty: true` container, from TOML.
    if Command::new("bash").arg("--version").output().is_err() {
        eprintln!("SKIPPED: bash is not installed");
        return;
    }
    let dir = TempDir::new("ttyproc");
    let cfg = dir.write(
        "pod.toml",
        &format!(
            "[podinit]\ncontrol_socket = \"{}/ctl.sock\"\n[process.side]\ncommand = \"sleep 1000\"\n\
             [process.shell]\ncommand = [\"bash\", \"--norc\", \"--noprofile\", \"-i\"]\ntty = true\nmain = true\n\
             env = {{ PS1 = \"PROMPT$ \" }}\n",
            dir.path().display()
        ),
    );
    let mut t = pty::Term::open();
    let mut cmd = Command::new(BIN);
    cmd.args(["-c", &cfg.to_string_lossy()])
        .env("PODINIT_LOG", "warn");
    let mut child = t.spawn(cmd);
    t.expect("PROMPT$ ");
    t.send("echo tty-$((6*7))\n");
    t.expect("tty-42");
    t.send("sleep 30.019\n");
    wait_process("sleep\x0030.019\x00", Duration::from_secs(20));
    t.send("\x03");
    t.expect("PROMPT$ ");
    t.send("exit 4\n");
    let status = t.wait(&mut child);
    assert_eq!(status.code(), Some(4), "screen:\n{}", t.seen);
}
