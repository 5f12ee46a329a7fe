//! Start order, dependencies, the stop sequence, signals and the exit status.

use super::*;

#[test]
fn chain_starts_in_order_and_stops_in_reverse() {
    let cfg = pod(CHAIN);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("a")]);
    assert_eq!(s.spawned("a"), vec![s.spawn("b")]);
    assert_eq!(s.spawned("b"), vec![s.spawn("c")]);
    assert_eq!(s.spawned("c"), vec![]);
    assert_eq!(s.state("c"), State::Ready);
    assert_eq!(s.deadline_ms(), None, "an idle pod has no timer");

    // The main exits: b stops first, then a, then the strays, then exit.
    assert_eq!(s.exited("c", ExitStatus::Code(4)), vec![s.group("b", TERM)]);
    assert_eq!(s.state("b"), State::Stopping);
    assert_eq!(s.deadline_ms(), Some(5_000));
    assert_eq!(s.exited("b", ExitStatus::Code(0)), vec![s.group("a", TERM)]);
    assert_eq!(
        s.exited("a", ExitStatus::Signaled(TERM)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(4)]);
    assert!(s.sup.is_done());
}

#[test]
fn independent_processes_start_and_stop_in_parallel() {
    let cfg = pod(r#"
[process.x]
command = "x"
[process.y]
command = "y"
[process.z]
command = "z"
depends_on = ["x", "y"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("x"), s.spawn("y")]);
    assert_eq!(s.spawned("x"), vec![]);
    assert_eq!(s.spawned("y"), vec![s.spawn("z")]);
    s.spawned("z");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("z", TERM)]);
    let acts = s.exited("z", ExitStatus::Code(0));
    assert_eq!(acts, vec![s.group("y", TERM), s.group("x", TERM)]);
}

#[test]
fn started_condition_does_not_wait_for_readiness() {
    let cfg = pod(r#"
[process.db]
command = "db"
[process.app]
command = "app"
depends_on = { db = "started" }
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("db")]);
    assert_eq!(s.spawned("db"), vec![s.spawn("app")]);
}

#[test]
fn stop_timeout_sends_sigkill_exactly_on_time() {
    let cfg = pod(r#"
[process.stubborn]
command = "x"
stop_timeout = "2s"
main = true
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("stubborn");
    s.at(1000);
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("stubborn", TERM)]);
    assert_eq!(s.deadline_ms(), Some(3000));
    assert_eq!(s.at(2999), vec![]);
    assert_eq!(s.at(3000), vec![s.group("stubborn", KILL)]);
    assert_eq!(
        s.deadline_ms(),
        Some(31_000),
        "only the shutdown_timeout remains"
    );
    assert_eq!(
        s.exited("stubborn", ExitStatus::Signaled(KILL)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(137)]);
}

#[test]
fn second_term_kills_everything_at_once() {
    let (mut s, _) = Sim::new(&pod(CHAIN));
    for n in ["a", "b", "c"] {
        s.spawned(n);
    }
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("c", TERM)]);
    let acts = s.feed(Input::Signal(libc::SIGINT));
    assert_eq!(
        acts,
        vec![
            s.group("a", KILL),
            s.group("b", KILL),
            s.group("c", KILL),
            Action::Sweep(KILL)
        ]
    );
    s.exited("a", ExitStatus::Signaled(KILL));
    s.exited("c", ExitStatus::Signaled(KILL));
    assert_eq!(
        s.exited("b", ExitStatus::Signaled(KILL)),
        vec![Action::Sweep(KILL)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(137)]);
}

