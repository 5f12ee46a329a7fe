//! One bounded table of non-blocking stream clients, for every server
//! podinit runs on a stream socket (the control socket, HTTP): its budget
//! (clients, bytes, time), what happens when each runs out, and the
//! accept loop that never spins when the fd limit is reached.
//!
//! The rules (RELIABILITY.md, "Servers and their budgets"):
//! - A full table never refuses a newcomer: it evicts the oldest client
//!   that has not completed its request (else the oldest being answered),
//!   so a complete request — a probe, an operator's verb — is always
//!   served, and a flood of slow or silent clients only evicts itself.
//! - Followers (`events`, `logs -f`) have a budget of their own and never
//!   take the slots of one-shot requests.
//! - A request must be complete within `head_timeout` of its accept; an
//!   answer must be read within `answer_timeout`.
//! - `accept` failing with EMFILE/ENFILE: the oldest incomplete client is
//!   evicted to free an fd, else podinit's spare fd is given up to take the
//!   connection and close it; the listener never stays readable for
//!   nothing, and a warning names the limit once.
//!
//! Boundary: slots and their deadlines; no protocol, no epoll.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::time::{Duration, Instant};

/// What one server allows.
#[derive(Clone, Copy, Debug)]
pub struct Budget {
    /// Clients with a request in progress or an answer going out.
    pub requests: usize,
    /// Clients that follow (`events`, `logs -f`), on top of `requests`.
    pub followers: usize,
    /// A request's bytes (line and headers).
    pub max_request: usize,
    /// From accept to a complete request.
    pub head_timeout: Duration,
    /// For the client to read its answer.
    pub answer_timeout: Duration,
}

pub struct Slot<S, F> {
    pub stream: S,
    /// What the client sent so far.
    pub buf: Vec<u8>,
    pub deadline: Instant,
    /// The answer being written, and how much of it is out.
    pub out: Option<(Vec<u8>, usize)>,
    /// A follower's subject; followers have no deadline.
    pub follow: Option<F>,
}

pub struct Table<S, F> {
    slots: HashMap<u64, Slot<S, F>>,
    next_id: u64,
    pub budget: Budget,
}

impl<S: AsRawFd, F: Copy> Table<S, F> {
    pub fn new(budget: Budget) -> Table<S, F> {
        Table {
            slots: HashMap::new(),
            next_id: 1,
            budget,
        }
    }

    /// Accepts what is waiting (`accept` is the listener's, non-blocking).
    /// `admit` may refuse a client (it answers it itself; false drops
    /// it). Returns the new clients to watch, and the clients evicted to
    /// make room (unwatch, then drop them). At the fd limit, `free_fd` may
    /// free one elsewhere (another server's client) before this table's own
    /// are evicted.
    pub fn accept(
        &mut self,
        now: Instant,
        accept: &mut dyn FnMut() -> io::Result<S>,
        admit: &mut dyn FnMut(&mut S) -> bool,
        free_fd: &mut dyn FnMut() -> bool,
    ) -> (Vec<(u64, RawFd)>, Vec<S>) {
        let (mut new, mut evicted) = (Vec::new(), Vec::new());
        // At most a table's worth per wake-up: a client accepted in this
        // batch is read before the next batch can evict it (a flood of
        // reconnects would otherwise evict a probe before its request was
        // read). The listener stays readable; the loop comes back.
        while new.len() < self.budget.requests {
            let mut stream = match accept() {
                Ok(s) => s,
                Err(e) if out_of_fds(&e) => {
                    warn_fd_limit_once();
                    if free_fd() {
                        continue;
                    }
                    match self.evict_one() {
                        // Closed now, so that its fd is free for the retry
                        // (closing it also takes it out of epoll).
                        Some(old) => drop(old),
                        // Nothing to evict: take the connection with the
                        // spare fd and close it, so it is not offered again.
                        None if crate::sys::with_spare_fd(&mut || drop(accept())) => {}
                        None => break,
                    }
                    continue;
                }
                Err(_) => break, // WouldBlock: all taken; else try next time
            };
            if !admit(&mut stream) {
                continue;
            }
            if self.requests() >= self.budget.requests
                && let Some(old) = self.evict_one()
            {
                evicted.push(old);
            }
            let id = self.insert(stream, now);
            new.push((id, self.slots[&id].stream.as_raw_fd()));
        }
        (new, evicted)
    }

