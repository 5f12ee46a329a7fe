//! Control verbs and reload.

use super::*;

#[test]
fn stop_holds_a_process_down_until_start() {
    let (mut s, _) = Sim::new(&pod(
        "[process.w]\ncommand = \"w\"\n[process.m]\ncommand = \"m\"\nmain = true\n",
    ));
    s.spawned("w");
    s.spawned("m");
    let w = s.idx("w");
    assert_eq!(
        s.control(Control::Stop(w)).unwrap(),
        vec![s.group("w", TERM)]
    );
    assert!(s.control(Control::Stop(w)).is_err(), "stopping twice");
    // start while that stop is in flight: it starts once it has exited.
    assert_eq!(s.control(Control::Start(w)).unwrap(), vec![]);
    assert_eq!(
        s.exited("w", ExitStatus::Signaled(TERM)),
        vec![s.spawn("w")]
    );
    s.spawned("w");
    assert_eq!(
        s.control(Control::Stop(w)).unwrap(),
        vec![s.group("w", TERM)]
    );
    assert_eq!(s.exited("w", ExitStatus::Signaled(TERM)), vec![]);
    assert_eq!(s.state("w"), State::Exited(ExitStatus::Signaled(TERM)));
    assert_eq!(s.at(60_000), vec![], "no restart despite restart = always");
    assert_eq!(s.control(Control::Start(w)).unwrap(), vec![s.spawn("w")]);
    s.spawned("w");
    assert!(s.control(Control::Start(w)).is_err(), "already running");
    // restart: stop, then spawn at once, no backoff.
    assert_eq!(
        s.control(Control::Restart(w)).unwrap(),
        vec![s.group("w", TERM)]
    );
    assert_eq!(s.exited("w", ExitStatus::Code(0)), vec![s.spawn("w")]);
    s.spawned("w");
    assert_eq!(
        s.control(Control::Signal(w, libc::SIGUSR2)).unwrap(),
        vec![Action::SignalProcess {
            idx: w,
            pid: 100,
            sig: libc::SIGUSR2
        }]
    );
}

#[test]
fn reload_diffs_by_name_with_stable_indices() {
    let old = pod(
        "[process.keep]\ncommand = \"k\"\n[process.change]\ncommand = \"c\"\n[process.gone]\ncommand = \"g\"\n",
    );
    let (mut s, _) = Sim::new(&old);
    for n in ["keep", "change", "gone"] {
        s.spawned(n);
    }
    let new = pod(
        "[process.fresh]\ncommand = \"f\"\ndepends_on = [\"keep\"]\n[process.keep]\ncommand = \"k\"\n[process.change]\ncommand = \"c2\"\n",
    );
    let acts = s.feed(Input::Reload(Box::new(new)));
    // fresh is appended as index 3; change (1) restarts; gone (2) stops.
    // New log streams come first, for the new and the changed.
    assert_eq!(
        acts,
        vec![
            Action::Rewire(3),
            Action::Rewire(1),
            Action::SignalGroup {
                idx: 1,
                pid: 101,
                sig: TERM
            },
            Action::SignalGroup {
                idx: 2,
                pid: 102,
                sig: TERM
            },
            Action::Spawn(3)
        ]
    );
    assert_eq!(s.sup.current(), vec![0, 1, 3]);
    assert_eq!(
        s.sup.specs()[3].deps[0].on,
        0,
        "dependencies are remapped to stable indices"
    );
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 101,
            status: ExitStatus::Signaled(TERM)
        }),
        vec![Action::Spawn(1)]
    );
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 102,
            status: ExitStatus::Signaled(TERM)
        }),
        vec![]
    );
    assert_eq!(
        s.sup.procs()[2].state,
        State::Exited(ExitStatus::Signaled(TERM))
    );
    assert_eq!(s.sup.procs()[0].pid, Some(100), "untouched keeps running");
}

#[test]
fn reload_requests_are_inputs_and_refusals_are_events() {
    let cfg = pod("[process.a]\ncommand = \"a\"\n");
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    assert_eq!(s.control(Control::Reload), Ok(vec![Action::ReadConfig]));
    // A config that did not parse changes nothing, and says why.
    assert_eq!(
        s.feed(Input::ReloadFailed("pod.toml:3: bad".into())),
        vec![]
    );
    assert_eq!(
        s.events(EventKind::Refused),
        vec!["reload failed, nothing changed: pod.toml:3: bad".to_string()]
    );
    // Without a config file (drop-in mode) there is nothing to reload.
    let (mut d, _) = Sim::new(&config::command_only(vec!["sleep".into()], None));
    assert!(
        d.control(Control::Reload)
            .unwrap_err()
            .contains("nothing to reload")
    );
    // During a shutdown, nothing is asked of the pod any more.
    s.feed(Input::Signal(TERM));
    let a = s.idx("a");
    assert_eq!(
        s.control(Control::Start(a)),
        Err("the pod is shutting down".to_string())
    );
}

