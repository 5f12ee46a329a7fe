//! `listen`: sockets podinit holds across restarts, passed with systemd's
//! socket-activation protocol. The attack on the claim: a client loop
//! against a server killed and restarted 50 times sees no refusal.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use common::*;

const LIMIT: Duration = Duration::from_secs(30);

/// A server that takes its socket from LISTEN_FDS (checking LISTEN_PID)
/// and answers each connection with its pid and LISTEN_FDNAMES.
const SERVER: &str = r#"
import os, socket
assert os.environ["LISTEN_PID"] == str(os.getpid())
assert os.environ["LISTEN_FDS"] == "1"
s = socket.socket(fileno=3)
open(os.environ["RUNS"], "a").write("run\n")
while True:
    c, _ = s.accept()
    c.recv(16)
    c.sendall(("%d %s\n" % (os.getpid(), os.environ["LISTEN_FDNAMES"])).encode())
    c.close()
"#;

fn ask(port: u16) -> std::io::Result<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port))?;
    c.set_read_timeout(Some(Duration::from_secs(10)))?;
    c.write_all(b"hi\n")?;
    let mut out = String::new();
    c.read_to_string(&mut out)?;
    Ok(out)
}

/// `GET /` on the port: the answer if it holds `needle`.
fn http_get(port: u16, needle: &str) -> Result<String, String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(10))).ok();
    c.write_all(b"GET / HTTP/1.0\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut out = String::new();
    c.read_to_string(&mut out).map_err(|e| e.to_string())?;
    out.contains(needle).then_some(out.clone()).ok_or(out)
}

