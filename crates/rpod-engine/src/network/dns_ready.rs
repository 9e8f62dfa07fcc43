//! Waiting for aardvark-dns to answer for a container before its process starts.
//!
//! netavark writes aardvark-dns's configuration and signals it (or starts it), then returns
//! at once; aardvark-dns loads the new entries and binds its listeners on its own time. A
//! container whose first instruction looks a name up could ask before that, and get
//! "connection refused" from its network's gateway (a busy host makes the window tens of
//! milliseconds). So after the setup, each gateway that serves DNS is asked for the
//! container's own name, from the host, until it answers with an address: then the
//! listener is up and knows the container. A name DNS cannot carry as one label
//! (`tender_northcutt`, every random name) is asked by the short ID aardvark-dns also
//! answers for: any answer at all could come from the listener before its reload, which
//! then drops its sockets for a moment. Bounded: a gateway that does not answer in time
//! leaves the container to start as it would have.
//!
//! The query is written by hand: it is one fixed question of a dozen bytes, and the answer
//! is only checked for its ID and its count of answers, for which no resolver crate is
//! needed.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

/// How long the gateways are waited for, in all.
const WAIT_LIMIT: Duration = Duration::from_secs(2);
/// How long one query waits for its answer before it is sent again.
const ANSWER_WAIT: Duration = Duration::from_millis(20);
/// How long a listener that answers, but not yet with the container's name, is waited
/// for (an old configuration still loaded), before the name is taken as one it will not
/// answer for.
const NAME_WAIT: Duration = Duration::from_millis(500);

/// The query ID rpod's probes carry.
const QUERY_ID: u16 = 0x7270;

/// Wait until aardvark-dns on each of `gateways` answers for the container named
/// `container_name` with ID `container_id` (see the module's comment).
pub fn wait_for_answers(gateways: &[IpAddr], container_name: &str, container_id: &str) {
    let deadline = Instant::now() + WAIT_LIMIT;
    let asked = probe_name(container_name, container_id);
    for gateway in gateways {
        wait_for_one(SocketAddr::new(*gateway, 53), asked, deadline);
    }
}

/// The name aardvark-dns is asked for: the container's, or its short ID.
fn probe_name<'a>(container_name: &'a str, container_id: &'a str) -> &'a str {
    if is_plain_label(container_name) {
        container_name
    } else {
        container_id.get(..12).unwrap_or(container_id)
    }
}

