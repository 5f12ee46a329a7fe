//! Property tests of the value syntaxes and the dependency planner.

use podinit::config::units::{
    expand_vars, format_duration, parse_duration, parse_signal, signal_name,
};
use podinit::config::{Condition, Dep, parse_size};
use podinit::plan::levels;
use proptest::prelude::*;
use std::time::Duration;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn durations_round_trip(ms in 0u64..10_000_000) {
        let d = Duration::from_millis(ms);
        prop_assert_eq!(parse_duration(&format_duration(d)).unwrap(), d);
        prop_assert_eq!(parse_duration(&format!("{ms}ms")).unwrap(), d);
    }

    #[test]
    fn durations_never_panic(s in "\\PC{0,12}") {
        let _ = parse_duration(&s);
    }

    #[test]
    fn sizes_scale(n in 0u64..1_000_000, unit in prop::sample::select(vec![("B", 1u64), ("KiB", 1024), ("MiB", 1 << 20), ("KB", 1000), ("MB", 1_000_000)])) {
        prop_assert_eq!(parse_size(&format!("{n}{}", unit.0)).unwrap(), n * unit.1);
    }

    #[test]
    fn sizes_never_panic(s in "\\PC{0,24}") {
        let _ = parse_size(&s);
    }

    #[test]
    fn signal_names_round_trip(n in 1i32..=64) {
        // glibc reserves 32 and 33; every other number has a name.
        if n != 32 && n != 33 {
            let name = signal_name(n);
            prop_assert_eq!(parse_signal(&name).unwrap(), n);
            prop_assert_eq!(parse_signal(&format!("SIG{name}")).unwrap(), n);
            prop_assert_eq!(parse_signal(&name.to_lowercase()).unwrap(), n);
        }
        prop_assert_eq!(parse_signal(&n.to_string()).unwrap(), n);
    }

    #[test]
    fn signals_never_panic(s in "\\PC{0,16}") {
        let _ = parse_signal(&s);
    }

    #[test]
    fn shell_split_round_trips(argv in prop::collection::vec("[^\\x00]{1,12}", 1..6)) {
        let line = shlex::try_join(argv.iter().map(String::as_str)).unwrap();
        prop_assert_eq!(shlex::split(&line).unwrap(), argv);
    }

    #[test]
    fn expansion_without_dollars_is_identity(s in "[^$]{0,40}") {
        prop_assert_eq!(expand_vars(&s, &|_| None).unwrap(), s);
    }

    #[test]
    fn planner_orders_every_dag(edges in prop::collection::vec((0usize..30, 0usize..30), 0..80)) {
        // Edges only from higher to lower index: acyclic by construction.
        let n = 30;
        let mut deps = vec![Vec::new(); n];
        for (a, b) in edges {
            if a > b && !deps[a].contains(&b) {
                deps[a].push(b);
            }
        }
        let plan = levels(&deps).unwrap();
        let order = plan.start_order();
        prop_assert_eq!(order.len(), n);
        let level_of = |i: usize| plan.levels.iter().position(|l| l.contains(&i)).unwrap();
        for (i, ds) in deps.iter().enumerate() {
            for &d in ds {
                prop_assert!(level_of(d) < level_of(i), "{} depends on {} but is not later", i, d);
            }
            // Lowest possible level: one more than its deepest dependency.
            let want = ds.iter().map(|&d| level_of(d) + 1).max().unwrap_or(0);
            prop_assert_eq!(level_of(i), want);
        }
    }

    #[test]
    fn planner_reports_a_real_cycle(edges in prop::collection::vec((0usize..12, 0usize..12), 1..40)) {
        let n = 12;
        let mut deps = vec![Vec::new(); n];
        for (a, b) in edges {
            if !deps[a].contains(&b) {
                deps[a].push(b);
            }
        }
        if let Err(cycle) = levels(&deps) {
            // Each depends on the next, the last on the first.
            for w in 0..cycle.len() {
                let (a, b) = (cycle[w], cycle[(w + 1) % cycle.len()]);
                prop_assert!(deps[a].contains(&b), "{:?} is not a cycle", cycle);
            }
        }
    }
}

#[test]
fn deps_types_are_public() {
    // The fuzz targets and these tests use the library as an outsider would.
    let d = Dep {
        on: 0,
        cond: Condition::Ready,
    };
    assert_eq!(d.cond.as_str(), "ready");
}
