//! The HTTP request reader never panics, whatever the bytes and however
//! they are cut: a head is partial, a GET of a path, or refused with a
//! status; what is complete stays complete as more bytes arrive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use podinit::control::http::{Head, parse_head};

fuzz_target!(|data: &[u8]| {
    let max = 4096;
    for eof in [false, true] {
        let whole = parse_head(data, eof, max);
        if let Head::Refuse(code, _) = &whole {
            assert!(matches!(code, 400 | 405 | 431), "{code}");
        }
        if eof {
            assert_ne!(whole, Head::Partial, "at the end of input a head is decided");
        }
    }
    // Byte by byte, as a slow client sends it: once decided, it stays.
    let mut decided = None;
    for n in 0..=data.len().min(600) {
        let h = parse_head(&data[..n], false, max);
        if let Some(d) = &decided {
            assert_eq!(&h, d, "a complete head changed with more bytes");
        } else if h != Head::Partial {
            decided = Some(h);
        }
    }
});