#[test]
fn shutdown_timeout_bounds_the_whole_shutdown() {
    let cfg = pod(r#"
[podinit]
shutdown_timeout = "5s"
[process.a]
command = "a"
stop_timeout = "4s"
[process.b]
command = "b"
depends_on = ["a"]
stop_timeout = "4s"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    s.spawned("b");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("b", TERM)]);
    assert_eq!(s.at(4000), vec![s.group("b", KILL)]);
    assert_eq!(
        s.exited("b", ExitStatus::Signaled(KILL)),
        vec![s.group("a", TERM)]
    );
    assert_eq!(
        s.deadline_ms(),
        Some(5000),
        "a's own 8 s deadline is cut to the shutdown's 5 s"
    );
    assert_eq!(s.at(5000), vec![s.group("a", KILL), Action::Sweep(KILL)]);
    assert_eq!(
        s.exited("a", ExitStatus::Signaled(KILL)),
        vec![Action::Sweep(KILL)]
    );
    assert_eq!(
        s.feed(Input::NoChildren),
        vec![Action::Exit(0)],
        "no main: a requested shutdown is 0"
    );
}

#[test]
fn strays_get_term_then_kill_after_the_grace() {
    let cfg = pod(r#"
[process.m]
command = "m"
main = true
stop_timeout = "3s"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("m");
    assert_eq!(
        s.exited("m", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    // Orphans die on TERM one by one; the pod waits for the table to empty.
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 999,
            status: ExitStatus::Signaled(TERM)
        }),
        vec![]
    );
    assert_eq!(s.deadline_ms(), Some(3000));
    assert_eq!(s.at(3000), vec![Action::Sweep(KILL)]);
    assert_eq!(s.deadline_ms(), None);
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);
}

#[test]
fn with_all_mains_the_pod_completes_when_the_last_main_ends() {
    let cfg = pod(
        "[podinit]\npod_ends = \"all-mains\"\n[process.a]\ncommand = \"a\"\nmain = true\n[process.b]\ncommand = \"b\"\nmain = true\n[process.side]\ncommand = \"s\"\n",
    );
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    s.spawned("b");
    s.spawned("side");
    // a fails first: nothing stops, b runs on.
    assert_eq!(s.exited("a", ExitStatus::Code(3)), vec![]);
    // b succeeds last: the pod completes, with the first failure's status.
    assert_eq!(
        s.exited("b", ExitStatus::Code(0)),
        vec![s.group("side", TERM)]
    );
    s.exited("side", ExitStatus::Signaled(TERM));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(3)]);
}

#[test]
fn exit_status_follows_the_main_and_its_success_codes() {
    let cases = [
        ("", ExitStatus::Code(3), 3),
        ("", ExitStatus::Code(0), 0),
        ("", ExitStatus::Signaled(KILL), 137),
        ("", ExitStatus::Signaled(TERM), 143),
        ("success_codes = [0, 143]", ExitStatus::Signaled(TERM), 0),
        ("success_codes = [0, 143]", ExitStatus::Code(143), 0),
        ("success_codes = [3]", ExitStatus::Code(0), 0),
    ];
    for (extra, status, want) in cases {
        let cfg = pod(&format!(
            "[process.m]\ncommand = \"m\"\nmain = true\n{extra}\n"
        ));
        let (mut s, _) = Sim::new(&cfg);
        s.spawned("m");
        s.exited("m", status);
        assert_eq!(
            s.feed(Input::NoChildren),
            vec![Action::Exit(want)],
            "{extra} {status:?}"
        );
    }
}

#[test]
fn a_main_that_cannot_execute_ends_the_pod_with_127() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["nope".into()], None));
    let acts = s.feed(Input::SpawnFailed {
        idx: 0,
        status: ExitStatus::Code(127),
    });
    assert_eq!(acts, vec![Action::Sweep(TERM)]);
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(127)]);
}

#[test]
fn requested_shutdown_returns_the_mains_own_status() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["x".into()], None));
    s.spawned("main");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("main", TERM)]);
    s.exited("main", ExitStatus::Code(42));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(42)]);
}

