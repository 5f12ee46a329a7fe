//! The config parser and validator never panic, whatever the text; a
//! config they accept describes itself and plans without a cycle.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::config;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let env = |k: &str| (k == "HOME").then(|| "/root".to_string());
    match config::parse(text, "fuzz.toml", None, &env) {
        Ok(cfg) => {
            let _ = config::describe(&cfg);
            // Every process is planned exactly once, after its dependencies.
            let order = cfg.plan.start_order();
            assert_eq!(order.len(), cfg.procs.len());
            for (pos, &i) in order.iter().enumerate() {
                for d in &cfg.procs[i].deps {
                    let dpos = order.iter().position(|&x| x == d.on).unwrap();
                    assert!(dpos < pos, "dependency planned after its dependent");
                }
            }
        }
        Err(e) => assert!(e.0.starts_with("fuzz.toml"), "error without the file name: {}", e.0),
    }
    let _ = config::parse(text, "fuzz.toml", Some(vec!["cmd".into()]), &env);
    // Layers: the text split in two files; an error names one of them.
    if let Some((a, b)) = text.split_once("\n#---\n") {
        let files = [("a.toml".to_string(), a.to_string()), ("b.toml".to_string(), b.to_string())];
        if let Err(e) = config::parse_layers(&files, None, &env) {
            assert!(e.0.starts_with("a.toml") || e.0.starts_with("b.toml") || e.0.starts_with("a.toml, b.toml"), "{}", e.0);
        }
    }
    // Schedules: any line parses or is refused; a cron time is later.
    for line in text.lines().take(4) {
        if let Ok(config::Schedule::Cron(c)) = config::Schedule::parse(line) {
            let t = 1_800_000_000;
            if let Some(n) = c.next_after(t, config::schedule::utc) {
                assert!(n > t);
            }
        }
    }
});
