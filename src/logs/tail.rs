//! The latest output of each process, for `podinit logs` and its
//! followers, and the newline count behind `podinit_log_lines_total`.

/// The latest output of one process (both streams, in the order read),
/// bounded by its `log_buffer`, trimmed at line starts.
#[derive(Default)]
pub(super) struct Tail {
    pub(super) cap: usize,
    ring: std::collections::VecDeque<u8>,
    /// Someone follows it (`podinit logs -f`): new output is kept in
    /// `fresh` for the runtime to hand on.
    pub(super) watched: bool,
    pub(super) fresh: Vec<u8>,
}

impl Tail {
    pub(super) fn feed(&mut self, data: &[u8]) {
        if self.watched {
            self.fresh.extend_from_slice(data);
        }
        if self.cap == 0 {
            return;
        }
        // Only the last `cap` bytes of a big read can stay: copy no more,
        // starting at a line start.
        let data = if data.len() > self.cap {
            self.ring.clear();
            let from = data.len() - self.cap;
            let start = if data[from - 1] == b'\n' {
                from
            } else {
                data[from..]
                    .iter()
                    .position(|&b| b == b'\n')
                    .map_or(data.len(), |i| from + i + 1)
            };
            &data[start..]
        } else {
            data
        };
        self.ring.extend(data);
        if self.ring.len() > self.cap {
            let mut cut = self.ring.len() - self.cap;
            // Drop whole lines: cut after the next newline, if one is near.
            if let Some(nl) = self.ring.range(cut..).position(|&b| b == b'\n') {
                cut += nl + 1;
            }
            self.ring.drain(..cut.min(self.ring.len()));
        }
    }

    /// The last `n` lines (a last line without a newline counts).
    pub(super) fn last_lines(&self, n: usize) -> Vec<u8> {
        if n == 0 {
            return Vec::new();
        }
        let bytes: Vec<u8> = self.ring.iter().copied().collect();
        let body = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
        // After the n-th newline from the end of the body, else all of it.
        let start = body
            .iter()
            .enumerate()
            .rev()
            .filter(|&(_, &b)| b == b'\n')
            .nth(n - 1)
            .map_or(0, |(i, _)| i + 1);
        bytes[start..].to_vec()
    }
}

/// Newlines in `data`, eight bytes at a time (the router reads every
/// byte a pod writes: this runs at memory speed).
pub(super) fn bytecount_newlines(data: &[u8]) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut n = 0u64;
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let w =
            u64::from_ne_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ (ONES * 0x0a);
        // A zero byte of `w` is a newline of `c`: exact, no false positives.
        let zero = !((((w & !HIGH) + !HIGH) | w) | !HIGH);
        n += u64::from(zero.count_ones());
    }
    n + chunks.remainder().iter().filter(|&&b| b == b'\n').count() as u64
}

#[cfg(test)]
mod tests {
    use super::{Tail, bytecount_newlines};

    #[test]
    fn newlines_are_counted_exactly() {
        for text in [
            &b""[..],
            b"\n",
            b"a\nb\n\n\x0b\x8a\x0a",
            &[b'\n'; 37],
            &[0x8a; 19],
        ] {
            let want = text.iter().filter(|&&b| b == b'\n').count() as u64;
            assert_eq!(bytecount_newlines(text), want, "{text:?}");
        }
    }

    #[test]
    fn a_tail_keeps_the_latest_whole_lines() {
        let mut t = Tail {
            cap: 16,
            ..Tail::default()
        };
        t.feed(b"one\ntwo\nthree\nfour\n");
        // 19 bytes over a cap of 16: the partial first line goes.
        assert_eq!(t.last_lines(10), b"two\nthree\nfour\n");
        assert_eq!(t.last_lines(2), b"three\nfour\n");
        t.feed(b"fi");
        assert_eq!(t.last_lines(1), b"fi");
        assert_eq!(t.last_lines(0), b"");
        let mut off = Tail::default();
        off.feed(b"x\n");
        assert_eq!(off.last_lines(5), b"");
    }
}
