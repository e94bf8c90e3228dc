//! The bus's JetStream: streams that capture publishes, the duplicate
//! window, durable pull consumers and acks, all over core subjects as
//! nats-server does it (`$JS.API.>` requests with JSON bodies, pulls on
//! `$JS.API.CONSUMER.MSG.NEXT.<stream>.<consumer>`, acks published to the
//! `$JS.ACK...` reply subject of each delivery).
//!
//! Two lifetimes, as in nats-server: what a file store keeps (streams,
//! messages, dedup ids, each consumer's delivered/pending/ack state) lives
//! in a [`JetStreamStore`] the caller creates outside the bus host, so it
//! outlives a crash or bounce of the host; what belongs to connections
//! (waiting pull requests) lives in [`JetStream`], one per bus incarnation,
//! and dies with it. Memory streams are dropped when an incarnation starts.
//!
//! Everything is driven by the router's lock and one timer task (ack
//! timeouts, pull expiry, max_age): simulated time only, ordered maps only.

pub(crate) mod api;
mod consumer;
mod stream;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use rosey::transport::{ack_subject_info, MsgGetRequest, StreamStorage, NO_MESSAGE_FOUND};
use serde::de::DeserializeOwned;

use self::api::{
    ApiErrorJson, ConsumerConfigJson, CreateConsumerJson, PubAckJson, PullRequestJson, StreamConfigJson,
    StreamInfoJson, CONSUMER_CREATE_RESPONSE, CONSUMER_INFO_RESPONSE, DEFAULT_ACK_WAIT, DEFAULT_MAX_ACK_PENDING,
    MSG_GET_RESPONSE, STREAM_CREATE_RESPONSE, STREAM_INFO_RESPONSE, STREAM_UPDATE_RESPONSE,
};
use self::consumer::{AckKind, Consumer};
use self::stream::Stream;

/// The JetStream headers a publish may carry.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PubHeaders<'a> {
    /// `Nats-Msg-Id`: the duplicate window's key.
    pub(crate) msg_id: Option<&'a str>,
    /// `Nats-Expected-Last-Msg-Id`: store only after the message with this id.
    pub(crate) expected_last_msg_id: Option<&'a str>,
}
use super::subject::{overlaps, validate_subscribe};

/// Simulated time since the run started: continuous across restarts of
/// the bus host, unlike a tokio `Instant` (each incarnation has its own
/// runtime). Zero outside a simulation (unit tests pass their own times).
pub(crate) fn sim_now() -> Duration {
    turmoil::sim_elapsed().unwrap_or_default()
}

/// Counters for tests and invariants; see [`JetStreamStore::stats`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JetStreamStats {
    /// Publishes stored in a stream.
    pub stored: u64,
    /// Publishes dropped as duplicates (their id was inside the window).
    pub duplicates: u64,
    /// Publishes refused because the stream's last message id was not the
    /// one they expected (`Nats-Expected-Last-Msg-Id`).
    pub wrong_last_msg_id: u64,
    /// Messages sent to pull requests, first deliveries and redeliveries.
    pub delivered: u64,
    /// Of those, redeliveries.
    pub redelivered: u64,
    /// Acks applied (any kind).
    pub acks: u64,
    /// Publishes to `$JS.ACK.>` ignored: unparsable subject, unknown stream
    /// or consumer, a sequence not pending, or an unknown ack kind.
    pub ignored_acks: u64,
    /// Pull requests that expired (answered with a 408 status).
    pub expired_pulls: u64,
    /// Malformed API requests (answered with a JSON error).
    pub bad_requests: u64,
}

/// What survives a restart of the bus host: create it outside the host
/// closure and pass a clone in each time (see [`super::BusServerOptions`]).
/// File streams keep everything; memory streams are emptied out when a new
/// bus incarnation starts, as nats-server loses them on restart.
#[derive(Clone, Default)]
pub struct JetStreamStore {
    inner: Arc<Mutex<StoreState>>,
}

#[derive(Default)]
struct StoreState {
    streams: BTreeMap<String, Stream>,
    stats: JetStreamStats,
}

impl fmt::Debug for JetStreamStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("JetStreamStore").field("streams", &state.streams.keys().collect::<Vec<_>>()).finish()
    }
}