#[test]
fn the_sigkill_warning_names_what_was_sent_even_after_a_reload() {
    let old = pod("[process.a]\ncommand = \"a\"\nstop_signal = \"INT\"\nstop_timeout = \"2s\"\n");
    let (mut s, _) = Sim::new(&old);
    s.spawned("a");
    let new = pod("[process.a]\ncommand = \"a2\"\nstop_signal = \"TERM\"\nstop_timeout = \"9s\"\n");
    let acts = s.feed(Input::Reload(Box::new(new)));
    assert!(
        acts.contains(&s.group("a", libc::SIGINT)),
        "stopped as the old spec said: {acts:?}"
    );
    s.sup.take_events();
    assert_eq!(s.at(2_000), vec![s.group("a", KILL)]);
    assert_eq!(
        s.events(EventKind::Killed),
        vec!["a did not stop within 2s of SIGINT; sending SIGKILL".to_string()]
    );
}

#[test]
fn decisions_come_back_as_events() {
    let (mut s, _) = Sim::new(&pod(CHAIN));
    s.spawned("a");
    assert_eq!(
        s.events(EventKind::Started),
        vec!["a started (pid 100)".to_string()]
    );
    s.spawned("b");
    s.spawned("c");
    s.exited("c", ExitStatus::Code(4));
    let shutdown = s.events(EventKind::Shutdown);
    assert_eq!(
        shutdown,
        vec!["main process c ended; shutting the pod down (exit status 4)".to_string()]
    );
}

#[test]
fn health_says_which_process_is_not_ready_and_why() {
    let cfg = pod(r#"
[process.migrate]
command = "m"
oneshot = true
[process.web]
command = "w"
depends_on = ["migrate"]
ready = { http = "http://127.0.0.1:80/" }
[process.db]
command = "d"
critical = true
max_restarts = 0
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("migrate");
    s.spawned("db");
    let e = s.sup.health(Check::Ready).unwrap_err();
    assert_eq!(
        e,
        "not ready: migrate has not completed (it is ready); web is waiting"
    );
    assert_eq!(s.sup.health(Check::Live), Ok("live".to_string()));
    s.exited("migrate", ExitStatus::Code(0));
    let probe = s.spawned("web");
    let e = s.sup.health(Check::Ready).unwrap_err();
    assert_eq!(e, "not ready: web is running");
    // Its probe fails: the reason is in the answer.
    let Some(Action::Probe { id, .. }) = probe.first().cloned() else {
        panic!("{probe:?}")
    };
    s.feed(Input::ProbeResult {
        id,
        result: ProbeResult::fail("HTTP 503"),
    });
    assert_eq!(
        s.sup.health(Check::Ready).unwrap_err(),
        "not ready: web is running (HTTP 503)"
    );
    // Stopped by the operator: not awaited.
    let web = s.idx("web");
    s.control(Control::Stop(web)).unwrap();
    s.exited("web", ExitStatus::Signaled(TERM));
    assert_eq!(
        s.sup.health(Check::Ready),
        Ok("ready: 3 processes".to_string())
    );
    // A critical process failing for good: neither ready nor live.
    s.exited("db", ExitStatus::Code(1));
    assert!(s.sup.health(Check::Live).is_err());
}

#[test]
fn sd_notify_watchdog_mainpid_and_reloading() {
    let cfg = pod(r#"
[process.d]
command = "d"
ready = { sd_notify = true }
watchdog = "1s"
restart_delay = "100ms"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("d");
    let d = s.idx("d");
    let msg = |t: &[u8]| Input::SdNotify {
        idx: d,
        msg: SdMessage::parse(t),
    };
    s.feed(msg(b"READY=1\nSTATUS=up"));
    assert_eq!(s.state("d"), State::Ready);
    assert_eq!(s.sup.procs()[d].status_text.as_deref(), Some("up"));
    // Pings push the deadline; EXTEND_TIMEOUT_USEC further.
    s.at(900);
    s.feed(msg(b"WATCHDOG=1"));
    assert_eq!(s.deadline_ms(), Some(1900));
    s.feed(msg(b"EXTEND_TIMEOUT_USEC=3000000"));
    assert_eq!(s.deadline_ms(), Some(3900));
    // RELOADING=1: not ready until READY=1 again.
    s.feed(msg(b"RELOADING=1"));
    assert_eq!(s.state("d"), State::Running);
    s.feed(msg(b"READY=1"));
    assert_eq!(s.state("d"), State::Ready);
    // MAINPID: a forking daemon's real pid is tracked from now on.
    s.feed(msg(b"MAINPID=4242"));
    assert_eq!(s.sup.procs()[d].pid, Some(4242));
    // A missed deadline: stopped (the new pid's group), then restarted.
    let acts = s.at(2900 + 1000);
    assert_eq!(
        acts,
        vec![Action::SignalGroup {
            idx: d,
            pid: 4242,
            sig: TERM
        }]
    );
    s.feed(Input::Reaped {
        pid: 4242,
        status: ExitStatus::Signaled(TERM),
    });
    assert_eq!(
        s.sup.procs()[d].last_exit_reason,
        Some(ExitReason::Watchdog)
    );
    assert_eq!(s.state("d"), State::Backoff);
}

#[test]
fn a_manual_process_waits_for_podinit_start() {
    let cfg = pod(r#"
[process.tool]
command = "tool"
start = "manual"
[process.app]
command = "app"
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("app")]);
    assert_eq!(s.sup.procs()[0].state_name(), "stopped");
    assert_eq!(s.control(Control::Start(0)).unwrap(), vec![s.spawn("tool")]);
}
