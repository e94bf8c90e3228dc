//! CyTube's `pack()`s: media, playlist items and users as the server sends them.

use crate::json::{obj, J};

/// CyTube's `util.formatTime`.
fn format_time(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h:02}:{m:02}:{s:02}")
    } else {
        format!("{m:02}:{s:02}")
    }
}

/// A video, as `Media.pack()` sends it.
#[derive(Clone, Debug)]
pub(crate) struct Media {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) seconds: u64,
    pub(crate) kind: &'static str,
}

impl Media {
    /// `Media.pack()`.
    pub(crate) fn pack(&self) -> J {
        obj! {
            "id" => self.id.as_str(), "title" => self.title.as_str(), "seconds" => self.seconds,
            "duration" => format_time(self.seconds), "type" => self.kind, "meta" => J::Obj(vec![]),
        }
    }

    /// `changeMedia`: the packed media plus the play position.
    pub(crate) fn full_update(&self, current_time: f64) -> J {
        let J::Obj(mut fields) = self.pack() else { unreachable!() };
        fields.push(("currentTime".to_string(), J::Num(current_time)));
        fields.push(("paused".to_string(), J::Bool(false)));
        J::Obj(fields)
    }
}

/// A playlist entry, as `PlaylistItem.pack()` sends it.
#[derive(Clone, Debug)]
pub(crate) struct Item {
    pub(crate) uid: u64,
    pub(crate) media: Media,
    pub(crate) temp: bool,
    pub(crate) queueby: String,
}

impl Item {
    /// `PlaylistItem.pack()`.
    pub(crate) fn pack(&self) -> J {
        obj! { "media" => self.media.pack(), "uid" => self.uid, "temp" => self.temp, "queueby" => self.queueby.as_str() }
    }
}

pub(crate) fn playlist_meta(items: &[Item]) -> J {
    let raw: u64 = items.iter().map(|i| i.media.seconds).sum();
    obj! { "count" => items.len() as u64, "rawTime" => raw, "time" => format_time(raw) }
}

/// A user as `packUserData` sends it: the plain view, or the moderators' view
/// (with `smuted`, `aliases` and the masked `ip`) for a viewer of rank >= 2.
pub(crate) struct Who<'a> {
    pub(crate) name: &'a str,
    pub(crate) rank: f64,
    pub(crate) image: &'a str,
    pub(crate) text: &'a str,
    pub(crate) afk: bool,
    pub(crate) muted: bool,
    pub(crate) aliases: &'a [String],
    pub(crate) ip: &'a str,
}

impl Who<'_> {
    pub(crate) fn meta(&self, mod_view: bool) -> J {
        if mod_view {
            let aliases: Vec<J> = self.aliases.iter().map(J::from).collect();
            obj! {
                "afk" => self.afk, "muted" => self.muted, "smuted" => false,
                "aliases" => aliases, "ip" => self.ip,
            }
        } else {
            obj! { "afk" => self.afk, "muted" => self.muted }
        }
    }

    pub(crate) fn pack(&self, mod_view: bool) -> J {
        obj! {
            "name" => self.name, "rank" => self.rank,
            "profile" => obj! { "image" => self.image, "text" => self.text },
            "meta" => self.meta(mod_view),
        }
    }
}