    /// Adds a client (already accepted and non-blocking): its id.
    pub fn insert(&mut self, stream: S, now: Instant) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        let slot = Slot {
            stream,
            buf: Vec::new(),
            deadline: now + self.budget.head_timeout,
            out: None,
            follow: None,
        };
        self.slots.insert(id, slot);
        id
    }

    /// Clients holding a request slot (followers do not).
    pub fn requests(&self) -> usize {
        self.slots.values().filter(|s| s.follow.is_none()).count()
    }

    pub fn followers(&self) -> usize {
        self.slots.values().filter(|s| s.follow.is_some()).count()
    }

    /// The oldest client without a complete request, removed; its stream.
    pub fn evict_incomplete(&mut self) -> Option<S> {
        let id = self
            .slots
            .iter()
            .filter(|(_, s)| s.follow.is_none() && s.out.is_none())
            .map(|(&id, _)| id)
            .min()?;
        self.remove(id)
    }

    /// The oldest client without a complete request, else the oldest being
    /// answered; never a follower. Removed; its stream.
    fn evict_one(&mut self) -> Option<S> {
        if let Some(s) = self.evict_incomplete() {
            return Some(s);
        }
        let id = self
            .slots
            .iter()
            .filter(|(_, s)| s.follow.is_none())
            .map(|(&id, _)| id)
            .min()?;
        self.remove(id)
    }

    pub fn get_mut(&mut self, id: u64) -> Option<&mut Slot<S, F>> {
        self.slots.get_mut(&id)
    }

    pub fn get(&self, id: u64) -> Option<&Slot<S, F>> {
        self.slots.get(&id)
    }

    pub fn remove(&mut self, id: u64) -> Option<S> {
        self.slots.remove(&id).map(|s| s.stream)
    }

    /// Starts an answer: it must be read within `answer_timeout`.
    pub fn answer(&mut self, id: u64, text: Vec<u8>, now: Instant) -> bool {
        let timeout = self.budget.answer_timeout;
        let Some(s) = self.slots.get_mut(&id) else {
            return false;
        };
        s.out = Some((text, 0));
        s.deadline = now + timeout;
        true
    }

    /// Makes client `id` a follower of `what`, if the followers' budget
    /// has room (false: it stays a request, to be answered with a refusal).
    pub fn follow(&mut self, id: u64, what: F) -> bool {
        if self.followers() >= self.budget.followers {
            return false;
        }
        match self.slots.get_mut(&id) {
            Some(s) => {
                s.follow = Some(what);
                true
            }
            None => false,
        }
    }

    /// Every slot, for followers' fan-out.
    pub fn iter(&self) -> impl Iterator<Item = (u64, &Slot<S, F>)> {
        self.slots.iter().map(|(&id, s)| (id, s))
    }

    /// Clients past their deadline: removed; their streams.
    pub fn expire(&mut self, now: Instant) -> Vec<S> {
        let late: Vec<u64> = self
            .slots
            .iter()
            .filter(|(_, s)| s.follow.is_none() && now >= s.deadline)
            .map(|(&id, _)| id)
            .collect();
        late.into_iter().filter_map(|id| self.remove(id)).collect()
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.slots
            .values()
            .filter(|s| s.follow.is_none())
            .map(|s| s.deadline)
            .min()
    }
}

fn out_of_fds(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE))
}

fn warn_fd_limit_once() {
    use std::sync::atomic::{AtomicBool, Ordering};
    static SAID: AtomicBool = AtomicBool::new(false);
    if !SAID.swap(true, Ordering::Relaxed) {
        let limit = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
            .map(|(soft, _)| soft.to_string())
            .unwrap_or_else(|_| "?".into());
        log::warn!(
            "out of file descriptors (podinit's limit is {limit}): new clients are closed at once, and the oldest incomplete ones evicted; raise the container's nofile limit"
        );
    }
}