impl JetStreamStore {
    /// An empty store.
    pub fn new() -> JetStreamStore {
        JetStreamStore::default()
    }

    /// A snapshot of the counters (they survive restarts with the store).
    pub fn stats(&self) -> JetStreamStats {
        self.lock().stats.clone()
    }

    /// The names of the streams it holds now.
    pub fn stream_names(&self) -> Vec<String> {
        self.lock().streams.keys().cloned().collect()
    }

    fn lock(&self) -> MutexGuard<'_, StoreState> {
        self.inner.lock().expect("jetstream store lock")
    }
}

/// A message JetStream sends: the router routes it to subscribers of `to`
/// like any publish, carrying `subject` (a delivery keeps the stored
/// message's own subject, as on nats-server; a reply carries `to`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Outbound {
    pub(crate) to: String,
    pub(crate) subject: String,
    pub(crate) reply: Option<String>,
    pub(crate) msg_id: Option<String>,
    pub(crate) status: Option<u16>,
    pub(crate) payload: Bytes,
}

impl Outbound {
    fn reply_to(subject: &str, payload: Vec<u8>) -> Outbound {
        Outbound {
            to: subject.to_string(),
            subject: subject.to_string(),
            reply: None,
            msg_id: None,
            status: None,
            payload: payload.into(),
        }
    }

    fn status(subject: &str, status: u16) -> Outbound {
        Outbound { status: Some(status), ..Outbound::reply_to(subject, Vec::new()) }
    }
}

/// A pull request waiting for messages; it belongs to a connection.
#[derive(Debug)]
struct PullRequest {
    connection: u64,
    inbox: String,
    remaining: u64,
    expires: Option<Duration>,
}

/// JetStream in one bus incarnation: the store plus the waiting pulls.
pub(crate) struct JetStream {
    store: JetStreamStore,
    /// By (stream, consumer), oldest first: served in arrival order.
    pulls: BTreeMap<(String, String), VecDeque<PullRequest>>,
    /// Added to simulated time for the `<ts>` token of ack subjects, so it
    /// reads as Unix nanoseconds like nats-server's.
    epoch: Duration,
}

impl JetStream {
    /// Starts an incarnation over `store`: memory streams do not survive the restart.
    pub(crate) fn start(store: JetStreamStore, epoch: Duration) -> JetStream {
        {
            let mut state = store.lock();
            let before = state.streams.len();
            state.streams.retain(|_, stream| stream.config.storage == StreamStorage::File);
            let kept = state.streams.len();
            tracing::info!(kept, lost = before - kept, "[BUS] JetStream enabled; memory streams start empty");
        }
        JetStream { store, pulls: BTreeMap::new(), epoch }
    }

    /// Takes a publish JetStream handles: an API request, an ack, or one a
    /// stream captures. Returns what to send in answer, or `None` when the
    /// publish is not JetStream's (then the router's no-responders applies).
    pub(crate) fn on_publish(
        &mut self,
        connection: u64,
        subject: &str,
        reply: Option<&str>,
        headers: PubHeaders<'_>,
        payload: &Bytes,
        now: Duration,
    ) -> Option<Vec<Outbound>> {
        if let Some(api) = subject.strip_prefix("$JS.API.") {
            return self.api(connection, api, reply, payload, now);
        }
        if subject.starts_with("$JS.ACK.") {
            return Some(self.ack(subject, reply, payload, now));
        }
        self.capture(subject, reply, headers, payload, now)
    }

    /// Drops the connection's waiting pulls; its unacked deliveries stay
    /// pending and are redelivered after `ack_wait`.
    pub(crate) fn drop_connection(&mut self, connection: u64) {
        for queue in self.pulls.values_mut() {
            queue.retain(|pull| pull.connection != connection);
        }
        self.pulls.retain(|_, queue| !queue.is_empty());
    }

    /// Drops waiting pulls whose inbox nobody subscribes to any more (their
    /// consumer was dropped): nats-server 2.9 skips such a request when it
    /// has a message for it, so the message goes to a live pull instead of
    /// vanishing until its ack_wait, again and again, while the dead pull lasts.
    pub(crate) fn drop_pulls_without_interest(&mut self, has_interest: impl Fn(&str) -> bool) {
        for queue in self.pulls.values_mut() {
            queue.retain(|pull| has_interest(&pull.inbox));
        }
        self.pulls.retain(|_, queue| !queue.is_empty());
    }

