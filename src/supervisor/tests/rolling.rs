//! Replicas and rolling restarts.

use super::*;

#[test]
fn a_rolling_restart_takes_one_replica_at_a_time_each_after_the_last_is_ready() {
    let cfg = pod(r#"
[process.web]
command = "web {replica}"
replicas = 3
ready = { tcp = "127.0.0.1:8080" }
[process.after]
command = "after"
depends_on = ["web"]
"#);
    let (mut s, first) = Sim::new(&cfg);
    assert_eq!(
        first,
        vec![s.spawn("web-0"), s.spawn("web-1"), s.spawn("web-2")]
    );
    let mut id = 0;
    let mut ready = |s: &mut Sim, name: &str| {
        s.spawned(name);
        id += 1;
        s.feed(Input::ProbeResult {
            id,
            result: ProbeResult::pass("ok"),
        })
    };
    ready(&mut s, "web-0");
    ready(&mut s, "web-1");
    let acts = ready(&mut s, "web-2");
    assert_eq!(
        acts,
        vec![s.spawn("after")],
        "after waits for every replica"
    );
    let mut acts = Vec::new();
    for k in 0..3 {
        acts.extend(s.control(Control::Rolling(k)).unwrap());
    }
    assert_eq!(acts, vec![s.group("web-0", TERM)], "one at a time");
    assert_eq!(
        s.exited("web-0", ExitStatus::Signaled(TERM)),
        vec![s.spawn("web-0")]
    );
    assert_eq!(s.at(10), vec![], "web-1 waits until web-0 is ready again");
    let acts = ready(&mut s, "web-0");
    assert_eq!(acts, vec![s.group("web-1", TERM)]);
    let ready_now = ["web-0", "web-1", "web-2"]
        .iter()
        .filter(|n| s.state(n) == State::Ready)
        .count();
    assert_eq!(ready_now, 2, "never fewer than N-1 ready");
    assert_eq!(
        s.sup.specs()[0].env.last(),
        Some(&("PODINIT_REPLICA".into(), "0".into()))
    );
    assert_eq!(s.sup.specs()[2].argv, ["web", "2"]);
}

#[test]
fn any_ready_waits_for_one_replica_only() {
    let cfg = pod(r#"
[process.web]
command = "web"
replicas = 2
ready = { tcp = "127.0.0.1:8080" }
[process.lb]
command = "lb"
depends_on = { web = "any-ready" }
"#);
    let (mut s, _) = Sim::new(&cfg);
    s.spawned("web-0");
    s.spawned("web-1");
    let acts = s.feed(Input::ProbeResult {
        id: 2,
        result: ProbeResult::pass("ok"),
    });
    assert_eq!(acts, vec![s.spawn("lb")], "web-1 ready is enough");
}
