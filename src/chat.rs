//! The bot's chat connection, behind a small trait.
//!
//! Saying a line is synchronous on purpose: a CyTube `chatMsg` emit is a write
//! into the socket's buffer, and keeping it synchronous lets the outbound loop
//! decide sent-or-failed without awaiting anything that could reorder it.

/// Why a line could not be said, and whether trying again can help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SayError {
    /// Permanent errors (permission denied, muted) stop the message at once;
    /// transient ones (not connected, socket errors) follow the backoff.
    pub permanent: bool,
    /// What went wrong, stored as `outbound_messages.last_error`.
    pub reason: String,
}

impl SayError {
    pub fn permanent(reason: impl Into<String>) -> SayError {
        SayError { permanent: true, reason: reason.into() }
    }

    pub fn transient(reason: impl Into<String>) -> SayError {
        SayError { permanent: false, reason: reason.into() }
    }
}

impl std::fmt::Display for SayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = if self.permanent { "permanent" } else { "transient" };
        write!(f, "{kind}: {}", self.reason)
    }
}

impl std::error::Error for SayError {}

/// What became of a line the sink took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SayOutcome {
    /// Said: mark it sent now (a recorder, a stand-in).
    Said,
    /// Written to a live channel: sent once the server's echo confirms it.
    Sent,
    /// Not sent now (the server would throttle it): left unsent for a later poll.
    Held,
}

/// Where the bot's outbound lines go.
pub trait ChatSink {
    /// Says `text` in the channel at Unix ms `at_ms`.
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError>;
}

/// One line the bot said.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SaidLine {
    pub at_ms: i64,
    pub text: String,
}

/// The chat stand-in for replays: records every line, never echoes it back
/// (contract section 5: only fixture lines are chat).
#[derive(Debug, Default, Clone)]
pub struct RecordingChat {
    pub said: Vec<SaidLine>,
}

impl ChatSink for RecordingChat {
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        self.said.push(SaidLine { at_ms, text: text.to_string() });
        Ok(SayOutcome::Said)
    }
}

impl<C: ChatSink + ?Sized> ChatSink for &mut C {
    fn say(&mut self, at_ms: i64, text: &str) -> Result<SayOutcome, SayError> {
        (**self).say(at_ms, text)
    }
}
