//! Why a send or request did not get through: the layer below's error, wrapped.
//!
//! A [`LinkError`] holds the error of the layer that failed (the bus's
//! [`TransportError`], the store's [`StoreError`], a [`BadReply`]) rather than
//! a copy of it, so callers match on the original kind and nothing drifts
//! when a layer grows a case.
//!
//! Each variant's `Display` already includes the wrapped error's text (trace
//! lines and reports key on that one line), so `source()` does what a
//! transparent wrapper does: it skips the wrapped error and returns what lies
//! beneath it (the SQLite error under a [`StoreError`]). Printing the chain
//! never repeats a line.

use std::error::Error;
use std::fmt;

use crate::contract::{DecodeError, Reply, Subject};
use crate::store::StoreError;
use crate::transport::TransportError;

/// Why a send or request did not get through; the bot reacts differently to
/// each kind (a timeout is not a missing db-service).
#[derive(Debug)]
pub enum LinkError {
    /// The bus failed: timed out, no responders, disconnected, too large.
    Transport(TransportError),
    /// The store failed (direct mode, or dual mode's fallback).
    Store(StoreError),
    /// A reply came back that the bot cannot use.
    BadReply(BadReply),
}

/// A reply the bot cannot use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BadReply {
    /// The payload does not decode as the request's reply.
    Decode(DecodeError),
    /// A well-formed reply of another kind than the request asks for (an
    /// `{"error"}` object answering a poll, say).
    Unexpected(Reply),
    /// The command is not a request, so nothing answers it.
    NoReply(Subject),
}

impl LinkError {
    /// Nobody subscribes to the subject: no db-service is running.
    pub fn is_no_responders(&self) -> bool {
        matches!(self, LinkError::Transport(TransportError::NoResponders))
    }

    /// The request got no reply in time (the service may still apply it).
    pub fn is_timed_out(&self) -> bool {
        matches!(self, LinkError::Transport(TransportError::TimedOut))
    }

    /// A failure a later attempt may not have: no reply, nobody listening,
    /// or the connection down.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            LinkError::Transport(
                TransportError::TimedOut | TransportError::NoResponders | TransportError::Disconnected(_)
            )
        )
    }
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The one case where the link knows more than the bus: on the
            // bot's subjects, the only responder is the db-service.
            LinkError::Transport(TransportError::NoResponders) => {
                f.write_str("no responders (is the db-service running?)")
            }
            LinkError::Transport(error) => error.fmt(f),
            LinkError::Store(error) => write!(f, "store: {error}"),
            LinkError::BadReply(error) => write!(f, "bad reply: {error}"),
        }
    }
}

impl Error for LinkError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            LinkError::Transport(error) => error.source(),
            LinkError::Store(error) => error.source(),
            LinkError::BadReply(error) => error.source(),
        }
    }
}

impl From<TransportError> for LinkError {
    fn from(error: TransportError) -> LinkError {
        LinkError::Transport(error)
    }
}

impl From<StoreError> for LinkError {
    fn from(error: StoreError) -> LinkError {
        LinkError::Store(error)
    }
}

impl From<BadReply> for LinkError {
    fn from(error: BadReply) -> LinkError {
        LinkError::BadReply(error)
    }
}

impl From<DecodeError> for LinkError {
    fn from(error: DecodeError) -> LinkError {
        LinkError::BadReply(BadReply::Decode(error))
    }
}

impl fmt::Display for BadReply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BadReply::Decode(error) => error.fmt(f),
            BadReply::Unexpected(reply) => f.write_str(&String::from_utf8_lossy(&reply.encode())),
            BadReply::NoReply(subject) => write!(f, "{subject} takes no reply"),
        }
    }
}

impl Error for BadReply {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            BadReply::Decode(error) => error.source(),
            BadReply::Unexpected(_) | BadReply::NoReply(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Store, StoreErrorKind};

    /// These texts are in trace lines, reports and snapshots: they must not drift.
    #[test]
    fn display_keeps_the_texts_traces_depend_on() {
        assert_eq!(LinkError::from(TransportError::TimedOut).to_string(), "request timed out");
        assert_eq!(
            LinkError::from(TransportError::NoResponders).to_string(),
            "no responders (is the db-service running?)"
        );
        assert_eq!(LinkError::from(TransportError::Disconnected("gone".into())).to_string(), "disconnected: gone");
        let bad = LinkError::from(BadReply::Unexpected(Reply::Error("boom".into())));
        assert_eq!(bad.to_string(), r#"bad reply: {"error":"boom"}"#);
    }

    #[test]
    fn the_wrapped_kind_is_kept() {
        assert!(LinkError::from(TransportError::NoResponders).is_no_responders());
        assert!(LinkError::from(TransportError::TimedOut).is_timed_out());
        let decode = DecodeError { subject: "reply to x".into(), reason: "not JSON".into() };
        let LinkError::BadReply(BadReply::Decode(kept)) = LinkError::from(decode.clone()) else { panic!() };
        assert_eq!(kept, decode);
    }

    /// A store failure keeps its kind, and the SQLite error under it is the
    /// link error's source (the store error's text is already in ours).
    #[test]
    fn a_store_error_keeps_its_kind_and_its_sqlite_source() {
        let mut store = Store::open_in_memory(0).unwrap();
        let error = store.enqueue_outbound_message("", 0).map(drop).unwrap_err();
        let link = LinkError::from(error);
        let LinkError::Store(inner) = &link else { panic!("{link:?}") };
        assert_eq!(inner.kind(), &StoreErrorKind::EmptyMessage);
        assert!(link.to_string().starts_with("store: an outbound message must not be empty"), "{link}");

        let sqlite = rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL), None);
        let link = LinkError::from(StoreError::from(sqlite));
        let source = link.source().expect("the SQLite error is the source");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some(), "{source:?}");
    }
}