#[test]
fn drop_in_mode_stops_the_command_with_the_signal_received() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["x".into()], None));
    s.spawned("main");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGINT)),
        vec![s.group("main", libc::SIGINT)]
    );
    // HUP goes to the command too, as with tini.
    let mut s2 = Sim::new(&config::command_only(vec!["x".into()], None)).0;
    s2.spawned("main");
    assert_eq!(
        s2.feed(Input::Signal(libc::SIGHUP)),
        vec![Action::SignalProcess {
            idx: 0,
            pid: 100,
            sig: libc::SIGHUP
        }]
    );
}

#[test]
fn drop_in_mode_forwards_every_shutdown_signal_and_starts_no_timer() {
    let (mut s, _) = Sim::new(&config::command_only(vec!["java".into()], None));
    s.spawned("main");
    // INT, then QUIT, then TERM: each reaches the command, in order, and
    // none starts a stop timer or a forced kill (tini's behaviour).
    for sig in [libc::SIGINT, libc::SIGQUIT, TERM, libc::SIGQUIT, TERM] {
        assert_eq!(s.feed(Input::Signal(sig)), vec![s.group("main", sig)]);
        assert_eq!(s.deadline_ms(), None, "SIG{sig} armed a timer");
    }
    // A JVM's thread dump: it keeps running for as long as it likes.
    assert_eq!(s.at(60_000), vec![]);
    // The command's own status is podinit's once it exits.
    assert_eq!(
        s.exited("main", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);
}

#[test]
fn drop_in_mode_with_a_stop_timeout_kills_after_it() {
    let cfg = config::command_only(vec!["x".into()], Some(Duration::from_secs(10)));
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("main");
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("main", TERM)]);
    assert_eq!(s.deadline_ms(), Some(10_000));
    assert_eq!(s.at(10_000), vec![s.group("main", libc::SIGKILL)]);
}

#[test]
fn forwarding_goes_to_mains_or_to_all_when_there_is_none() {
    let usr1 = libc::SIGUSR1;
    let (mut s, _) = Sim::new(&pod(CHAIN));
    for n in ["a", "b", "c"] {
        s.spawned(n);
    }
    assert_eq!(
        s.feed(Input::Signal(usr1)),
        vec![Action::SignalProcess {
            idx: 2,
            pid: 102,
            sig: usr1
        }]
    );
    // HUP means reload with a config (the supervisor decides: read it
    // again); it is not forwarded.
    assert_eq!(
        s.feed(Input::Signal(libc::SIGHUP)),
        vec![Action::ReadConfig]
    );

    let cfg = pod("[process.a]\ncommand = \"a\"\n[process.b]\ncommand = \"b\"\n");
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGWINCH)),
        vec![Action::SignalProcess {
            idx: 0,
            pid: 100,
            sig: libc::SIGWINCH
        }],
        "b is not running: nothing to forward to"
    );

    let cfg = pod(
        "[process.a]\ncommand = \"a\"\nforward_signals = [\"USR2\"]\n[process.b]\ncommand = \"b\"\nmain = true\n",
    );
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("a");
    s.spawned("b");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGUSR2)),
        vec![
            Action::SignalProcess {
                idx: 0,
                pid: 100,
                sig: libc::SIGUSR2
            },
            Action::SignalProcess {
                idx: 1,
                pid: 101,
                sig: libc::SIGUSR2
            }
        ]
    );
}

#[test]
fn a_failed_oneshot_blocks_its_dependents_and_the_pod_fails() {
    let cfg = pod(r#"
[process.cache]
command = "cache"
[process.migrate]
command = "migrate"
oneshot = true
[process.app]
command = "app"
main = true
depends_on = ["migrate", "cache"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("cache"), s.spawn("migrate")]);
    s.spawned("cache");
    s.spawned("migrate");
    let acts = s.exited("migrate", ExitStatus::Code(1));
    assert_eq!(s.state("app"), State::Failed);
    assert_eq!(acts, vec![s.group("cache", TERM)]);
    s.exited("cache", ExitStatus::Signaled(TERM));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(1)]);
}