/// Reads what a client sent into its slot: `Ok(true)` at end of input (the
/// client shut its write side or left), `Err` on an error or a request over
/// `max` bytes. Never blocks (the stream is non-blocking).
pub fn read_into(stream: &mut impl io::Read, buf: &mut Vec<u8>, max: usize) -> io::Result<bool> {
    let mut chunk = [0u8; 1024];
    loop {
        match stream.read(&mut chunk) {
            Ok(0) => return Ok(true),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
        if buf.len() > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "request too large",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fake(RawFd);
    impl AsRawFd for Fake {
        fn as_raw_fd(&self) -> RawFd {
            self.0
        }
    }

    fn table() -> Table<Fake, u8> {
        Table::new(Budget {
            requests: 3,
            followers: 2,
            max_request: 64,
            head_timeout: Duration::from_secs(2),
            answer_timeout: Duration::from_secs(5),
        })
    }

    /// Accepts `fds` as they come.
    fn take(t: &mut Table<Fake, u8>, now: Instant, fds: &[RawFd]) -> (Vec<RawFd>, Vec<RawFd>) {
        let mut queue: Vec<RawFd> = fds.iter().rev().copied().collect();
        let mut accept = || {
            queue
                .pop()
                .map(Fake)
                .ok_or(io::ErrorKind::WouldBlock.into())
        };
        let (new, evicted) = t.accept(now, &mut accept, &mut |_| true, &mut || false);
        (
            new.into_iter().map(|(_, fd)| fd).collect(),
            evicted.into_iter().map(|s| s.0).collect(),
        )
    }

    #[test]
    fn a_full_table_evicts_the_oldest_incomplete_client_not_the_newcomer() {
        let mut t = table();
        let now = Instant::now();
        assert_eq!(take(&mut t, now, &[10, 11, 12]), (vec![10, 11, 12], vec![]));
        // 11 has its answer going out: 10, then 12, are evicted first.
        assert!(t.answer(2, b"ok\n".to_vec(), now));
        assert_eq!(take(&mut t, now, &[13]), (vec![13], vec![10]));
        assert_eq!(take(&mut t, now, &[14]), (vec![14], vec![12]));
        assert_eq!(take(&mut t, now, &[15]), (vec![15], vec![13]));
        // All incomplete ones newer than 11: then the oldest answer goes.
        assert!(t.answer(5, b"ok\n".to_vec(), now));
        assert!(t.answer(6, b"ok\n".to_vec(), now));
        assert_eq!(take(&mut t, now, &[16]), (vec![16], vec![11]));
    }

    #[test]
    fn followers_have_their_own_budget_and_are_never_evicted() {
        let mut t = table();
        let now = Instant::now();
        take(&mut t, now, &[10, 11, 12]);
        assert!(t.follow(1, 7) && t.follow(2, 7));
        assert!(!t.follow(3, 7), "a third follower is over the budget");
        assert_eq!((t.requests(), t.followers()), (1, 2));
        // Three request slots are free again for one-shot clients.
        assert_eq!(take(&mut t, now, &[13, 14]), (vec![13, 14], vec![]));
        assert_eq!(take(&mut t, now, &[15]), (vec![15], vec![12]));
        assert!(t.get(1).is_some() && t.get(2).is_some());
    }

    #[test]
    fn deadlines_count_from_accept_and_from_the_answer() {
        let mut t = table();
        let now = Instant::now();
        take(&mut t, now, &[10, 11]);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(2)));
        t.answer(2, Vec::new(), now + Duration::from_secs(1));
        let gone: Vec<RawFd> = t
            .expire(now + Duration::from_secs(2))
            .into_iter()
            .map(|s| s.0)
            .collect();
        assert_eq!(gone, vec![10]);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_secs(6)));
        t.follow(2, 1);
        assert_eq!(t.next_deadline(), None, "followers have no deadline");
    }

    #[test]
    fn out_of_fds_evicts_an_incomplete_client_and_never_spins() {
        let mut t = table();
        let now = Instant::now();
        take(&mut t, now, &[10]);
        let mut calls = 0;
        let mut accept = || {
            calls += 1;
            match calls {
                1 => Err(io::Error::from_raw_os_error(libc::EMFILE)),
                2 => Ok(Fake(20)),
                _ => Err(io::ErrorKind::WouldBlock.into()),
            }
        };
        let (new, evicted) = t.accept(now, &mut accept, &mut |_| true, &mut || false);
        assert!(evicted.is_empty(), "closed at once, to free its fd");
        assert!(t.get(1).is_none());
        assert_eq!(new.iter().map(|n| n.1).collect::<Vec<_>>(), vec![20]);
        assert_eq!(calls, 3);
    }

    #[test]
    fn a_request_is_read_to_its_end_and_bounded() {
        let mut buf = Vec::new();
        let mut half_closed: &[u8] = b"GET /readyz HTTP/1.1\r\n\r\n";
        assert!(read_into(&mut half_closed, &mut buf, 64).unwrap());
        assert_eq!(buf, b"GET /readyz HTTP/1.1\r\n\r\n");
        let mut big: &[u8] = &[b'x'; 5000];
        assert!(read_into(&mut big, &mut Vec::new(), 4096).is_err());
    }
}
