//! What the configured `protocol` means outside the bot: the bus link's
//! outbox and the db-service's settings. The bot's `Protocol` decides its own
//! bookkeeping; these mappings are the application's policy, kept in one
//! place so the binary and the simulator cannot disagree.

use crate::bot::Protocol;
use crate::link::Outbox;
use crate::service::ServiceConfig;

/// The bus link's outbox under `protocol`: the hardened protocol holds
/// commands while no db-service listens; v0.5.0 published them into the void.
pub fn outbox_for(protocol: Protocol) -> Outbox {
    match protocol {
        Protocol::Hardened => Outbox::Hold,
        Protocol::V05 => Outbox::None,
    }
}

/// The db-service's settings under the configured `protocol`: v0.5 behaves as
/// v0.5.0's service did ([`ServiceConfig::v0_5`]: no queue group, one commit
/// per command); the hardened default groups commits in `queue_group` (or
/// the default group).
pub fn service_config(protocol: Protocol, queue_group: Option<String>) -> ServiceConfig {
    match protocol {
        Protocol::Hardened => match queue_group {
            Some(group) => ServiceConfig { queue_group: Some(group), ..ServiceConfig::default() },
            None => ServiceConfig::default(),
        },
        Protocol::V05 => ServiceConfig::v0_5(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::{CommitMode, DEFAULT_QUEUE_GROUP};

    #[test]
    fn the_protocol_picks_the_services_v05_settings_or_the_grouped_default() {
        let v05 = service_config(Protocol::V05, Some("ignored".into()));
        assert_eq!((v05.queue_group, v05.commit), (None, CommitMode::PerCommand));
        let hardened = service_config(Protocol::Hardened, None);
        assert_eq!(hardened.queue_group.as_deref(), Some(DEFAULT_QUEUE_GROUP));
        assert!(matches!(hardened.commit, CommitMode::Group { .. }));
        assert_eq!(service_config(Protocol::Hardened, Some("g".into())).queue_group.as_deref(), Some("g"));
    }
}