    /// Expires pulls and ages messages out, serves every waiting pull that
    /// can be served; returns what to send and when to run again.
    pub(crate) fn tick(&mut self, now: Duration) -> (Vec<Outbound>, Option<Duration>) {
        let mut out = Vec::new();
        let mut expired = 0;
        for queue in self.pulls.values_mut() {
            queue.retain(|pull| {
                let alive = pull.expires.is_none_or(|at| at > now);
                if !alive {
                    expired += 1;
                    out.push(Outbound::status(&pull.inbox, 408));
                }
                alive
            });
        }
        self.pulls.retain(|_, queue| !queue.is_empty());
        let mut state = self.store.lock();
        state.stats.expired_pulls += expired;
        for stream in state.streams.values_mut() {
            stream.enforce_limits(now);
        }
        let keys: Vec<(String, String)> = self.pulls.keys().cloned().collect();
        drop(state);
        for (stream, consumer) in keys {
            self.dispatch(&stream, &consumer, now, &mut out);
        }
        (out, self.next_deadline(now))
    }

    /// The earliest time something may be due: a pull expiring, an ack
    /// timer of a consumer someone is pulling from, a message ageing out.
    fn next_deadline(&self, now: Duration) -> Option<Duration> {
        let state = self.store.lock();
        let expiries = self.pulls.values().flatten().filter_map(|pull| pull.expires);
        let acks = self
            .pulls
            .keys()
            .filter_map(|(stream, consumer)| state.streams.get(stream)?.consumers.get(consumer)?.next_deadline(now));
        let ages = state.streams.values().filter_map(Stream::next_expiry);
        expiries.chain(acks).chain(ages).filter(|&at| at > now).min()
    }

    /// Serves the waiting pulls of one consumer, oldest first, as far as it has messages.
    fn dispatch(&mut self, stream_name: &str, consumer_name: &str, now: Duration, out: &mut Vec<Outbound>) {
        let key = (stream_name.to_string(), consumer_name.to_string());
        let Some(queue) = self.pulls.get_mut(&key) else { return };
        let mut guard = self.store.lock();
        let state = &mut *guard;
        let Some(stream) = state.streams.get_mut(stream_name) else { return };
        let Some(consumer) = stream.consumers.get_mut(consumer_name) else { return };
        while let Some(pull) = queue.front_mut() {
            let Some(delivery) = consumer.next_delivery(&stream.log, now) else { break };
            let ts = (self.epoch + now).as_nanos();
            let reply = format!(
                "$JS.ACK.{stream_name}.{consumer_name}.{}.{}.{}.{ts}.{}",
                delivery.delivered, delivery.message.seq, delivery.consumer_seq, delivery.pending
            );
            state.stats.delivered += 1;
            if delivery.delivered > 1 {
                state.stats.redelivered += 1;
            }
            out.push(Outbound {
                to: pull.inbox.clone(),
                subject: delivery.message.subject,
                reply: Some(reply),
                msg_id: delivery.message.msg_id,
                status: None,
                payload: delivery.message.payload,
            });
            pull.remaining -= 1;
            if pull.remaining == 0 {
                queue.pop_front();
            }
        }
        if queue.is_empty() {
            self.pulls.remove(&key);
        }
    }

    fn api(
        &mut self,
        connection: u64,
        api: &str,
        reply: Option<&str>,
        payload: &Bytes,
        now: Duration,
    ) -> Option<Vec<Outbound>> {
        let tokens: Vec<&str> = api.split('.').collect();
        let reply = reply?;
        let answer = match tokens.as_slice() {
            ["STREAM", "CREATE", name] => self.stream_create(name, payload, false, now),
            ["STREAM", "UPDATE", name] => self.stream_create(name, payload, true, now),
            ["STREAM", "INFO", name] => self.stream_info(name),
            ["STREAM", "MSG", "GET", name] => self.msg_get(name, payload),
            ["CONSUMER", "CREATE", stream, name] | ["CONSUMER", "DURABLE", "CREATE", stream, name] => {
                self.consumer_create(stream, name, payload)
            }
            ["CONSUMER", "INFO", stream, name] => self.consumer_info(stream, name),
            ["CONSUMER", "MSG", "NEXT", stream, name] => {
                return self.pull(connection, stream, name, reply, payload, now)
            }
            // Not an API the bus models: nobody answers, as for an unknown
            // subject on nats-server.
            _ => return None,
        };
        Some(vec![Outbound::reply_to(reply, answer)])
    }

