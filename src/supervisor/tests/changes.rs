//! `watch`: debounced restarts on change.

use super::*;

fn changed(s: &mut Sim, name: &str, path: &str) -> Vec<Action> {
    let idx = s.idx(name);
    s.feed(Input::Changed {
        idx,
        path: Some(path.into()),
    })
}

#[test]
fn a_burst_of_changes_gives_one_restart_after_the_quiet_period() {
    let cfg = pod(r#"
[process.app]
command = "app"
watch = ["src/**/*.py"]
watch_debounce = "300ms"
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("app");
    for k in 0..20 {
        s.now = s.t0 + Duration::from_millis(10 * k);
        assert_eq!(changed(&mut s, "app", &format!("src/f{k}.py")), vec![]);
    }
    assert_eq!(s.deadline_ms(), Some(490), "300ms after the last change");
    assert_eq!(s.at(490), vec![s.group("app", TERM)]);
    let said = s.events(EventKind::Changed);
    assert_eq!(
        said,
        ["app: src/f0.py changed (and 19 more file events); restarting it"]
    );
    assert_eq!(
        s.exited("app", ExitStatus::Signaled(TERM)),
        vec![s.spawn("app")]
    );
}

#[test]
fn a_crashed_process_starts_again_on_change_and_a_held_one_does_not() {
    let cfg = pod(r#"
[process.app]
command = "app"
restart = "never"
watch = ["*.rb"]
[process.other]
command = "other"
watch = ["*.rb"]
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("app");
    s.spawned("other");
    s.exited("app", ExitStatus::Code(1));
    assert_eq!(s.state("app"), State::Exited(ExitStatus::Code(1)));
    s.control(Control::Stop(1)).unwrap();
    s.exited("other", ExitStatus::Signaled(TERM));
    changed(&mut s, "app", "a.rb");
    changed(&mut s, "other", "a.rb");
    assert_eq!(s.at(300), vec![s.spawn("app")], "other stays stopped");
    assert!(s.events(EventKind::Changed)[0].contains("a.rb changed; starting it again"));
}