#[test]
fn a_completed_oneshot_unblocks_its_dependents() {
    let cfg = pod(r#"
[process.init]
command = "init"
oneshot = true
[process.app]
command = "app"
main = true
depends_on = ["init"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("init")]);
    assert_eq!(s.spawned("init"), vec![]);
    assert_eq!(s.exited("init", ExitStatus::Code(0)), vec![s.spawn("app")]);
    assert_eq!(s.state("init"), State::Completed);
}

#[test]
fn without_a_main_the_pod_ends_when_nothing_is_left() {
    let two = "[process.a]\ncommand = \"a\"\noneshot = true\n[process.b]\ncommand = \"b\"\noneshot = true\n";
    let (mut s, _) = Sim::new(&pod(two));
    s.spawned("a");
    s.spawned("b");
    assert_eq!(s.exited("a", ExitStatus::Code(0)), vec![]);
    assert_eq!(
        s.exited("b", ExitStatus::Code(0)),
        vec![Action::Sweep(TERM)]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(0)]);

    let (mut s, _) = Sim::new(&pod(two));
    s.spawned("a");
    s.spawned("b");
    s.exited("a", ExitStatus::Code(2));
    s.exited("b", ExitStatus::Code(0));
    assert_eq!(s.feed(Input::NoChildren), vec![Action::Exit(1)]);
}

#[test]
fn orphans_and_early_no_children_change_nothing() {
    let (mut s, _) = Sim::new(&pod(CHAIN));
    s.spawned("a");
    assert_eq!(
        s.feed(Input::Reaped {
            pid: 4242,
            status: ExitStatus::Code(0)
        }),
        vec![]
    );
    assert_eq!(s.feed(Input::NoChildren), vec![]);
    assert_eq!(s.state("a"), State::Ready);
}

#[test]
fn a_process_spawned_during_a_shutdown_is_stopped_at_once() {
    let (mut s, first) = Sim::new(&pod(CHAIN));
    assert_eq!(first, vec![s.spawn("a")]);
    // TERM arrives between Spawn and Spawned.
    assert_eq!(s.feed(Input::Signal(TERM)), vec![]);
    assert_eq!(s.spawned("a"), vec![s.group("a", TERM)]);
    assert_eq!(
        s.state("b"),
        State::Waiting,
        "nothing new starts in a shutdown"
    );
}

#[test]
fn quit_starts_a_shutdown_but_a_second_quit_does_not_force() {
    let (mut s, _) = Sim::new(&pod("[process.a]\ncommand = \"a\"\n"));
    s.spawned("a");
    assert_eq!(
        s.feed(Input::Signal(libc::SIGQUIT)),
        vec![s.group("a", TERM)]
    );
    assert_eq!(s.feed(Input::Signal(libc::SIGQUIT)), vec![]);
}

#[test]
fn many_processes_follow_the_plan() {
    // A 50-deep chain: every start waits for the one before, every stop for the one after.
    let mut toml = String::new();
    for i in 0..50 {
        toml += &format!("[process.p{i}]\ncommand = \"x\"\n");
        if i > 0 {
            toml += &format!("depends_on = [\"p{}\"]\n", i - 1);
        }
    }
    let cfg = pod(&toml);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(first, vec![s.spawn("p0")]);
    for i in 0..50 {
        let acts = s.spawned(&format!("p{i}"));
        if i < 49 {
            assert_eq!(acts, vec![s.spawn(&format!("p{}", i + 1))]);
        }
    }
    assert_eq!(s.feed(Input::Signal(TERM)), vec![s.group("p49", TERM)]);
    for i in (1..50).rev() {
        let acts = s.exited(&format!("p{i}"), ExitStatus::Code(0));
        assert_eq!(acts, vec![s.group(&format!("p{}", i - 1), TERM)]);
    }
}