    fn bad_request(&self, kind: &str, error: ApiErrorJson) -> Vec<u8> {
        self.store.lock().stats.bad_requests += 1;
        error.to_body(kind)
    }

    fn parse<T: DeserializeOwned>(&self, kind: &str, payload: &Bytes) -> Result<T, Vec<u8>> {
        serde_json::from_slice(payload).map_err(|error| self.bad_request(kind, ApiErrorJson::invalid_json(error)))
    }

    fn stream_create(&mut self, name: &str, payload: &Bytes, update: bool, now: Duration) -> Vec<u8> {
        let kind = if update { STREAM_UPDATE_RESPONSE } else { STREAM_CREATE_RESPONSE };
        let config: StreamConfigJson = match self.parse(kind, payload) {
            Ok(config) => config,
            Err(body) => return body,
        };
        if config.name != name {
            return self
                .bad_request(kind, ApiErrorJson::new(400, 10056, "stream name in subject does not match request"));
        }
        if let Err(error) = check_stream_config(&config) {
            return self.bad_request(kind, error);
        }
        let config = Stream::normalize(config);
        let mut state = self.store.lock();
        let clash = state.streams.values().find(|other| {
            other.config.name != name
                && other.config.subjects.iter().any(|a| config.subjects.iter().any(|b| overlaps(a, b)))
        });
        if clash.is_some() {
            drop(state);
            return self.bad_request(kind, ApiErrorJson::new(400, 10065, "subjects overlap with an existing stream"));
        }
        if let Some(existing) = state.streams.get_mut(name) {
            let refusal = if existing.config.storage != config.storage {
                Some(ApiErrorJson::new(500, 10052, "stream configuration update can not change storage type"))
            } else if !update && existing.config != config {
                Some(ApiErrorJson::new(400, 10058, "stream name already in use with a different configuration"))
            } else {
                None
            };
            if let Some(refusal) = refusal {
                drop(state);
                return self.bad_request(kind, refusal);
            }
            existing.config = config;
            // nats-server applies changed limits at once: the oldest go now.
            existing.enforce_limits(now);
            return info_body(kind, existing);
        }
        if update {
            return ApiErrorJson::stream_not_found().to_body(kind);
        }
        let stream = state.streams.entry(name.to_string()).or_insert_with(|| Stream::new(config));
        info_body(kind, stream)
    }

    fn stream_info(&mut self, name: &str) -> Vec<u8> {
        let state = self.store.lock();
        match state.streams.get(name) {
            Some(stream) => info_body(STREAM_INFO_RESPONSE, stream),
            None => ApiErrorJson::stream_not_found().to_body(STREAM_INFO_RESPONSE),
        }
    }

    /// A message read straight from the stream: by `seq`, or the first at or
    /// after `seq` matching `next_by_subj` (as nats-server's MSG.GET).
    fn msg_get(&mut self, name: &str, payload: &Bytes) -> Vec<u8> {
        use base64::Engine;
        let kind = MSG_GET_RESPONSE;
        let request: MsgGetRequest = match self.parse(kind, payload) {
            Ok(request) => request,
            Err(body) => return body,
        };
        let state = self.store.lock();
        let Some(stream) = state.streams.get(name) else {
            return ApiErrorJson::stream_not_found().to_body(kind);
        };
        let found = match &request.next_by_subj {
            Some(filter) => stream.log.first_matching(request.seq, filter),
            None => stream.log.get(request.seq),
        };
        match found {
            Some(message) => serde_json::json!({
                "type": kind,
                "message": {
                    "subject": message.subject,
                    "seq": message.seq,
                    "data": base64::engine::general_purpose::STANDARD.encode(&message.payload),
                    "time": "1970-01-01T00:00:00Z",
                }
            })
            .to_string()
            .into_bytes(),
            None => ApiErrorJson::new(404, NO_MESSAGE_FOUND, "no message found").to_body(kind),
        }
    }

