//! The client's background connection task: connect with async-nats'
//! backoff, re-subscribe and replay the buffer, read and dispatch frames,
//! PING for liveness, and start over when the connection dies. It works on
//! the state in [`super::state`], which the
//! [`SimTransport`](super::SimTransport) handles fill.
//!
//! Liveness is the one thing a real TCP stack gives for free and turmoil
//! does not: a partitioned turmoil stream has no retransmission, so bytes
//! lost in it leave both ends waiting forever without an error, even after
//! the partition heals. The only cure is to notice (a PING unanswered for
//! `ping_timeout`) and open a new connection.

use std::sync::{Arc, Weak};
use std::time::Duration;

use bytes::BytesMut;
use rosey::transport::BusMessage;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio::time::{Instant, MissedTickBehavior};
use turmoil::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use turmoil::net::TcpStream;

use super::frame::{Frame, WRITE_BATCH};
use super::state::{ClientShared, Delivery, Outgoing, SimBusOptions};

/// async-nats' default reconnect delay for the `attempts`-th consecutive
/// attempt: none for the first, then 2^(n-1) ms, at most 4 s.
pub(crate) fn reconnect_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let exp = u32::try_from(attempts - 1).unwrap_or(u32::MAX);
    Duration::from_millis(2u64.saturating_pow(exp)).min(Duration::from_secs(4))
}

/// Keeps the client connected until every handle is dropped.
pub(crate) async fn maintain(shared: Weak<ClientShared>) {
    let Some((addr, options)) = shared.upgrade().map(|s| (s.addr.clone(), s.options.clone())) else { return };
    let mut attempts = 0;
    loop {
        attempts += 1;
        let delay = reconnect_delay(attempts);
        if !delay.is_zero() {
            rosey::timers::sleep(delay).await;
        }
        let stream = match rosey::timers::timeout(options.connect_timeout, TcpStream::connect(addr.as_str())).await {
            Ok(Ok(stream)) => stream,
            Ok(Err(error)) => {
                tracing::debug!(name = %options.name, attempts, %error, "[NATS] connect failed");
                continue;
            }
            Err(_) => {
                tracing::debug!(name = %options.name, attempts, "[NATS] connect timed out");
                continue;
            }
        };
        attempts = 0;
        match run(&shared, stream, &options).await {
            Some(reason) => tracing::warn!(name = %options.name, %reason, "[NATS] disconnected; reconnecting"),
            None => return,
        }
    }
}

/// Aborts the writer when the connection ends, however it ends.
struct WriterTask(JoinHandle<String>);

