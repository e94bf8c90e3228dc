//! The status page, rendered on the server from a [`Snapshot`].
//!
//! Everything from the database goes through [`escape`] on its way into the
//! HTML, and the page's script sets text with `textContent` only: a chat line
//! that contains `<script>` is shown as those characters. The page loads
//! nothing from anywhere else (its script and style come from this binary),
//! and its Content-Security-Policy forbids inline script, so even a missed
//! escape could not run one.

use std::fmt::Write;

use super::snapshot::{Snapshot, StatusView};
use crate::markup::escape;
use crate::store::{CountSample, OutboundState};

/// The page's script: live updates over server-sent events and the say form.
pub const SCRIPT: &str = include_str!("page.js");
/// The page's style.
pub const STYLE: &str = include_str!("page.css");
/// What the page may load: only its own script, style and API.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'";

/// `HH:MM:SS` UTC of a Unix time (the page shows times of day; the full
/// time is in the element's title).
fn time_of_day(unix: i64) -> String {
    let seconds = unix.rem_euclid(86_400);
    format!("{:02}:{:02}:{:02}", seconds / 3600, seconds / 60 % 60, seconds % 60)
}

fn or_dash(value: Option<&str>) -> String {
    value.map_or_else(|| "-".to_string(), escape)
}

/// The whole page.
pub fn render(snapshot: &Snapshot) -> String {
    let status = &snapshot.status;
    let title = status.channel.as_deref().map_or_else(|| "Rosey".to_string(), |c| format!("Rosey: {}", escape(c)));
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="/app.css"><script src="/app.js" defer></script></head>
<body>
<header><h1>Rosey <span id="channel">{channel}</span></h1><span id="live" class="live">connecting…</span></header>
<main>
<section id="status-card" class="card"><h2>Bot</h2>{status_table}</section>
<section class="card"><h2>Users online <span id="online-count" class="count">{online_count}</span></h2><ul id="online">{online}</ul></section>
<section class="card"><h2>Top chatters</h2><table id="top-chatters"><thead><tr><th>User</th><th>Lines</th></tr></thead><tbody>{top}</tbody></table></section>
<section class="card wide"><h2>User count</h2><div id="chart">{chart}</div></section>
<section class="card wide"><h2>Recent chat</h2><ol id="recent-chat" class="chat">{chat}</ol></section>
<section class="card wide"><h2>Outbound queue</h2><table id="outbound"><thead><tr><th>#</th><th>Message</th><th>State</th><th>Tries</th><th>Last error</th></tr></thead><tbody>{outbound}</tbody></table>
<form id="say-form"><h3>Say in the channel</h3>
<label>API token <input id="say-token" type="password" autocomplete="off" required></label>
<label>Message <input id="say-message" type="text" maxlength="320" required></label>
<button id="say-button" type="submit">Say</button> <output id="say-result"></output></form></section>
</main></body></html>
"#,
        channel = or_dash(status.channel.as_deref()),
        status_table = status_table(status),
        online_count = snapshot.online.len(),
        online = list_items(&snapshot.online),
        chart = chart_svg(&snapshot.history),
        top = top_rows(snapshot),
        chat = chat_items(snapshot),
        outbound = outbound_rows(snapshot),
    );
    html
}

fn status_table(status: &StatusView) -> String {
    let rank = status.bot_rank.map_or_else(|| "-".to_string(), |r| format!("{r}"));
    let media = match (&status.media_title, status.media_duration) {
        (Some(title), Some(seconds)) => format!("{} ({}:{:02})", escape(title), seconds / 60, seconds % 60),
        (Some(title), None) => escape(title),
        _ => "-".to_string(),
    };
    let connected = if status.bot_connected { "yes" } else { "no" };
    format!(
        r#"<table><tbody>
<tr><th>Name</th><td id="bot-name">{name}</td></tr>
<tr><th>Rank</th><td id="bot-rank">{rank}</td></tr>
<tr><th>Connected</th><td id="bot-connected" class="{connected}">{connected}</td></tr>
<tr><th>Chat users</th><td id="chat-users">{chat_users}</td></tr>
<tr><th>Connected users</th><td id="connected-users">{connected_users}</td></tr>
<tr><th>Media</th><td id="media">{media}</td></tr>
</tbody></table>"#,
        name = or_dash(status.bot_name.as_deref()),
        chat_users = status.chat_users,
        connected_users = status.connected_users,
    )
}

