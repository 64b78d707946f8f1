//! A TCP proxy in front of the test Redis that can simulate an outage: `cut` drops every proxied
//! connection and refuses new ones (they are accepted and closed at once, like a server that is
//! going down), `restore` forwards again. What `CLIENT KILL` cannot do: keep Redis unreachable for
//! a while, so reconnect attempts fail and back off.

use crate::harness::redis_url;
use redis::ConnectionAddr;
use std::net::SocketAddr;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct ChaosProxy {
    local_address: SocketAddr,
    /// `true` while forwarding; every connection task watches it.
    is_up: watch::Sender<bool>,
    accept_task: JoinHandle<()>,
}

impl ChaosProxy {
    /// A proxy to the Redis of `KONTOR_TEST_REDIS_URL`, forwarding.
    pub async fn start() -> Self {
        let upstream = match redis::Client::open(redis_url())
            .expect("redis url")
            .get_connection_info()
            .addr()
        {
            ConnectionAddr::Tcp(host, port) => format!("{host}:{port}"),
            other => panic!("the outage tests need a plain TCP redis url, not {other}"),
        };
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let local_address = listener.local_addr().expect("proxy address");
        let (is_up, _initial_receiver) = watch::channel(true);
        let up_watch = is_up.subscribe();
        let accept_task = tokio::spawn(async move {
            while let Ok((client, _peer)) = listener.accept().await {
                if !*up_watch.borrow() {
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, upstream.clone(), up_watch.clone()));
            }
        });
        Self {
            local_address,
            is_up,
            accept_task,
        }
    }

    /// The test Redis URL with the proxy in place of the server (user, password and db kept).
    pub fn redis_url(&self) -> String {
        let url = redis_url();
        let (scheme, rest) = url.split_once("://").expect("url with a scheme");
        let authority_end = rest.find('/').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(authority_end);
        let user_info = authority
            .rsplit_once('@')
            .map_or(String::new(), |(user_info, _host)| format!("{user_info}@"));
        format!("{scheme}://{user_info}{}{path}", self.local_address)
    }

    /// Drops every proxied connection and refuses new ones until [`Self::restore`].
    pub fn cut(&self) {
        self.is_up.send_replace(false);
    }

    pub fn restore(&self) {
        self.is_up.send_replace(true);
    }
}

impl Drop for ChaosProxy {
    fn drop(&mut self) {
        self.accept_task.abort();
        // Dropping `is_up` ends every forwarding task too.
    }
}

/// Copies bytes both ways until either side closes or the proxy is cut.
async fn forward(mut client: TcpStream, upstream_address: String, mut up_watch: watch::Receiver<bool>) {
    let Ok(mut upstream) = TcpStream::connect(&upstream_address).await else {
        return;
    };
    tokio::select! {
        _copied = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        _cut = up_watch.wait_for(|is_up| !is_up) => {}
    }
    // Both sockets close here.
}