impl Drop for WriterTask {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves one connection; returns why it died, or `None` once the client is gone.
async fn run(weak: &Weak<ClientShared>, stream: TcpStream, options: &SimBusOptions) -> Option<String> {
    let (mut reader, writer) = stream.into_split();
    let (generation, output) = {
        let shared = weak.upgrade()?;
        let mut state = shared.lock();
        state.generation += 1;
        state.connected = true;
        state.stats.connects += 1;
        // What goes first on a new connection: its name, then every live
        // subscription, ahead of the publishes buffered while it was down.
        let name = options.name.chars().take(256).collect();
        let mut prelude = vec![Frame::Connect { name }.to_bytes()];
        for (&sid, sub) in &state.subs {
            prelude.push(Frame::Sub { sid, subject: sub.subject.clone(), queue: sub.queue.clone() }.to_bytes());
        }
        let (subs, buffered) = (state.subs.len(), state.queued_publishes);
        for frame in prelude.into_iter().rev() {
            state.queue.push_front(Outgoing::Control(frame));
        }
        if state.stats.connects == 1 {
            tracing::info!(name = %options.name, "[NATS] connected");
        } else {
            state.stats.reconnects += 1;
            tracing::info!(name = %options.name, subs, buffered, "[NATS] reconnected; re-subscribed and sending the buffer");
        }
        shared.output.notify_waiters();
        shared.room.notify_waiters();
        (state.generation, shared.output.clone())
    };
    let mut writer = WriterTask(tokio::spawn(write_loop(weak.clone(), writer, generation, output)));
    let reason = read_loop(weak, &mut reader, &mut writer, options).await;
    drop(writer);
    let shared = weak.upgrade()?;
    let mut state = shared.lock();
    state.connected = false;
    state.stats.disconnects += 1;
    // SUB/UNSUB/PING/PONG were for the dead connection; publishes, flushes
    // and round trips not yet written wait for the next one. Round trips
    // whose PING went out now fail: their PONG cannot come.
    state.queue.retain(|item| !matches!(item, Outgoing::Control(_)));
    state.round_trips.clear();
    shared.room.notify_waiters();
    reason
}

/// Reads frames and keeps the connection alive; returns why it stopped.
async fn read_loop(
    weak: &Weak<ClientShared>,
    reader: &mut OwnedReadHalf,
    writer: &mut WriterTask,
    options: &SimBusOptions,
) -> Option<String> {
    let mut buf = BytesMut::with_capacity(8 * 1024);
    let mut ticker = rosey::timers::interval_at(Instant::now() + options.ping_interval, options.ping_interval);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The one liveness PING in flight: its token and when it was queued.
    let mut outstanding: Option<(u64, Instant)> = None;
    loop {
        loop {
            let frame = match Frame::decode(&mut buf) {
                Ok(Some(frame)) => frame,
                Ok(None) => break,
                Err(error) => return Some(format!("malformed frame from the bus: {error}")),
            };
            let shared = weak.upgrade()?;
            if let Err(reason) = apply_server_frame(&shared, frame, &mut outstanding) {
                return Some(reason);
            }
        }
        let deadline = outstanding.map(|(_, sent)| sent + options.ping_timeout);
        tokio::select! {
            biased;
            () = rosey::timers::sleep_until(deadline.unwrap_or_else(Instant::now)), if deadline.is_some() => {
                weak.upgrade()?.lock().stats.ping_timeouts += 1;
                return Some(format!("no PONG within {:?}: the connection is dead", options.ping_timeout));
            }
            ended = &mut writer.0 => {
                return Some(ended.unwrap_or_else(|error| format!("writer task failed: {error}")));
            }
            read = reader.read_buf(&mut buf) => match read {
                Ok(0) => return Some("the bus closed the connection".into()),
                Ok(_) => {}
                Err(error) => return Some(format!("read failed: {error}")),
            },
            _ = ticker.tick(), if outstanding.is_none() => {
                let shared = weak.upgrade()?;
                let mut state = shared.lock();
                state.next_token += 1;
                let token = state.next_token;
                shared.push(&mut state, Outgoing::Control(Frame::Ping { token }.to_bytes()));
                outstanding = Some((token, Instant::now()));
            }
        }
    }
}

/// Handles one frame from the bus.
///
/// # Errors
///
/// The reason to drop the connection: the bus broke the protocol.
fn apply_server_frame(
    shared: &ClientShared,
    frame: Frame,
    outstanding: &mut Option<(u64, Instant)>,
) -> Result<(), String> {
    let mut guard = shared.lock();
    let state = &mut *guard;
    match frame {
        Frame::Msg { sid, subject, reply, msg_id: _, status, payload, no_responders } => {
            // No entry: the subscription was dropped and its UNSUB is on its way.
            let Some(sub) = state.subs.get_mut(&sid) else { return Ok(()) };
            let delivery = Delivery { message: BusMessage { subject, reply, payload }, no_responders, status };
            match sub.sender.try_send(delivery) {
                Ok(()) => {
                    sub.slow = false;
                    state.stats.delivered += 1;
                }
                Err(TrySendError::Full(_)) => {
                    if !sub.slow {
                        tracing::warn!(sid, subject = %sub.subject, "[NATS] slow consumer: subscription buffer full, dropping messages");
                        sub.slow = true;
                    }
                    state.stats.dropped_slow_consumer += 1;
                }
                Err(TrySendError::Closed(_)) => {}
            }
        }
        Frame::Ping { token } => shared.push(state, Outgoing::Control(Frame::Pong { token }.to_bytes())),
        Frame::Pong { token } => {
            if outstanding.is_some_and(|(sent, _)| sent == token) {
                *outstanding = None;
            } else if let Some(done) = state.round_trips.remove(&token) {
                let _ = done.send(());
            }
        }
        Frame::Connect { .. } | Frame::Sub { .. } | Frame::Unsub { .. } | Frame::Pub { .. } => {
            return Err("protocol violation: the bus sent a client-only frame".into());
        }
    }
    Ok(())
}

/// Drains the shared queue into the socket in order; returns why it stopped.
async fn write_loop(
    weak: Weak<ClientShared>,
    mut writer: OwnedWriteHalf,
    generation: u64,
    output: Arc<Notify>,
) -> String {
    let mut batch = BytesMut::with_capacity(WRITE_BATCH);
    loop {
        // Registered before looking at the queue, so a push after the look wakes us.
        let wake = output.notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let mut flushes = Vec::new();
        {
            let Some(shared) = weak.upgrade() else { return "the client was dropped".into() };
            let mut guard = shared.lock();
            let state = &mut *guard;
            if state.generation != generation || !state.connected {
                return "superseded by a newer connection".into();
            }
            let publishes = state.queued_publishes;
            while batch.len() < WRITE_BATCH {
                match state.queue.pop_front() {
                    None => break,
                    Some(Outgoing::Publish(bytes)) => {
                        state.queued_publishes -= 1;
                        batch.extend_from_slice(&bytes);
                    }
                    Some(Outgoing::Control(bytes)) => batch.extend_from_slice(&bytes),
                    Some(Outgoing::RoundTrip(done)) => {
                        state.next_token += 1;
                        state.round_trips.insert(state.next_token, done);
                        Frame::Ping { token: state.next_token }.encode(&mut batch);
                    }
                    // Answered after this batch is written, so stop the batch here.
                    Some(Outgoing::Flush(done)) => {
                        flushes.push(done);
                        break;
                    }
                }
            }
            if state.queued_publishes < publishes {
                shared.room.notify_waiters();
            }
        }
        if batch.is_empty() && flushes.is_empty() {
            wake.await;
            continue;
        }
        if !batch.is_empty() {
            if let Err(error) = writer.write_all(&batch).await {
                return format!("write failed: {error}");
            }
            batch.clear();
        }
        for done in flushes {
            let _ = done.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_delay_matches_async_nats() {
        let delays: Vec<u128> = [1, 2, 3, 4, 12, 13, 100, usize::MAX].map(|n| reconnect_delay(n).as_millis()).to_vec();
        assert_eq!(delays, [0, 2, 4, 8, 2048, 4000, 4000, 4000]);
    }
}