/// Whether `name` is one DNS label aardvark-dns answers for as a container's name.
fn is_plain_label(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Ask `server` until it answers with an address for `name`, the deadline passes, or it
/// answered without one for `NAME_WAIT`. Returns how many queries were sent.
fn wait_for_one(server: SocketAddr, name: &str, deadline: Instant) -> u32 {
    let local = match server.ip() {
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let Ok(socket) = UdpSocket::bind(SocketAddr::new(local, 0)) else {
        return 0;
    };
    // Connected: a refusal (no listener yet) comes back as an error on the next receive.
    if socket.connect(server).is_err() || socket.set_read_timeout(Some(ANSWER_WAIT)).is_err() {
        return 0;
    }
    let query = query_for(name);
    let mut first_answer: Option<Instant> = None;
    let mut buffer = [0u8; 512];
    let mut sent = 0;
    while Instant::now() < deadline {
        sent += 1;
        let received = match socket.send(&query) {
            Ok(_) => socket.recv(&mut buffer).ok(),
            Err(_) => None,
        };
        match received.and_then(|n| answer_count(&buffer[..n])) {
            Some(count) if count > 0 => return sent,
            Some(_) => {
                let since = *first_answer.get_or_insert_with(Instant::now);
                if since.elapsed() >= NAME_WAIT {
                    return sent;
                }
            }
            None => {}
        }
        // A refusal returns at once: do not spin.
        std::thread::sleep(Duration::from_millis(2));
    }
    sent
}

/// A query for `name`'s A record, recursion desired.
fn query_for(name: &str) -> Vec<u8> {
    let mut query = Vec::with_capacity(18 + name.len());
    query.extend_from_slice(&QUERY_ID.to_be_bytes());
    // Flags: a standard query, recursion desired; one question.
    query.extend_from_slice(&[0x01, 0x00, 0x00, 0x01, 0, 0, 0, 0, 0, 0]);
    query.push(name.len() as u8);
    query.extend_from_slice(name.as_bytes());
    query.push(0);
    // Type A, class IN.
    query.extend_from_slice(&[0, 1, 0, 1]);
    query
}

/// The number of answers of a reply to rpod's query; `None` for anything else.
fn answer_count(reply: &[u8]) -> Option<u16> {
    if reply.len() < 12 || reply[..2] != QUERY_ID.to_be_bytes() || reply[2] & 0x80 == 0 {
        return None;
    }
    Some(u16::from_be_bytes([reply[6], reply[7]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_and_replies_are_read_as_dns_has_them() {
        let query = query_for("web");
        assert_eq!(query.len(), 12 + 1 + 3 + 1 + 4);
        assert_eq!(&query[12..17], b"\x03web\x00");
        // A reply: the same ID, the response bit, one answer.
        let mut reply = query.clone();
        reply[2] |= 0x80;
        reply[7] = 1;
        assert_eq!(answer_count(&reply), Some(1));
        reply[7] = 0;
        assert_eq!(answer_count(&reply), Some(0));
        // Not a response, another ID, too short.
        assert_eq!(answer_count(&query), None);
        let mut other = reply.clone();
        other[0] = 0;
        assert_eq!(answer_count(&other), None);
        assert_eq!(answer_count(&reply[..5]), None);
        assert!(is_plain_label("web-1") && !is_plain_label("my.app") && !is_plain_label("a_b"));
    }

    /// A name DNS can ask for as one label is asked; another (every random name) gives way
    /// to the short ID, which aardvark-dns answers for once it has loaded the container.
    #[test]
    fn aardvark_is_asked_for_a_name_it_can_answer() {
        let id = "3c259ecdb762aa0f9d1e8b6f6c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6a7b8c9d";
        assert_eq!(probe_name("web", id), "web");
        assert_eq!(probe_name("tender_northcutt", id), "3c259ecdb762");
        assert_eq!(probe_name("a.b", id), "3c259ecdb762");
    }

    /// A stand-in for aardvark-dns: answers the first `empty` queries without an
    /// answer, the rest with one; counts the queries it got.
    fn listener(empty: u32) -> (SocketAddr, std::sync::Arc<std::sync::atomic::AtomicU32>) {
        use std::sync::atomic::Ordering;
        let server = UdpSocket::bind("127.0.0.1:0").unwrap();
        let address = server.local_addr().unwrap();
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
        let seen = count.clone();
        std::thread::spawn(move || {
            let mut buffer = [0u8; 512];
            while let Ok((n, from)) = server.recv_from(&mut buffer) {
                let round = seen.fetch_add(1, Ordering::SeqCst);
                let mut reply = buffer[..n].to_vec();
                reply[2] |= 0x80;
                reply[7] = u8::from(round >= empty);
                let _ = server.send_to(&reply, from);
            }
        });
        (address, count)
    }

    #[test]
    fn the_wait_ends_when_the_name_is_answered() {
        let (server, _) = listener(3);
        let deadline = Instant::now() + WAIT_LIMIT;
        assert_eq!(wait_for_one(server, "web", deadline), 4);
    }

    #[test]
    fn a_listener_that_never_knows_the_name_is_left_after_a_while() {
        let (server, count) = listener(u32::MAX);
        let began = Instant::now();
        let sent = wait_for_one(server, "web", began + WAIT_LIMIT);
        assert!(sent > 1 && count.load(std::sync::atomic::Ordering::SeqCst) >= sent - 1);
        assert!(began.elapsed() >= NAME_WAIT && began.elapsed() < WAIT_LIMIT);
    }

    #[test]
    fn no_listener_is_waited_for_until_the_deadline() {
        // A port nothing listens on: refusals, until the deadline.
        let unused = UdpSocket::bind("127.0.0.1:0").unwrap();
        let server = unused.local_addr().unwrap();
        drop(unused);
        let began = Instant::now();
        wait_for_one(server, "web", began + Duration::from_millis(100));
        let waited = began.elapsed();
        assert!(waited >= Duration::from_millis(100) && waited < Duration::from_secs(1));
    }
}
