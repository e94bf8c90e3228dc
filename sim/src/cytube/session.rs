//! Connections and sockets: what `ioserver.js` does between an engine.io
//! open and the channel (`40` with its middleware, the socket limit,
//! `rank -1`, event dispatch), and the control handle's cuts and restarts.

use std::net::IpAddr;

use serde_json::Value;
use tokio::sync::mpsc;

use super::limiter::{ConnectBucket, Debounce};
use super::packet;
use super::state::{Conn, Fake, Out, User};

/// What a refused connect is told (`ipThrottleMiddleware`).
pub(crate) const RATE_LIMITED: &str = "Rate limit exceeded";

impl Fake {
    /// Registers a new engine connection; returns its id and its queue.
    pub(crate) fn open_conn(&mut self, ip: IpAddr) -> (u64, mpsc::UnboundedReceiver<Out>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.next_id();
        self.conns.insert(id, Conn { ip, tx, user: None });
        self.stats.connects += 1;
        (id, rx)
    }

    /// The client sent `40` for `namespace`: run the middleware, then
    /// `handleConnection`.
    pub(crate) fn connect_socket(&mut self, conn: u64, namespace: &str) {
        let Some(entry) = self.conns.get(&conn) else { return };
        let (ip, tx) = (entry.ip, entry.tx.clone());
        if namespace != "/" {
            let _ = tx.send(Out::Text(packet::connect_error(namespace, "Invalid namespace")));
            return;
        }
        if entry.user.is_some() {
            return;
        }
        let now = self.now();
        let out_of_tokens = self.config.connect_bucket
            && self.buckets.entry(ip).or_insert_with(|| ConnectBucket::new(now)).throttle(now);
        if self.refuse || out_of_tokens {
            self.stats.refused += 1;
            let _ = tx.send(Out::Text(packet::connect_error("/", RATE_LIMITED)));
            return;
        }
        let uid = self.next_id();
        self.users.insert(uid, User::anonymous(Some(conn), ip));
        if let Some(entry) = self.conns.get_mut(&conn) {
            entry.user = Some(uid);
        }
        self.stats.socket_connects += 1;
        let _ = tx.send(Out::Text(packet::connected(&format!("io{uid:018}"))));
        let sockets_from_ip = self.conns.values().filter(|c| c.ip == ip && c.user.is_some()).count();
        if sockets_from_ip > self.config.max_sockets_per_ip {
            // checkIPLimit: kick, then socket.disconnect(true) closes the engine too.
            self.stats.kicks += 1;
            self.emit(uid, "kick", &serde_json::json!({ "reason": "Too many connections from your IP address" }));
            self.users.remove(&uid);
            let _ = tx.send(Out::Close);
            self.conns.remove(&conn);
            return;
        }
        self.emit(uid, "rank", &-1);
    }

    /// The client sent `41`: its socket leaves, the engine stays.
    pub(crate) fn disconnect_socket(&mut self, conn: u64) {
        let user = self.conns.get_mut(&conn).and_then(|entry| entry.user.take());
        if let Some(uid) = user {
            self.part_user(uid);
        }
    }

    /// The connection ended (closed, failed, timed out): its user parts.
    pub(crate) fn close_conn(&mut self, conn: u64) {
        if let Some(entry) = self.conns.remove(&conn) {
            if let Some(uid) = entry.user {
                self.part_user(uid);
            }
        }
    }

    /// `User.kick`: `kick {reason}` and `socket.disconnect()`, which sends
    /// `41` and parts the user but leaves the engine connection to the
    /// client to close (socket.io-client closes it when its last socket goes).
    pub(crate) fn kick(&mut self, uid: u64, reason: &str) {
        self.stats.kicks += 1;
        self.emit(uid, "kick", &serde_json::json!({ "reason": reason }));
        let conn = self.users.get(&uid).and_then(|user| user.conn);
        if let Some(conn) = conn {
            self.send(uid, packet::DISCONNECT.to_string());
            if let Some(entry) = self.conns.get_mut(&conn) {
                entry.user = None;
            }
        }
        self.part_user(uid);
    }

    /// An event from a connected socket.
    pub(crate) fn on_event(&mut self, conn: u64, name: &str, data: Value) {
        let Some(uid) = self.conns.get(&conn).and_then(|entry| entry.user) else { return };
        match name {
            "joinChannel" => self.join_channel(uid, &data),
            "channelPassword" => self.channel_password(uid, &data),
            "login" => self.login(uid, &data),
            "chatMsg" => self.chat_msg(uid, &data),
            "pm" => self.pm(uid, &data),
            _ => {}
        }
    }

    /// Closes every connection at once, as a network cut noticed by the
    /// server: no close frames; the users part as on any disconnect.
    pub(crate) fn drop_connections(&mut self) {
        let conns: Vec<u64> = self.conns.keys().copied().collect();
        for conn in conns {
            if let Some(entry) = self.conns.get(&conn) {
                let _ = entry.tx.send(Out::Cut);
            }
            self.close_conn(conn);
        }
    }

    /// The accept loops start: after the first time, the server restarted.
    pub(crate) fn server_started(&mut self) {
        if self.started {
            self.restart();
        }
        self.started = true;
    }

    /// A server restart: every connection dropped without a word, every
    /// user (simulated ones too) and every limiter forgotten; the chat
    /// history survives, as CyTube saves the channel's last 15 lines.
    pub(crate) fn restart(&mut self) {
        for entry in self.conns.values() {
            let _ = entry.tx.send(Out::Cut);
        }
        self.conns.clear();
        self.users.clear();
        self.members.clear();
        self.usercount = Debounce::new(self.config.usercount_debounce);
        self.buckets.clear();
        self.last_guest_login.clear();
        self.stats.restarts += 1;
    }
}