    /// Creates the durable, or returns it when it exists (idempotent).
    fn consumer_create(&mut self, stream_name: &str, name: &str, payload: &Bytes) -> Vec<u8> {
        let kind = CONSUMER_CREATE_RESPONSE;
        let request: CreateConsumerJson = match self.parse(kind, payload) {
            Ok(request) => request,
            Err(body) => return body,
        };
        if request.stream_name != stream_name {
            let mismatch = ApiErrorJson::new(400, 10056, "stream name in subject does not match request");
            return self.bad_request(kind, mismatch);
        }
        let config = match check_consumer_config(request.config, name) {
            Ok(config) => config,
            Err(error) => return self.bad_request(kind, error),
        };
        let num_waiting = self.num_waiting(stream_name, name);
        let mut state = self.store.lock();
        let Some(stream) = state.streams.get_mut(stream_name) else {
            return ApiErrorJson::stream_not_found().to_body(kind);
        };
        let consumer =
            stream.consumers.entry(name.to_string()).or_insert_with(|| Consumer::new(name.into(), config.clone()));
        // Same config: the existing consumer (idempotent). Otherwise the
        // settings nats-server lets an update change are changed.
        consumer.config.ack_wait = config.ack_wait;
        consumer.config.max_ack_pending = config.max_ack_pending;
        let info = consumer.info(stream_name, &stream.log, num_waiting, kind);
        serde_json::to_vec(&info).unwrap_or_default()
    }

    fn consumer_info(&mut self, stream_name: &str, name: &str) -> Vec<u8> {
        let num_waiting = self.num_waiting(stream_name, name);
        let state = self.store.lock();
        let Some(stream) = state.streams.get(stream_name) else {
            return ApiErrorJson::stream_not_found().to_body(CONSUMER_INFO_RESPONSE);
        };
        let Some(consumer) = stream.consumers.get(name) else {
            return ApiErrorJson::consumer_not_found().to_body(CONSUMER_INFO_RESPONSE);
        };
        let info = consumer.info(stream_name, &stream.log, num_waiting, CONSUMER_INFO_RESPONSE);
        serde_json::to_vec(&info).unwrap_or_default()
    }

    fn num_waiting(&self, stream: &str, consumer: &str) -> u64 {
        self.pulls.get(&(stream.to_string(), consumer.to_string())).map_or(0, |queue| queue.len() as u64)
    }

    /// Queues a pull request and serves it as far as possible. A pull for a
    /// consumer that does not exist finds nobody (`None`), as on nats-server
    /// 2.9, where each consumer subscribes to its own MSG.NEXT subject.
    fn pull(
        &mut self,
        connection: u64,
        stream: &str,
        consumer: &str,
        inbox: &str,
        payload: &Bytes,
        now: Duration,
    ) -> Option<Vec<Outbound>> {
        let exists = self.store.lock().streams.get(stream).is_some_and(|s| s.consumers.contains_key(consumer));
        if !exists {
            return None;
        }
        // An empty body asks for one message, as nats-server reads it.
        let request = if payload.is_empty() {
            Ok(PullRequestJson { batch: 1, ..PullRequestJson::default() })
        } else {
            serde_json::from_slice::<PullRequestJson>(payload)
        };
        let Ok(request) = request else {
            self.store.lock().stats.bad_requests += 1;
            return Some(vec![Outbound::status(inbox, 400)]);
        };
        let key = (stream.to_string(), consumer.to_string());
        let expires = (request.expires > 0).then(|| now + Duration::from_nanos(request.expires));
        let pull = PullRequest { connection, inbox: inbox.to_string(), remaining: request.batch.max(1), expires };
        self.pulls.entry(key.clone()).or_default().push_back(pull);
        let mut out = Vec::new();
        self.dispatch(stream, consumer, now, &mut out);
        if request.no_wait && out.is_empty() {
            // Nothing to give right now: nats-server answers 404 "No Messages".
            if let Some(queue) = self.pulls.get_mut(&key) {
                queue.retain(|pull| !(pull.connection == connection && pull.inbox == inbox));
            }
            self.pulls.retain(|_, queue| !queue.is_empty());
            out.push(Outbound::status(inbox, 404));
        }
        Some(out)
    }

