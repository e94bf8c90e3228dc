//! Command -> store operation.

use crate::clock::{unix_seconds, Clock};
use crate::contract::{Command, EnqueueReply, OutboundRow, RecentChatRow, Reply, Request};
use crate::store::{Store, StoreError, UnixSeconds};

/// "now" for a command: floor(at_ms / 1000) when the bot said when, else the
/// service's own clock (a v0.5.0 bot sends no `at_ms`).
pub fn command_now(command: &Command, clock: &impl Clock) -> UnixSeconds {
    unix_seconds(command.at_ms().unwrap_or_else(|| clock.now_ms()))
}

/// Applies one command to the store at `now`; returns the reply for requests.
///
/// # Errors
///
/// Only store failures. Input the contract says to ignore (an empty username,
/// an empty message) is ignored, and an empty enqueue gets an error reply.
pub fn apply_command(store: &mut Store, command: &Command, now: UnixSeconds) -> Result<Option<Reply>, StoreError> {
    match command {
        Command::UserJoined(event) => {
            if event.username.is_empty() {
                tracing::warn!("user.joined with an empty username ignored");
            } else {
                store.user_joined(&event.username, now)?;
            }
        }
        Command::UserLeft(event) => store.user_left(&event.username, now)?,
        Command::MessageLog(log) => {
            store.user_chat_message(&log.username, &log.message, now)?;
        }
        Command::UserCount(count) => store.log_user_count(count.chat_count, count.connected_count, now)?,
        Command::HighWater(mark) => store.update_high_water_mark(mark.chat_count, mark.connected_count, now)?,
        Command::Status(status) => {
            store.update_current_status(&status.status_data, now)?;
        }
        Command::MarkSent(mark) => {
            store.mark_outbound_sent(mark.message_id, now)?;
        }
        Command::MarkFailed(mark) => {
            store.mark_outbound_failed(mark.message_id, &mark.error, mark.permanent, now)?;
        }
        Command::Request(request) => return answer(store, request, now).map(Some),
    }
    Ok(None)
}

fn answer(store: &mut Store, request: &Request, now: UnixSeconds) -> Result<Reply, StoreError> {
    Ok(match request {
        Request::OutboundGet(get) => Reply::Outbound(
            store
                .get_unsent_outbound_messages(get.limit, get.max_retries, now)?
                .into_iter()
                .map(|m| OutboundRow {
                    id: m.id,
                    timestamp: m.timestamp,
                    message: m.message,
                    retry_count: m.retry_count,
                    last_error: m.last_error,
                })
                .collect(),
        ),
        Request::Enqueue(enqueue) => {
            let message = enqueue.message.trim();
            if message.is_empty() {
                Reply::Enqueued(EnqueueReply { id: None, error: Some("message is empty".into()) })
            } else {
                let id = match &enqueue.request_id {
                    Some(request_id) => store.enqueue_outbound_message_once(request_id, message, now)?,
                    None => store.enqueue_outbound_message(message, now)?,
                };
                Reply::Enqueued(EnqueueReply { id: Some(id), error: None })
            }
        }
        Request::RecentChat(get) => Reply::RecentChat(
            store
                .recent_chat(get.limit)?
                .into_iter()
                .map(|r| RecentChatRow { timestamp: r.timestamp, username: r.username, message: r.message })
                .collect(),
        ),
    })
}