fn list_items(names: &[String]) -> String {
    names.iter().map(|name| format!("<li>{}</li>", escape(name))).collect()
}

fn top_rows(snapshot: &Snapshot) -> String {
    let rows = snapshot.top_chatters.iter();
    rows.map(|c| format!("<tr><td>{}</td><td>{}</td></tr>", escape(&c.username), c.chat_lines)).collect()
}

fn chat_items(snapshot: &Snapshot) -> String {
    let mut items = String::new();
    for line in &snapshot.recent_chat {
        let _ = write!(
            items,
            r#"<li><time>{}</time> <b class="user">{}</b> <span class="msg">{}</span></li>"#,
            time_of_day(line.timestamp),
            escape(&line.username),
            escape(&line.text)
        );
    }
    items
}

fn state_name(state: OutboundState) -> &'static str {
    match state {
        OutboundState::Queued => "queued",
        OutboundState::Retrying => "retrying",
        OutboundState::Sent => "sent",
        OutboundState::Failed => "failed",
    }
}

fn outbound_rows(snapshot: &Snapshot) -> String {
    let mut rows = String::new();
    for entry in &snapshot.outbound {
        let state = state_name(entry.state);
        let _ = write!(
            rows,
            r#"<tr><td>{}</td><td>{}</td><td class="state {state}">{state}</td><td>{}</td><td>{}</td></tr>"#,
            entry.id,
            escape(&entry.message),
            entry.retry_count,
            or_dash(entry.last_error.as_deref()),
        );
    }
    rows
}

/// The user-count history as an SVG line chart: chat users and everyone
/// connected. Only numbers go into it.
pub fn chart_svg(samples: &[CountSample]) -> String {
    const W: f64 = 720.0;
    const H: f64 = 160.0;
    const PAD: f64 = 24.0;
    let (Some(first), Some(last)) = (samples.first(), samples.last()) else {
        return r#"<p class="empty">No user counts yet.</p>"#.to_string();
    };
    let span = (last.timestamp - first.timestamp).max(1) as f64;
    let top = samples.iter().map(|s| s.connected_users.max(s.chat_users)).max().unwrap_or(0).max(1) as f64;
    let point = |t: i64, v: i64| {
        let x = PAD + (t - first.timestamp) as f64 / span * (W - 2.0 * PAD);
        let y = H - PAD - v as f64 / top * (H - 2.0 * PAD);
        format!("{x:.1},{y:.1}")
    };
    let line = |value: fn(&CountSample) -> i64| -> String {
        samples.iter().map(|s| point(s.timestamp, value(s))).collect::<Vec<_>>().join(" ")
    };
    format!(
        r#"<svg id="count-chart" viewBox="0 0 {W} {H}" role="img" aria-label="user count history">
<line x1="{PAD}" y1="{base}" x2="{right}" y2="{base}" class="axis"/>
<text x="2" y="{top_y}" class="label">{top}</text><text x="2" y="{base}" class="label">0</text>
<text x="{PAD}" y="{H}" class="label">{from}</text><text x="{right}" y="{H}" class="label end">{to}</text>
<polyline points="{connected}" class="connected"/><polyline points="{chat}" class="chat"/>
<text x="{right}" y="12" class="label end"><tspan class="connected">connected</tspan> <tspan class="chat">chat users</tspan></text>
</svg>"#,
        base = H - PAD,
        right = W - PAD,
        top_y = PAD + 4.0,
        from = time_of_day(first.timestamp),
        to = time_of_day(last.timestamp),
        connected = line(|s| s.connected_users),
        chat = line(|s| s.chat_users),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_history_says_so() {
        assert!(chart_svg(&[]).contains("No user counts yet"));
        let samples = [
            CountSample { timestamp: 0, chat_users: 1, connected_users: 2 },
            CountSample { timestamp: 60, chat_users: 3, connected_users: 4 },
        ];
        let svg = chart_svg(&samples);
        assert!(svg.starts_with("<svg") && svg.contains("polyline"), "{svg}");
    }
}