    /// Applies a publish to a `$JS.ACK...` subject; anything unusable is counted and ignored.
    fn ack(&mut self, subject: &str, reply: Option<&str>, payload: &Bytes, now: Duration) -> Vec<Outbound> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let applied = (|| {
            let info = ack_subject_info(subject).filter(|_| tokens.len() == 9)?;
            let kind = AckKind::parse(payload)?;
            let mut state = self.store.lock();
            let consumer = state.streams.get_mut(tokens[2])?.consumers.get_mut(tokens[3])?;
            consumer.ack(info.stream_seq, kind, now).then_some(())
        })();
        let mut state = self.store.lock();
        match applied {
            Some(()) => state.stats.acks += 1,
            None => state.stats.ignored_acks += 1,
        }
        drop(state);
        let mut out = Vec::new();
        // A freed ack slot or a NAK may let a waiting pull go on.
        if tokens.len() == 9 {
            self.dispatch(tokens[2], tokens[3], now, &mut out);
        }
        // An ack with a reply subject (AckSync) is confirmed with an empty message.
        if let Some(reply) = reply {
            out.push(Outbound::reply_to(reply, Vec::new()));
        }
        out
    }

    /// Stores a publish in the stream whose subjects match it, if any;
    /// answers the reply subject with the PubAck and serves waiting pulls.
    fn capture(
        &mut self,
        subject: &str,
        reply: Option<&str>,
        headers: PubHeaders<'_>,
        payload: &Bytes,
        now: Duration,
    ) -> Option<Vec<Outbound>> {
        let mut guard = self.store.lock();
        let state = &mut *guard;
        let (name, stream) = state.streams.iter_mut().find(|(_, stream)| {
            stream.config.subjects.iter().any(|pattern| super::subject::matches(pattern, subject))
        })?;
        let captured = stream.capture(subject, headers, payload.clone(), now);
        let name = name.clone();
        let captured = match captured {
            Ok(captured) => captured,
            Err(last) => {
                // nats-server's JSStreamWrongLastMsgIDErrF: nothing stored.
                state.stats.wrong_last_msg_id += 1;
                drop(guard);
                let description = format!("wrong last msg ID: {}", last.unwrap_or_default());
                let error = ApiErrorJson::new(400, 10070, description);
                let body = serde_json::json!({ "error": error }).to_string().into_bytes();
                return Some(reply.map(|reply| Outbound::reply_to(reply, body)).into_iter().collect());
            }
        };
        if captured.duplicate {
            state.stats.duplicates += 1;
        } else {
            state.stats.stored += 1;
        }
        let consumers: Vec<String> = stream.consumers.keys().cloned().collect();
        drop(guard);
        let mut out = Vec::new();
        if let Some(reply) = reply {
            let ack = PubAckJson { stream: name.clone(), seq: captured.seq, duplicate: captured.duplicate };
            out.push(Outbound::reply_to(reply, serde_json::to_vec(&ack).unwrap_or_default()));
        }
        for consumer in consumers {
            self.dispatch(&name, &consumer, now, &mut out);
        }
        Some(out)
    }
}

fn info_body(kind: &str, stream: &Stream) -> Vec<u8> {
    let info = StreamInfoJson { kind: kind.into(), config: stream.config.clone(), state: stream.state() };
    serde_json::to_vec(&info).unwrap_or_default()
}

/// A stream or consumer name must fit in one subject token.
fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.contains(|c: char| c == '.' || c == '*' || c == '>' || c.is_whitespace())
}

