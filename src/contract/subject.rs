//! Subject names, v0.5.0's and this project's additions.

/// Every db-service subject starts with this.
pub const SUBJECT_PREFIX: &str = "rosey.db.";

/// The subscription that sees every db-service subject.
pub const WILDCARD: &str = "rosey.db.>";

/// Every subject of the outbound queue (its marks and its requests) starts
/// with this, and no other does: the db-service serves them on their own lane.
pub const OUTBOUND_PREFIX: &str = "rosey.db.messages.outbound.";

/// A request the db-service answers itself, with its counters as JSON
/// ([`ServiceStats`](crate::service::ServiceStats)): not a store command, so
/// not a [`Subject`]. Added by this project; a v0.5.0 service has no responder.
pub const SERVICE_STATS: &str = "rosey.db.service.stats";

/// A db-service subject. The enum keeps the set closed: a subject string that
/// is not here is not ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    UserJoined,
    UserLeft,
    MessageLog,
    StatsUserCount,
    StatsHighWater,
    StatusUpdate,
    OutboundMarkSent,
    /// Added by this project (contract section 5).
    OutboundMarkFailed,
    /// Request/reply.
    OutboundGet,
    /// Request/reply, added by this project.
    OutboundEnqueue,
    /// Request/reply.
    RecentChatGet,
}

impl Subject {
    /// Every subject, in a fixed order (for `watch`, docs and tests).
    pub const ALL: [Subject; 11] = [
        Subject::UserJoined,
        Subject::UserLeft,
        Subject::MessageLog,
        Subject::StatsUserCount,
        Subject::StatsHighWater,
        Subject::StatusUpdate,
        Subject::OutboundMarkSent,
        Subject::OutboundMarkFailed,
        Subject::OutboundGet,
        Subject::OutboundEnqueue,
        Subject::RecentChatGet,
    ];

    /// The NATS subject string.
    pub const fn as_str(self) -> &'static str {
        match self {
            Subject::UserJoined => "rosey.db.user.joined",
            Subject::UserLeft => "rosey.db.user.left",
            Subject::MessageLog => "rosey.db.message.log",
            Subject::StatsUserCount => "rosey.db.stats.user_count",
            Subject::StatsHighWater => "rosey.db.stats.high_water",
            Subject::StatusUpdate => "rosey.db.status.update",
            Subject::OutboundMarkSent => "rosey.db.messages.outbound.mark_sent",
            Subject::OutboundMarkFailed => "rosey.db.messages.outbound.mark_failed",
            Subject::OutboundGet => "rosey.db.messages.outbound.get",
            Subject::OutboundEnqueue => "rosey.db.messages.outbound.enqueue",
            Subject::RecentChatGet => "rosey.db.stats.recent_chat.get",
        }
    }

    /// Parses a subject string; `None` for anything that is not a db-service subject.
    pub fn parse(s: &str) -> Option<Subject> {
        Subject::ALL.into_iter().find(|subject| subject.as_str() == s)
    }

    /// Whether the subject expects a reply.
    pub const fn is_request(self) -> bool {
        matches!(self, Subject::OutboundGet | Subject::OutboundEnqueue | Subject::RecentChatGet)
    }

    /// Whether the subject carries a channel event, a fact about the channel
    /// that becomes a database row (not a mark and not a request).
    pub const fn is_channel_event(self) -> bool {
        matches!(
            self,
            Subject::UserJoined
                | Subject::UserLeft
                | Subject::MessageLog
                | Subject::StatsUserCount
                | Subject::StatsHighWater
                | Subject::StatusUpdate
        )
    }

    /// Whether the subject belongs to the outbound queue: its answers depend
    /// on these commands only, never on chat, joins, counts or status.
    pub fn is_outbound(self) -> bool {
        self.as_str().starts_with(OUTBOUND_PREFIX)
    }

    /// Whether the subject exists in v0.5.0 (the others are this project's additions).
    pub const fn in_v05(self) -> bool {
        !matches!(self, Subject::OutboundMarkFailed | Subject::OutboundEnqueue)
    }
}

impl std::fmt::Display for Subject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Serialized as the NATS subject string, as it appears on the wire and in traces.
impl serde::Serialize for Subject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Subject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Subject, D::Error> {
        let text = String::deserialize(deserializer)?;
        Subject::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("{text:?} is not a rosey.db subject")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_subject_round_trips_and_starts_with_the_prefix() {
        for subject in Subject::ALL {
            assert!(subject.as_str().starts_with(SUBJECT_PREFIX));
            assert_eq!(Subject::parse(subject.as_str()), Some(subject));
        }
        assert_eq!(Subject::parse("rosey.db.user"), None);
    }

    #[test]
    fn the_outbound_lane_is_exactly_the_outbound_queue() {
        let outbound: Vec<Subject> = Subject::ALL.into_iter().filter(|s| s.is_outbound()).collect();
        assert_eq!(
            outbound,
            [Subject::OutboundMarkSent, Subject::OutboundMarkFailed, Subject::OutboundGet, Subject::OutboundEnqueue]
        );
        assert!(!SERVICE_STATS.starts_with(OUTBOUND_PREFIX) && SERVICE_STATS.starts_with(SUBJECT_PREFIX));
        assert_eq!(Subject::parse(SERVICE_STATS), None, "answered by the service, not a store command");
    }
}
