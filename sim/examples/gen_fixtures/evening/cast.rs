//! The evening's people: who comes when, how they type, what they go by.

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Lang {
    En,
    Ja,
    Zh,
    Ko,
    Ar,
    He,
    Ru,
    Es,
    Pt,
    De,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Style {
    Plain,
    /// types everything in lower case
    Lower,
    /// SHOUTS now and then
    Caps,
    /// adds an emoji to half the lines
    Emoji,
    /// mostly one-word reactions
    Terse,
    /// full sentences
    Formal,
    /// only the scripted spam
    Spam,
}

/// Seconds; a plan end of `END` means "still there at the end".
pub(super) const END: u64 = 10_800;

/// `(name, rank, lang, style, chattiness, modflair, plan)`. A plan interval
/// starting at 0 means present in the first `userlist`; two intervals a few
/// seconds apart are a reconnect (`userLeave` then `addUser`).
pub(super) type Row = (&'static str, f64, Lang, Style, u32, bool, &'static [(u64, u64)]);

#[rustfmt::skip]
pub(super) const CAST: &[Row] = &[
    ("Tamsin", 3.0, Lang::En, Style::Plain, 7, true, &[(0, END)]),
    ("Brennan", 2.0, Lang::En, Style::Formal, 5, false, &[(0, 6_900)]),
    ("Kaede_", 2.0, Lang::Ja, Style::Plain, 6, true, &[(0, END)]),
    ("Mika", 1.0, Lang::En, Style::Emoji, 9, false, &[(0, 4_300)]),
    ("oldmanjenkins", 1.0, Lang::En, Style::Formal, 5, false, &[(0, 3_100), (3_112, END)]),
    ("pixelpusher", 1.0, Lang::En, Style::Plain, 6, false, &[(0, END)]),
    ("Nadia", 1.0, Lang::En, Style::Plain, 7, false, &[(0, 8_200)]),
    ("Yusuf_K", 1.0, Lang::Ar, Style::Plain, 6, false, &[(0, 5_500), (7_900, END)]),
    ("quietkid", 0.0, Lang::En, Style::Terse, 1, false, &[(0, 2_000)]),
    ("velvetthunder", 1.0, Lang::En, Style::Plain, 5, false, &[(0, 9_600)]),
    ("Lotte", 1.0, Lang::De, Style::Plain, 4, false, &[(0, 1_500), (1_507, END)]),
    ("hex_0x2A", 1.0, Lang::En, Style::Lower, 5, false, &[(240, END)]),
    ("Avi-L", 1.0, Lang::He, Style::Plain, 6, false, &[(400, 7_200)]),
    ("bluefin", 0.0, Lang::En, Style::Terse, 3, false, &[(650, 2_400)]),
    ("frogposting", 1.0, Lang::En, Style::Lower, 8, false, &[(900, END)]),
    ("DJ-Noodle", 1.0, Lang::En, Style::Emoji, 6, false, &[(1_100, 6_000), (6_021, END)]),
    ("xX_Shadow_Xx", 0.0, Lang::En, Style::Caps, 5, false, &[(1_400, 5_000)]),
    ("ryo87", 1.0, Lang::Ja, Style::Lower, 5, false, &[(1_700, END)]),
    ("sunflowerseed", 1.0, Lang::En, Style::Emoji, 6, false, &[(2_000, 8_800)]),
    ("nightowl_", 1.0, Lang::En, Style::Lower, 4, false, &[(2_300, 9_900)]),
    ("Ines", 1.0, Lang::Es, Style::Plain, 5, false, &[(2_600, 6_600)]),
    ("okonomiyaki", 0.0, Lang::Ja, Style::Terse, 3, false, &[(2_900, 4_100)]),
    ("MarcusAurelius", 1.0, Lang::En, Style::Formal, 4, false, &[(3_200, END)]),
    ("Zed", 1.0, Lang::En, Style::Terse, 4, false, &[(3_500, 5_300), (5_309, 9_000)]),
    ("Mei_Lin", 1.0, Lang::Zh, Style::Plain, 5, false, &[(3_800, END)]),
    ("jiwoo", 1.0, Lang::Ko, Style::Lower, 5, false, &[(4_000, 8_500)]),
    ("Priya", 1.0, Lang::En, Style::Plain, 6, false, &[(4_500, END)]),
    ("Tomasz", 0.0, Lang::En, Style::Plain, 3, false, &[(4_800, 6_200)]),
    ("free_vbucks_now", 0.0, Lang::En, Style::Spam, 0, false, &[(5_200, 5_270)]),
    ("elle_b", 1.0, Lang::En, Style::Lower, 6, false, &[(5_400, END)]),
    ("gravy_train", 1.0, Lang::En, Style::Caps, 4, false, &[(5_700, 7_700)]),
    ("Sasha", 1.0, Lang::Ru, Style::Plain, 5, false, &[(6_000, END)]),
    ("Haruto", 0.0, Lang::Ja, Style::Terse, 2, false, &[(6_300, 7_000)]),
    ("noodle_arms", 1.0, Lang::En, Style::Plain, 4, false, &[(6_700, END)]),
    ("mika", 0.0, Lang::En, Style::Lower, 5, false, &[(7_400, END)]),
    ("Bea", 1.0, Lang::Pt, Style::Emoji, 5, false, &[(7_600, 10_300)]),
    ("Kofi", 1.0, Lang::En, Style::Plain, 4, false, &[(8_000, END)]),
    ("lemonlime", 0.0, Lang::En, Style::Emoji, 3, false, &[(8_300, 9_200)]),
    ("fenwick", 1.0, Lang::En, Style::Formal, 3, false, &[(8_700, END)]),
    ("Oona", 1.0, Lang::En, Style::Plain, 3, false, &[(9_100, END)]),
    ("ratking", 0.0, Lang::En, Style::Terse, 1, false, &[(9_500, 10_100)]),
    ("Dmitri", 1.0, Lang::Ru, Style::Terse, 3, false, &[(9_800, END)]),
    ("Leilani", 1.0, Lang::En, Style::Emoji, 4, false, &[(10_000, END)]),
    ("cass", 1.0, Lang::En, Style::Lower, 2, false, &[(300, 900), (8_100, 8_900)]),
    ("mooncake", 1.0, Lang::En, Style::Terse, 0, false, &[(1_000, 10_600)]),
];

/// The user whose `userLeave` the recording lost: gone from the server at
/// 2,000 s, absent from the second `userlist`.
pub(super) const LOST_LEAVE: &str = "quietkid";
/// The user whose `addUser` the recording lost: in the channel from 2,300 s,
/// chats, first announced by the second `userlist`.
pub(super) const LOST_JOIN: &str = "nightowl_";
/// Extra aliases (accounts on the same IP), shown to moderators.
pub(super) const ALTS: &[(&str, &str)] =
    &[("pixelpusher", "pxp_"), ("Zed", "zedd"), ("DJ-Noodle", "noodle_dj"), ("free_vbucks_now", "vbucks_free")];
pub(super) const PROFILE_TEXTS: &[&str] = &[
    "",
    "lurking since 2014",
    "playlist goblin",
    "ask me about synths",
    "she/her",
    "🌙",
    "here for the bangers",
    "do not @ me before coffee",
    "מוזיקה זה החיים",
    "音楽が好き",
];