fn check_stream_config(config: &StreamConfigJson) -> Result<(), ApiErrorJson> {
    if !valid_name(&config.name) {
        return Err(ApiErrorJson::new(400, 10049, "stream name is invalid"));
    }
    if config.subjects.is_empty() {
        return Err(ApiErrorJson::new(400, 10052, "the sim bus needs explicit stream subjects"));
    }
    for subject in &config.subjects {
        if validate_subscribe(subject).is_err() || subject.starts_with("$JS.") {
            return Err(ApiErrorJson::new(400, 10052, format!("invalid subject {subject:?}")));
        }
    }
    if config.max_age > 0 && config.duplicate_window > config.max_age {
        return Err(ApiErrorJson::new(500, 10052, "duplicates window can not be larger then max age"));
    }
    Ok(())
}

/// Fills nats-server's defaults and refuses what the bus does not model.
fn check_consumer_config(mut config: ConsumerConfigJson, name: &str) -> Result<ConsumerConfigJson, ApiErrorJson> {
    if !valid_name(name) {
        return Err(ApiErrorJson::new(400, 10013, "consumer name is invalid"));
    }
    if config.durable_name.as_deref().is_some_and(|durable| durable != name) {
        return Err(ApiErrorJson::new(400, 10017, "consumer name in subject does not match durable name in request"));
    }
    let unsupported = if config.ack_policy != "explicit" {
        Some("ack_policy other than explicit")
    } else if config.deliver_policy != "all" {
        Some("deliver_policy other than all")
    } else if config.max_deliver > 0 {
        Some("max_deliver")
    } else if config.filter_subject.as_deref().is_some_and(|filter| !filter.is_empty()) {
        Some("filter_subject")
    } else {
        None
    };
    if let Some(what) = unsupported {
        return Err(ApiErrorJson::new(400, 10084, format!("the sim bus does not model {what}")));
    }
    if config.ack_wait == 0 {
        config.ack_wait = api::nanos(DEFAULT_ACK_WAIT);
    }
    if config.max_ack_pending == 0 {
        config.max_ack_pending = DEFAULT_MAX_ACK_PENDING;
    }
    config.max_deliver = -1;
    config.durable_name = Some(name.to_string());
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn publish(js: &mut JetStream, subject: &str, reply: Option<&str>, body: &str, now: Duration) -> Vec<Outbound> {
        js.on_publish(1, subject, reply, PubHeaders::default(), &Bytes::from(body.to_string()), now)
            .expect("JetStream's")
    }

    /// A JetStream with stream S on `s.>` (memory) and durable C (ack_wait 2 s, max_ack_pending 2).
    fn setup() -> JetStream {
        let mut js = JetStream::start(JetStreamStore::new(), Duration::ZERO);
        let stream = r#"{"name":"S","subjects":["s.>"],"storage":"memory"}"#;
        publish(&mut js, "$JS.API.STREAM.CREATE.S", Some("r"), stream, S);
        let consumer = r#"{"stream_name":"S","config":{"durable_name":"C","ack_policy":"explicit","ack_wait":2000000000,"max_ack_pending":2}}"#;
        publish(&mut js, "$JS.API.CONSUMER.DURABLE.CREATE.S.C", Some("r"), consumer, S);
        js
    }

    fn acks(out: &[Outbound]) -> Vec<String> {
        out.iter().filter_map(|o| o.reply.clone()).collect()
    }

    #[test]
    fn pulls_stop_at_max_ack_pending_and_redeliver_oldest_first() {
        let mut js = setup();
        for n in 0..3 {
            publish(&mut js, "s.x", None, &n.to_string(), S);
        }
        let out = publish(&mut js, "$JS.API.CONSUMER.MSG.NEXT.S.C", Some("inbox"), r#"{"batch":10}"#, S);
        let tokens: Vec<Vec<String>> = acks(&out).iter().map(|a| a.split('.').map(str::to_string).collect()).collect();
        assert_eq!(tokens.len(), 2, "max_ack_pending 2: {out:?}");
        assert_eq!(tokens.iter().map(|t| (t[4].as_str(), t[5].as_str())).collect::<Vec<_>>(), [("1", "1"), ("1", "2")]);
        // Ack 2: a slot frees and 3 goes to the waiting pull.
        let out = publish(&mut js, &acks(&out)[1], None, "+ACK", S);
        assert_eq!(acks(&out).iter().map(|a| a.split('.').nth(5).unwrap_or("").to_string()).collect::<Vec<_>>(), ["3"]);
        // After ack_wait, 1 and 3 come again, in stream order, delivered twice.
        let (out, _) = js.tick(S * 4);
        let again: Vec<(String, String)> = acks(&out)
            .iter()
            .map(|a| {
                let t: Vec<&str> = a.split('.').collect();
                (t[4].to_string(), t[5].to_string())
            })
            .collect();
        assert_eq!(again, [("2".to_string(), "1".to_string()), ("2".to_string(), "3".to_string())]);
        assert_eq!(js.store.stats().redelivered, 2);
    }

    #[test]
    fn an_expired_pull_gets_a_408_and_a_dead_connection_takes_its_pulls() {
        let mut js = setup();
        let out =
            publish(&mut js, "$JS.API.CONSUMER.MSG.NEXT.S.C", Some("inbox"), r#"{"batch":5,"expires":1000000000}"#, S);
        assert!(out.is_empty());
        let (out, next) = js.tick(S * 3);
        assert_eq!(out, [Outbound::status("inbox", 408)]);
        assert_eq!(next, None);
        publish(&mut js, "$JS.API.CONSUMER.MSG.NEXT.S.C", Some("inbox"), r#"{"batch":5}"#, S * 3);
        js.drop_connection(1);
        // The message finds no pull to go to.
        assert_eq!(acks(&publish(&mut js, "s.x", None, "m", S * 3)), Vec::<String>::new());
    }

    #[test]
    fn a_pull_whose_inbox_lost_its_subscriber_gets_nothing() {
        let mut js = setup();
        publish(&mut js, "$JS.API.CONSUMER.MSG.NEXT.S.C", Some("dead"), r#"{"batch":5}"#, S);
        js.drop_pulls_without_interest(|inbox| inbox != "dead");
        assert_eq!(acks(&publish(&mut js, "s.x", None, "m", S)), Vec::<String>::new());
        let out = publish(&mut js, "$JS.API.CONSUMER.MSG.NEXT.S.C", Some("live"), r#"{"batch":5}"#, S);
        assert_eq!(out.iter().map(|o| (o.to.as_str(), o.payload.clone())).collect::<Vec<_>>(), [("live", "m".into())]);
    }

    #[test]
    fn an_update_that_lowers_a_limit_drops_the_oldest_at_once() {
        let mut js = setup();
        for n in 0..3 {
            publish(&mut js, "s.x", None, &n.to_string(), S);
        }
        let limited = r#"{"name":"S","subjects":["s.>"],"storage":"memory","max_msgs":2}"#;
        let out = publish(&mut js, "$JS.API.STREAM.UPDATE.S", Some("r"), limited, S);
        let info: serde_json::Value = serde_json::from_slice(&out[0].payload).unwrap();
        assert_eq!(
            (info["state"]["first_seq"].as_u64(), info["state"]["messages"].as_u64()),
            (Some(2), Some(2)),
            "{info}"
        );
    }

    #[test]
    fn a_pull_for_an_unknown_consumer_is_nobodys() {
        let mut js = setup();
        assert_eq!(
            js.on_publish(1, "$JS.API.CONSUMER.MSG.NEXT.S.X", Some("i"), PubHeaders::default(), &Bytes::new(), S),
            None
        );
        assert_eq!(js.on_publish(1, "$JS.API.NOT.A.THING", Some("i"), PubHeaders::default(), &Bytes::new(), S), None);
        assert_eq!(js.on_publish(1, "other", Some("i"), PubHeaders::default(), &Bytes::new(), S), None);
    }

    #[test]
    fn a_memory_stream_is_gone_in_the_next_incarnation_and_a_file_stream_is_not() {
        let store = JetStreamStore::new();
        let mut js = JetStream::start(store.clone(), Duration::ZERO);
        publish(
            &mut js,
            "$JS.API.STREAM.CREATE.M",
            Some("r"),
            r#"{"name":"M","subjects":["m"],"storage":"memory"}"#,
            S,
        );
        publish(&mut js, "$JS.API.STREAM.CREATE.F", Some("r"), r#"{"name":"F","subjects":["f"],"storage":"file"}"#, S);
        drop(js);
        let _again = JetStream::start(store.clone(), Duration::ZERO);
        assert_eq!(store.stream_names(), ["F"]);
    }
}
