//! The syslog message parser never panics, whatever the datagram; its
//! console lines hold no control character but tab (a sender cannot drive
//! the operator's terminal), and its JSON lines are one line each.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::logs::syslog;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let m = syslog::parse(&text);
    let mut console = Vec::new();
    syslog::format(&m, false, "T", &mut console);
    for line in console.split(|&b| b == b'\n') {
        assert!(
            !line.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f),
            "a control character reached the console: {line:?}"
        );
    }
    let mut json = Vec::new();
    syslog::format(&m, true, "T", &mut json);
    for line in json.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(line.starts_with(b"{") && line.ends_with(b"}"), "{line:?}");
    }
});
