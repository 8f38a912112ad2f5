//! Closing a TCP listener without resetting a connection on its way in.
//!
//! Closing a listener resets what the kernel holds for it: the connections
//! it has completed and we have not accepted (their clients may already have
//! written a request), and the handshakes still under way. So the close goes
//! in three steps:
//!
//! 1. [`stop`] new handshakes: a socket filter makes the kernel drop new
//!    connection attempts (a SYN without ACK); the client retries after its
//!    SYN timeout and then finds the port closed, a clean refusal.
//! 2. While [`under_way`] reports handshakes the kernel had already
//!    answered, serve what completes and look again a moment later: their
//!    last ACK is one round trip away. The kernel reports them through
//!    `sock_diag`, as request sockets in `SYN_RECV` on the listener's port.
//!    When none is under way, which is the rule, this step costs one
//!    question to the kernel and no wait at all. The kernel answers by
//!    walking its table of connections: microseconds on an ordinary server,
//!    a few milliseconds with a hundred thousand sockets in `TIME_WAIT`.
//! 3. Serve what the kernel completed, and close.
//!
//! New connection attempts are thus dropped only while a handshake is under
//! way, not for a fixed settle time: a client (or a load balancer) connecting
//! at the wrong moment is rarely held for its SYN timeout (1 s on Linux).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;

/// How long to wait, at most, for handshakes under way to complete: about
/// a long round trip. A client whose last ACK is lost meanwhile is served
/// by the next instance, like one that connects a moment later.
pub(super) const LIMIT: Duration = Duration::from_millis(250);

/// How often to look again while handshakes are under way.
pub(super) const POLL: Duration = Duration::from_millis(1);

/// How long to wait where the kernel cannot be asked: the old fixed settle.
pub(super) const BLIND_SETTLE: Duration = Duration::from_millis(10);

/// Makes the kernel drop new connection attempts (TCP segments with SYN and
/// without ACK) on this listener, with a classic BPF socket filter; the
/// segments of handshakes under way, and of accepted connections, pass.
/// Whether the filter is in place.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn stop(listener: &TcpListener, server: &str) -> bool {
    use socket2::{SockFilter, SockRef};
    const LOAD_BYTE: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
    const JUMP_IF_SET: u16 = 0x45; // BPF_JMP | BPF_JSET | BPF_K
    const RETURN: u16 = 0x06; // BPF_RET | BPF_K
    const ACK: u32 = 0x10;
    const SYN: u32 = 0x02;
    let program = [
        SockFilter::new(LOAD_BYTE, 0, 0, 13),    // the TCP flags
        SockFilter::new(JUMP_IF_SET, 1, 0, ACK), // ACK: keep
        SockFilter::new(JUMP_IF_SET, 1, 0, SYN), // SYN without ACK: drop
        SockFilter::new(RETURN, 0, 0, u32::MAX), // keep
        SockFilter::new(RETURN, 0, 0, 0),        // drop
    ];
    match SockRef::from(listener).attach_filter(&program) {
        Ok(()) => true,
        Err(err) => {
            tracing::debug!(server, error = %err, "cannot stop new handshakes before closing the listener");
            false
        }
    }
}

/// Removes the filter [`stop`] put in place: for a listener another process
/// holds too, which keeps listening once this one lets it go.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn resume(listener: &TcpListener, server: &str) {
    if let Err(err) = socket2::SockRef::from(listener).detach_filter() {
        tracing::warn!(server, error = %err, "cannot remove the filter from an inherited listener: it drops new connections until the service manager closes it");
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn resume(_listener: &TcpListener, _server: &str) {}

/// Elsewhere the listener closes at once.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn stop(_listener: &TcpListener, _server: &str) -> bool {
    false
}

/// How many handshakes are under way on `listener`'s address: connection
/// attempts the kernel answered, whose last ACK has not arrived.
///
/// Counted by port and address, so a listener sharing its port with others
/// (`SO_REUSEPORT`) counts theirs too; the wait stays bounded by [`LIMIT`].
#[cfg(target_os = "linux")]
pub(super) fn under_way(listener: &TcpListener) -> io::Result<usize> {
    let local = listener.local_addr()?;
    // An IPv6 listener may take IPv4 clients: ask about both families.
    use netlink_packet_sock_diag::constants::{AF_INET, AF_INET6};
    let mut count = syn_recv(AF_INET, local)?;
    if local.is_ipv6() {
        count += syn_recv(AF_INET6, local)?;
    }
    Ok(count)
}

