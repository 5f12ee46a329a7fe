//! `post_start` and `pre_stop`: what waits for them, and the one stop budget.

use super::*;

fn hook(s: &Sim, name: &str, id: u64, role: Role) -> Action {
    Action::Probe {
        id,
        idx: s.idx(name),
        pid: s.pid(name),
        role,
    }
}

fn pass(id: u64) -> Input {
    Input::ProbeResult {
        id,
        result: ProbeResult::pass("exit status 0"),
    }
}

#[test]
fn post_start_gates_started_dependents_and_readiness() {
    let cfg = pod(r#"
[process.proxy]
command = "proxy"
post_start = { exec = "warm-up", timeout = "5s" }
[process.app]
command = "app"
depends_on = { proxy = "started" }
main = true
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("proxy")]);
    assert_eq!(
        s.spawned("proxy"),
        vec![hook(&s, "proxy", 1, Role::PostStart)]
    );
    assert_eq!(
        s.state("proxy"),
        State::Running,
        "not ready during its hook"
    );
    assert_eq!(s.deadline_ms(), Some(5000), "the hook's timeout");
    assert_eq!(s.at(1000), vec![], "app waits for the hook");
    assert_eq!(s.feed(pass(1)), vec![s.spawn("app")]);
    assert_eq!(s.state("proxy"), State::Ready);
}

#[test]
fn a_failed_post_start_stops_the_process_and_its_policy_restarts_it() {
    let cfg = pod(r#"
[process.svc]
command = "svc"
restart = "always"
restart_delay = "1s"
post_start = { http = "http://127.0.0.1:1/x" }
pre_stop = { sleep = "3s" }
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("svc");
    let acts = s.feed(Input::ProbeResult {
        id: 1,
        result: ProbeResult::fail("connection refused"),
    });
    assert_eq!(
        acts,
        vec![s.group("svc", TERM)],
        "no pre_stop after a failed post_start"
    );
    let said = s.events(EventKind::Hook);
    assert!(
        said.iter()
            .any(|e| e.contains("post_start hook failed (connection refused)")),
        "{said:?}"
    );
    s.exited("svc", ExitStatus::Signaled(TERM));
    assert_eq!(s.state("svc"), State::Backoff);
    assert_eq!(s.sup.procs()[0].last_exit_reason, Some(ExitReason::Hook));
}

#[test]
fn pre_stop_runs_before_the_stop_signal_within_the_stop_timeout() {
    let cfg = pod(r#"
[process.web]
command = "web"
stop_timeout = "10s"
pre_stop = { exec = ["drain"], timeout = "60s" }
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("web");
    assert_eq!(
        s.feed(Input::Signal(TERM)),
        vec![hook(&s, "web", 1, Role::PreStop)]
    );
    assert_eq!(s.state("web"), State::Stopping);
    assert_eq!(
        s.deadline_ms(),
        Some(10_000),
        "one budget: the stop_timeout bounds the hook"
    );
    assert_eq!(s.at(2000), vec![]);
    assert_eq!(s.feed(pass(1)), vec![s.group("web", TERM)]);
    assert_eq!(
        s.at(10_000),
        vec![s.group("web", KILL)],
        "the budget counts from the stop"
    );
}

#[test]
fn a_pre_stop_that_outlasts_the_budget_is_given_up_and_the_process_killed() {
    let cfg = pod(r#"
[process.web]
command = "web"
stop_timeout = "2s"
pre_stop = { sleep = "30s" }
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("web");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![], "a sleep runs nothing");
    assert_eq!(s.at(2000), vec![s.group("web", TERM), s.group("web", KILL)]);
    let killed = s.events(EventKind::Killed);
    assert!(
        killed[0].contains("its pre_stop hook and SIGTERM"),
        "{killed:?}"
    );
}

#[test]
fn in_a_shutdown_every_pre_stop_starts_at_once_but_signals_keep_the_order() {
    // A sidecar's preStop runs with the main's; its signal waits for the main.
    let cfg = pod(r#"
[process.proxy]
command = "proxy"
pre_stop = { sleep = "1s" }
[process.app]
command = "app"
depends_on = ["proxy"]
pre_stop = { exec = "drain" }
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("proxy");
    s.spawned("app");
    let acts = s.feed(Input::Signal(TERM));
    assert_eq!(acts, vec![hook(&s, "app", 1, Role::PreStop)]);
    assert_eq!(s.at(1000), vec![], "proxy's hook is over; app is still up");
    assert_eq!(s.feed(pass(1)), vec![s.group("app", TERM)]);
    assert_eq!(
        s.exited("app", ExitStatus::Signaled(TERM)),
        vec![s.group("proxy", TERM)]
    );
}

#[test]
fn an_exit_during_a_hook_cancels_it_and_a_new_run_runs_pre_stop_again() {
    let cfg = pod(r#"
[process.w]
command = "w"
restart = "always"
restart_delay = "100ms"
pre_stop = { exec = "bye" }
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("w");
    assert_eq!(
        s.control(Control::Restart(0)).unwrap(),
        vec![hook(&s, "w", 1, Role::PreStop)]
    );
    let acts = s.exited("w", ExitStatus::Code(0));
    assert!(acts.contains(&Action::CancelProbe { id: 1 }), "{acts:?}");
    assert!(acts.contains(&s.spawn("w")), "{acts:?}");
    s.spawned("w");
    assert_eq!(
        s.control(Control::Stop(0)).unwrap(),
        vec![hook(&s, "w", 2, Role::PreStop)]
    );
}
