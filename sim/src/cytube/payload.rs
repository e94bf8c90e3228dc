//! Event payloads, shaped (and field-ordered) like the real recording's.
//!
//! serde_json here sorts the keys of a `Value` object, so payloads are typed
//! structs (fields serialize in declaration order) or fixed JSON texts.

use serde::{Deserialize, Serialize};

/// A user object (`addUser`, `userlist[]`). Moderator recipients (rank >= 2)
/// also see `smuted`, `aliases` and the cloaked `ip` in `meta`.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserData {
    pub(crate) name: String,
    pub(crate) rank: i64,
    pub(crate) profile: Profile,
    pub(crate) meta: UserMeta,
}

/// `profile`: always empty here (no avatars or profile texts).
#[derive(Debug, Clone, Default, Serialize)]
pub(crate) struct Profile {
    pub(crate) image: String,
    pub(crate) text: String,
}

/// A user's `meta`, in the base or the moderator view.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct UserMeta {
    pub(crate) afk: bool,
    pub(crate) muted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) smuted: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) aliases: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ip: Option<String>,
}

/// One chat line as broadcast (`chatMsg`) and kept in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatLine {
    /// Who said it (`[server]` for the server's own notices).
    pub username: String,
    /// The text as broadcast: cut, escaped, links and filters applied.
    pub msg: String,
    /// `addClass` and friends.
    pub meta: ChatMeta,
    /// Unix milliseconds, from the fake's clock.
    pub time: i64,
}

/// A chat line's `meta`; absent fields are left out, so `{}` is the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMeta {
    /// A moderator's flair, kept when it equals their rank.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub modflair: Option<i64>,
    /// `action` (`/me`), `greentext` (`>`), `spoiler` (`/sp`), `shout`, `server-whisper`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_class: Option<String>,
    /// `/me`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<bool>,
    /// Server notices and shouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub add_class_to_name_and_timestamp: Option<bool>,
    /// Shouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub force_show_name: Option<bool>,
}

/// `setPermissions` as the recording has it, except `chat`, which the fake
/// makes configurable ([`FakeConfig::chat_permission`](super::FakeConfig::chat_permission)).
const PERMISSIONS_BEFORE_CHAT: &str = r#"{"seeplaylist":-1,"playlistadd":1.5,"playlistnext":1.5,"playlistmove":1.5,"playlistdelete":2,"playlistjump":1.5,"playlistaddlist":1.5,"oplaylistadd":-1,"oplaylistnext":1.5,"oplaylistmove":1.5,"oplaylistdelete":2,"oplaylistjump":1.5,"oplaylistaddlist":1.5,"playlistaddcustom":3,"playlistaddrawfile":2,"playlistaddlive":1.5,"exceedmaxlength":2,"addnontemp":2,"settemp":2,"playlistshuffle":2,"playlistclear":2,"pollctl":1.5,"pollvote":-1,"viewhiddenpoll":1.5,"voteskip":-1,"viewvoteskip":1.5,"mute":1.5,"kick":1.5,"ban":2,"motdedit":3,"filteredit":3,"filterimport":3,"emoteedit":3,"emoteimport":3,"playlistlock":2,"leaderctl":2,"drink":1.5,"chat":"#;
const PERMISSIONS_AFTER_CHAT: &str =
    r#","chatclear":2,"exceedmaxitems":2,"deletefromchannellib":2,"exceedmaxdurationperuser":2}"#;

/// `setPermissions` with `chat` set.
pub(crate) fn permissions(chat: f64) -> String {
    format!("{PERMISSIONS_BEFORE_CHAT}{}{PERMISSIONS_AFTER_CHAT}", js_number(chat))
}

/// `chatclear`: the rank `/clear` needs.
pub(crate) const CHATCLEAR_RANK: i64 = 2;

/// `channelOpts` as recorded, with the channel's title and password.
pub(crate) fn channel_opts(channel: &str, password: Option<&str>) -> String {
    let title = serde_json::to_string(channel).expect("a string serializes");
    let password = password.map_or_else(|| "false".into(), |pw| serde_json::to_string(pw).expect("serializes"));
    format!(
        r#"{{"allow_voteskip":true,"voteskip_ratio":0.5,"afk_timeout":600,"pagetitle":{title},"maxlength":0,"externalcss":"","externaljs":"","chat_antiflood":false,"chat_antiflood_params":{{"burst":4,"sustained":1,"cooldown":4}},"show_public":false,"enable_link_regex":true,"password":{password},"allow_dupes":false,"torbanned":false,"block_anonymous_users":false,"allow_ascii_control":false,"playlist_max_per_user":0,"new_user_chat_delay":0,"new_user_chat_link_delay":0,"playlist_max_duration_per_user":0}}"#
    )
}

/// `channelCSSJS` for an empty stylesheet and script (the hashes are MD5 of "").
pub(crate) fn channel_css_js() -> &'static str {
    r#"{"css":"","cssHash":"1B2M2Y8AsgTpgAmY7PhCfg==","js":"","jsHash":"1B2M2Y8AsgTpgAmY7PhCfg=="}"#
}

/// `setPlaylistMeta` for an empty playlist.
pub(crate) fn playlist_meta() -> &'static str {
    r#"{"count":0,"rawTime":0,"time":"00:00"}"#
}

/// A number as JavaScript prints it: `0`, not `0.0`.
fn js_number(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        format!("{value}")
    }
}