#[test]
fn fifty_kills_under_a_client_loop_refuse_no_connection() {
    need_root!();
    if !has("python3") {
        eprintln!("SKIPPED: no python3");
        return;
    }
    let port = free_port();
    let dir = TempDir::new("listen50");
    let server = dir.write("server.py", SERVER);
    let toml = format!(
        "[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n[process.web]\ncommand = [\"python3\", \"{s}\"]\n\
         env = {{ RUNS = \"{d}/runs\" }}\nlisten = [{{ address = \"tcp:127.0.0.1:{port}\", name = \"http\" }}]\n\
         restart_delay = \"0s\"\nrestart_delay_max = \"0s\"\n",
        d = dir.path().display(),
        s = server.display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_file("ctl.sock", LIMIT);
    let first = await_ok("a first answer", LIMIT, || {
        ask(port).map_err(|e| e.to_string())
    });
    assert!(first.ends_with(" http\n"), "{first}");
    let stop = Arc::new(AtomicBool::new(false));
    let (ok, refused) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = {
        let (stop, ok, refused) = (stop.clone(), ok.clone(), refused.clone());
        std::thread::spawn(move || {
            // The connection a killed server was answering is reset (it
            // died holding it): that is not a refusal, and at most one a kill.
            let mut other = Vec::new();
            while !stop.load(Ordering::Relaxed) {
                match ask(port) {
                    Ok(a) if !a.is_empty() => {
                        ok.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(_) => other.push("an empty answer".to_string()),
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => other.push(e.to_string()),
                }
            }
            other
        })
    };
    let runs = |pod: &Pod| pod.dir.read("runs").lines().count();
    for k in 1..=50 {
        ctl_ok(&cfg, &["signal", "web", "KILL"]);
        pod.wait_until(&format!("run {}", k + 1), LIMIT, || runs(&pod) > k);
    }
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let other = client.join().unwrap();
    let (ok, refused) = (ok.load(Ordering::Relaxed), refused.load(Ordering::Relaxed));
    assert_eq!(refused, 0, "{ok} answered");
    assert!(ok > 50, "{ok} answered");
    assert!(
        other.len() <= 50,
        "{} lost in flight: {other:?}",
        other.len()
    );
    eprintln!(
        "50 kills: {ok} answered, 0 refused, {} reset in flight",
        other.len()
    );
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn a_port_in_use_stops_the_start_naming_the_key_and_two_processes_cannot_share_one() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let dir = TempDir::new("listenbusy");
    let toml = format!(
        "[process.web]\ncommand = \"touch {d}/started\"\noneshot = true\nlisten = [\"tcp:127.0.0.1:{port}\"]\n",
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let out = Command::new(BIN).args(["-c", &cfg]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let e = text(&out.stderr);
    assert!(
        e.contains(&format!(
            "process.web.listen[0]: bind tcp:127.0.0.1:{port}: Address already in use"
        )),
        "{e}"
    );
    assert!(!dir.join("started").exists());
    let two = "[process.a]\ncommand = \"a\"\nlisten = [\"tcp:127.0.0.1:9999\"]\n\
               [process.b]\ncommand = \"b\"\nlisten = [\"unix:/tmp/x.sock\", \"tcp:127.0.0.1:9999\"]\n";
    let cfg = dir.write("two.toml", two).to_string_lossy().into_owned();
    let out = Command::new(BIN)
        .args(["check", "-c", &cfg])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let e = text(&out.stderr);
    assert!(
        e.contains("process.b.listen: tcp:127.0.0.1:9999 is bound by process a already"),
        "{e}"
    );
    for (bad, want) in [
        (
            "[\"tcp:localhost:80\"]",
            "process.a.listen[0]: \"tcp:localhost:80\": expected an IP address",
        ),
        (
            "[{ address = \"tcp:127.0.0.1:1\", mode = \"0600\" }]",
            "`mode` and `owner` are for unix: sockets",
        ),
    ] {
        let f = dir.write(
            "bad.toml",
            &format!("[process.a]\ncommand = \"a\"\nlisten = {bad}\n"),
        );
        let out = Command::new(BIN)
            .args(["check", "-c", &f.to_string_lossy()])
            .output()
            .unwrap();
        assert!(
            text(&out.stderr).contains(want),
            "{bad}: {}",
            text(&out.stderr)
        );
    }
}

#[test]
fn gunicorn_serves_from_the_socket_podinit_holds() {
    need_root!();
    let have = Command::new("python3")
        .args(["-c", "import gunicorn"])
        .output();
    if !have.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: gunicorn is not installed (pip install gunicorn)");
        return;
    }
    let port = free_port();
    let dir = TempDir::new("gunicorn");
    dir.write(
        "app.py",
        "import os\ndef app(env, start):\n    start('200 OK', [('Content-Type', 'text/plain')])\n    return [b'hello from gunicorn %d' % os.getppid()]\n",
    );
    let toml = format!(
        "[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n[process.web]\nworking_dir = \"{d}\"\n\
         command = [\"python3\", \"-m\", \"gunicorn\", \"-w\", \"2\", \"--graceful-timeout\", \"1\", \"app:app\"]\n\
         listen = [\"tcp:127.0.0.1:{port}\"]\nstop_signal = \"TERM\"\n",
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    let get = || http_get(port, "hello from gunicorn");
    await_ok("gunicorn's answer", LIMIT, get);
    // A restart: connections made meanwhile wait in the backlog.
    pod.wait_file("ctl.sock", LIMIT);
    ctl_ok(&cfg, &["restart", "web"]);
    let listening = format!("Listening at: http://127.0.0.1:{port}");
    pod.wait_until("gunicorn's second run", LIMIT, || {
        (pod.dir.read("podinit.stdout") + &pod.dir.read("podinit.stderr"))
            .matches(&listening)
            .count()
            == 2
    });
    assert!(get().is_ok(), "{}", pod.dir.read("podinit.stderr"));
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
    // gunicorn took the socket it was given (it would fail to bind the
    // port podinit holds), and ran twice.
    let both = out.stdout.clone() + &out.stderr;
    assert_eq!(
        both.matches(&format!("Listening at: http://127.0.0.1:{port}"))
            .count(),
        2,
        "{both}"
    );
    assert!(!both.contains("Connection in use"), "{both}");
}

/// Serves until idle for half a second, then exits 0 (as an on-demand
/// server does).
const IDLE_SERVER: &str = r#"
import os, socket
s = socket.socket(fileno=3)
s.settimeout(0.5)
open(os.environ["RUNS"], "a").write("run\n")
try:
    while True:
        c, _ = s.accept()
        c.recv(16)
        c.sendall(b"%d\n" % os.getpid())
        c.close()
except socket.timeout:
    pass
"#;

#[test]
fn an_on_demand_server_starts_at_the_first_connection_and_again_after_idling() {
    need_root!();
    if !has("python3") {
        eprintln!("SKIPPED: no python3");
        return;
    }
    let port = free_port();
    let dir = TempDir::new("ondemand");
    let server = dir.write("server.py", IDLE_SERVER);
    let toml = format!(
        "[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n[process.web]\ncommand = [\"python3\", \"{s}\"]\n\
         env = {{ RUNS = \"{d}/runs\" }}\nlisten = [\"tcp:127.0.0.1:{port}\"]\nstart = \"on-demand\"\n",
        d = dir.path().display(),
        s = server.display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_file("ctl.sock", LIMIT);
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !pod.dir.join("runs").exists(),
        "started before any connection"
    );
    assert!(ctl_ok(&cfg, &["status"]).contains("on-demand"));
    let first = ask(port).unwrap();
    let again = ask(port).unwrap();
    assert_eq!(first, again, "one run serves both");
    pod.wait_text(
        "podinit.stderr",
        "it starts again at the next connection",
        LIMIT,
    );
    let later = ask(port).unwrap();
    assert_ne!(first, later, "a new run after the idle exit");
    assert_eq!(pod.dir.read("runs").lines().count(), 2);
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

/// The first run stores a pipe holding state and crashes; the next run
/// gets it back as fd 3, named, and reads the state.
const STORING: &str = r#"
import os, socket
addr = os.environ["NOTIFY_SOCKET"]
if addr.startswith("@"):
    addr = "\0" + addr[1:]
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
n.connect(addr)
out = os.environ["OUT"]
if os.environ.get("LISTEN_FDS"):
    assert os.environ["LISTEN_PID"] == str(os.getpid())
    data = os.read(3, 100).decode()
    open(out, "a").write("%s %s %s\n" % (os.environ["LISTEN_FDS"], os.environ["LISTEN_FDNAMES"], data))
    n.send(b"READY=1")
    import time; time.sleep(1000)
r, w = os.pipe()
os.write(w, b"state-1")
socket.send_fds(n, [b"FDSTORE=1\nFDNAME=state"], [r])
# Without FDSTORE=1: closed by podinit, not passed on.
socket.send_fds(n, [b"READY=1"], [w])
open(out, "a").write("first\n")
os._exit(1)
"#;

#[test]
fn the_fd_store_hands_a_pipe_with_its_state_to_the_next_run() {
    need_root!();
    if !has("python3") {
        eprintln!("SKIPPED: no python3");
        return;
    }
    let dir = TempDir::new("fdstore");
    let script = dir.write("store.py", STORING);
    let toml = format!(
        "[process.app]\ncommand = [\"python3\", \"{s}\"]\nenv = {{ OUT = \"{d}/out\" }}\n\
         ready = {{ sd_notify = true }}\nrestart_delay = \"0s\"\n",
        d = dir.path().display(),
        s = script.display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_text("out", "state", LIMIT);
    assert_eq!(pod.dir.read("out"), "first\n1 state state-1\n");
    let (out, _) = pod.terminate(LIMIT);
    assert!(
        out.stderr.contains("sent without FDSTORE=1 were closed"),
        "{}",
        out.stderr
    );
}

/// A replica: says READY=1 once it serves, answers with its number and pid.
const REPLICA: &str = r#"
import os, socket, time
s = socket.socket(fileno=3)
time.sleep(0.2)  # a start-up that takes a while
n = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
addr = os.environ["NOTIFY_SOCKET"]
n.connect("\0" + addr[1:] if addr.startswith("@") else addr)
n.send(b"READY=1")
while True:
    c, _ = s.accept()
    c.recv(16)
    c.sendall(("%s %d\n" % (os.environ["PODINIT_REPLICA"], os.getpid())).encode())
    c.close()
"#;

#[test]
fn replicas_share_a_port_and_a_rolling_restart_under_load_refuses_nothing() {
    need_root!();
    if !has("python3") {
        eprintln!("SKIPPED: no python3");
        return;
    }
    let port = free_port();
    let dir = TempDir::new("replicas");
    let server = dir.write("replica.py", REPLICA);
    let toml = format!(
        "[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n[process.web]\ncommand = [\"python3\", \"{s}\"]\n\
         replicas = 3\nlisten = [\"tcp:127.0.0.1:{port}\"]\nready = {{ sd_notify = true }}\n",
        d = dir.path().display(),
        s = server.display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_file("ctl.sock", LIMIT);
    pod.wait_until("3 ready", LIMIT, || {
        ctl_ok(&cfg, &["status", "web"]).matches(" ready ").count() == 3
    });
    // The kernel spreads the connections over the three.
    let mut seen = std::collections::BTreeSet::new();
    let mut before = std::collections::BTreeSet::new();
    for _ in 0..300 {
        let a = ask(port).unwrap();
        let mut w = a.split_whitespace();
        seen.insert(w.next().unwrap().to_string());
        before.insert(w.next().unwrap().to_string());
        if seen.len() == 3 {
            break;
        }
    }
    assert_eq!(seen.len(), 3, "{seen:?}");
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicUsize::new(0));
    let client = {
        let (stop, refused) = (stop.clone(), refused.clone());
        std::thread::spawn(move || {
            let mut pids = std::collections::BTreeSet::new();
            while !stop.load(Ordering::Relaxed) {
                match ask(port) {
                    Ok(a) => {
                        pids.insert(a.split_whitespace().nth(1).unwrap_or("").to_string());
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                        refused.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => {}
                }
            }
            pids
        })
    };
    ctl_ok(&cfg, &["restart", "--rolling", "web"]);
    pod.wait_text("podinit.stderr", "restarting web-2 (0 after it)", LIMIT);
    pod.wait_until("3 ready again", LIMIT, || {
        ctl_ok(&cfg, &["status", "web"]).matches(" ready ").count() == 3
    });
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let pids = client.join().unwrap();
    assert_eq!(refused.load(Ordering::Relaxed), 0);
    let new: Vec<_> = pids.difference(&before).collect();
    assert!(new.len() >= 3, "the new runs answered: {new:?}");
    let e = pod.dir.read("podinit.stderr");
    let at = |s: &str| e.find(s).unwrap_or_else(|| panic!("{s:?} not in {e}"));
    assert!(at("web-0 is ready") < at("restarting web-1"), "{e}");
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn scale_adds_and_removes_replicas_and_leaves_the_others_running() {
    need_root!();
    let dir = TempDir::new("scale");
    let toml = format!(
        "[podinit]\ncontrol_socket = \"{}/ctl.sock\"\n[process.w]\ncommand = \"sleep 1000\"\nreplicas = 2\n",
        dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    pod.wait_file("ctl.sock", LIMIT);
    let ready = |cfg: &str| ctl_ok(cfg, &["status", "w"]).matches(" ready ").count();
    pod.wait_until("2 ready", LIMIT, || ready(&cfg) == 2);
    let pid_of_0 = |cfg: &str| {
        let j = ctl_ok(cfg, &["status", "w-0", "--json"]);
        j.split("\"pid\":")
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    let first = pid_of_0(&cfg);
    ctl_ok(&cfg, &["scale", "w", "4"]);
    pod.wait_until("4 ready", LIMIT, || ready(&cfg) == 4);
    ctl_ok(&cfg, &["scale", "w", "1"]);
    pod.wait_until("1 left", LIMIT, || {
        ctl_ok(&cfg, &["status", "w"]).lines().count() == 3
    });
    assert_eq!(pid_of_0(&cfg), first, "w-0 kept running throughout");
    let bad = Command::new(BIN)
        .args(["scale", "nope", "2", "-c", &cfg])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(text(&bad.stderr).contains("nope"), "{}", text(&bad.stderr));
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}

#[test]
fn uvicorn_serves_from_fd_3_across_a_restart() {
    need_root!();
    let have = Command::new("python3")
        .args(["-c", "import uvicorn"])
        .output();
    if !have.is_ok_and(|o| o.status.success()) {
        eprintln!("SKIPPED: uvicorn is not installed (pip install uvicorn)");
        return;
    }
    let port = free_port();
    let dir = TempDir::new("uvicorn");
    dir.write(
        "app.py",
        "import os\nasync def app(scope, receive, send):\n    if scope['type'] != 'http':\n        return\n    await send({'type': 'http.response.start', 'status': 200, 'headers': [(b'content-type', b'text/plain')]})\n    await send({'type': 'http.response.body', 'body': b'hello from uvicorn %d' % os.getpid()})\n",
    );
    let toml = format!(
        "[podinit]\ncontrol_socket = \"{d}/ctl.sock\"\n[process.web]\nworking_dir = \"{d}\"\n\
         command = [\"python3\", \"-m\", \"uvicorn\", \"--fd\", \"3\", \"app:app\"]\n\
         listen = [\"tcp:127.0.0.1:{port}\"]\n",
        d = dir.path().display()
    );
    let cfg = dir.write("pod.toml", &toml).to_string_lossy().into_owned();
    let pod = Pod::start_pid1(dir, &["-c", &cfg]);
    let get = || http_get(port, "hello from uvicorn");
    let first = await_ok("uvicorn's answer", LIMIT, get);
    pod.wait_file("ctl.sock", LIMIT);
    ctl_ok(&cfg, &["restart", "web"]);
    // Asked during the restart: answered, by the old run or the new one
    // (from the backlog), never refused.
    get().unwrap();
    pod.wait_until("the second run", LIMIT, || {
        pod.dir
            .read("podinit.stderr")
            .matches("web started")
            .count()
            == 2
    });
    let second = await_ok("the new run's answer", LIMIT, get);
    assert_ne!(
        first.lines().last(),
        second.lines().last(),
        "a new run answered"
    );
    let (out, _) = pod.terminate(LIMIT);
    assert_eq!(out.code(), 0, "{}", out.stderr);
}