#[cfg(not(target_os = "linux"))]
pub(super) fn under_way(_listener: &TcpListener) -> io::Result<usize> {
    Err(io::Error::from(io::ErrorKind::Unsupported))
}

/// Request sockets in `SYN_RECV` of address family `family` whose local
/// address is `local` (any local address if `local` is unspecified).
#[cfg(target_os = "linux")]
fn syn_recv(family: u8, local: SocketAddr) -> io::Result<usize> {
    use netlink_packet_core::{
        NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    };
    use netlink_packet_sock_diag::SockDiagMessage;
    use netlink_packet_sock_diag::constants::{AF_INET6, IPPROTO_TCP};
    use netlink_packet_sock_diag::inet::{ExtensionFlags, InetRequest, SocketId, StateFlags};
    use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};

    let socket = Socket::new(NETLINK_SOCK_DIAG)?;
    socket.connect(&NetlinkAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_DUMP;
    let mut request = NetlinkMessage::new(
        header,
        SockDiagMessage::InetRequest(InetRequest {
            family,
            protocol: IPPROTO_TCP,
            extensions: ExtensionFlags::empty(),
            // The kernel reports its request sockets for this state.
            states: StateFlags::SYN_RECV,
            // The kernel skips the sockets of other local ports.
            socket_id: SocketId {
                source_port: local.port(),
                ..if family == AF_INET6 {
                    SocketId::new_v6()
                } else {
                    SocketId::new_v4()
                }
            },
        })
        .into(),
    );
    request.finalize();
    let mut bytes = vec![0; request.buffer_len()];
    request.serialize(&mut bytes);
    socket.send(&bytes, 0)?;

    let mine = |addr: IpAddr, port: u16| {
        port == local.port() && (local.ip().is_unspecified() || same_ip(addr, local.ip()))
    };
    let mut count = 0;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let size = socket.recv(&mut &mut buffer[..], 0)?;
        let mut offset = 0;
        while offset < size {
            let message = NetlinkMessage::<SockDiagMessage>::deserialize(&buffer[offset..size])
                .map_err(|err| io::Error::new(io::ErrorKind::InvalidData, err.to_string()))?;
            let length = message.header.length as usize;
            match message.payload {
                NetlinkPayload::InnerMessage(SockDiagMessage::InetResponse(response)) => {
                    let id = &response.header.socket_id;
                    if mine(id.source_address, id.source_port) {
                        count += 1;
                    }
                }
                NetlinkPayload::Done(_) => return Ok(count),
                NetlinkPayload::Error(err) => {
                    return Err(err.to_io());
                }
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += length;
        }
    }
}

/// The same address, an IPv4 one and its IPv4-mapped IPv6 form alike.
#[cfg(target_os = "linux")]
fn same_ip(a: IpAddr, b: IpAddr) -> bool {
    a.to_canonical() == b.to_canonical()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// A handshake whose last ACK the listener never sees (a filter drops
    /// it) stays under way, and is counted.
    #[tokio::test]
    async fn a_handshake_whose_last_ack_is_missing_is_under_way() {
        use socket2::{SockFilter, SockRef};
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let program = [
            SockFilter::new(0x30, 0, 0, 13),       // the TCP flags
            SockFilter::new(0x45, 2, 0, 0x02),     // SYN: keep
            SockFilter::new(0x45, 0, 1, 0x10),     // ACK without SYN: drop
            SockFilter::new(0x06, 0, 0, 0),        // drop
            SockFilter::new(0x06, 0, 0, u32::MAX), // keep
        ];
        SockRef::from(&listener).attach_filter(&program).unwrap();
        assert_eq!(under_way(&listener).unwrap(), 0);
        // The client's connect completes at the SYN-ACK; its ACK is dropped.
        let _client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        assert_eq!(under_way(&listener).unwrap(), 1);
        // Another listener's port is not counted.
        let other = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(under_way(&other).unwrap(), 0);
    }

    #[tokio::test]
    async fn no_handshake_is_under_way_on_a_quiet_listener() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(under_way(&listener).unwrap(), 0);
        let v6 = TcpListener::bind("[::1]:0").await;
        if let Ok(v6) = v6 {
            assert_eq!(under_way(&v6).unwrap(), 0);
        }
    }

    #[test]
    fn an_ipv4_address_and_its_mapped_form_are_the_same() {
        let v4: IpAddr = "127.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:127.0.0.1".parse().unwrap();
        assert!(same_ip(v4, mapped));
        assert!(!same_ip(v4, "127.0.0.2".parse().unwrap()));
    }
}
