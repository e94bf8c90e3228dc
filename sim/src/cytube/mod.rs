//! A fake CyTube server for the project's own tests and the simulator: the
//! real server's socket protocol and channel behaviour, as far as a chat
//! bot meets them, over any TCP (tokio's, or turmoil's).
//!
//! Everything here was read from the real server's source (calzoneman/sync
//! v3.86.0, `src/io/ioserver.js`, `src/user.js`, `src/channel/*.js`) and
//! checked against `shared/reference/cytube-real-session.jsonl`; each
//! module names the functions it copies.
//!
//! # Examples
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use rosey_sim::cytube::{FakeConfig, FakeCytube};
//!
//! let config = FakeConfig::default().with_account("rosey", "hunter2", 2);
//! let (fake, base_url) = FakeCytube::start_local(config).await?;
//! // GET {base_url}/socketconfig/testchan.json names the socket.io port;
//! // a client connects, joins, logs in, and says something.
//! fake.user_join("alice", 1);
//! assert!(fake.user_chat("alice", "hi rosey"));
//! let lines = fake.wait_for_said("rosey", 1).await;
//! # Ok(()) }
//! ```
//!
//! # What it models
//!
//! - Two ports: the web port answers `GET /socketconfig/<channel>.json`
//!   (404 for an invalid name); the socket.io port takes
//!   `GET /socket.io/?EIO=4&transport=websocket` upgrades.
//! - Engine.IO 4 / socket.io 5: the open packet, `40` -> `40{"sid"}`, the
//!   server's ping every `pingInterval` and the close after `pingTimeout`
//!   without a pong, socket.io's 45 s connect timeout, `42[...]` events,
//!   `41` both ways, the 1 MiB frame limit.
//! - At connect: `rank -1`; the connect middleware (`44{"message":"Rate limit
//!   exceeded"}` when refused on command or, if enabled, by the per-IP
//!   bucket); at most 10 sockets per IP.
//! - `joinChannel` (first request only, as the real `socket.once`): the
//!   channel password gate (`needPassword`, `channelPassword`,
//!   `cancelNeedPassword`, moderators pass), then the join sequence in
//!   module order with the last 15 chat lines, `userlist` (logged-in
//!   members) and `usercount`.
//! - `login`: registered (`rank`, `login`, `addUser`, then the channel rank:
//!   `rank`, `userlist` again when the rank crosses 2, the playlist again,
//!   `setUserRank`), guest, and their errors; a second login under a
//!   member's name kicks the older socket (`kick {reason: "Duplicate login"}`, `41`).
//! - Chat: permission, the 320-unit cut, control characters, blank lines,
//!   the throttle (burst 20, then one per 100 ms, fresh after 2 s idle;
//!   `cooldown 100`), greentext, `/me`, `/sp`, `/say`, `/afk`, `/clear`,
//!   escaping, links, the default filters, the echo to the sender, the
//!   history of 15; PMs; mute (by the control handle).
//! - `usercount` with its 10 s leading-and-trailing debounce, `setAFK` /
//!   `setUserMeta` (a chat line clears AFK, auto-AFK after 600 s idle),
//!   `userLeave` for logged-in members only, moderator views of user
//!   objects and the `[server] X joined` notice.
//! - Control: simulated users, faults (`drop_connections`,
//!   `refuse_connects`, `restart`), what was said, cooldowns, stats.
//!
//! # What it leaves out, and why
//!
//! - The polling transport and EIO 3 (`allowEIO3`): a bot opens the
//!   websocket directly; both get engine.io's 400 answers.
//! - Session cookies (`auth` at the handshake), the database (aliases are
//!   just the user's name; IP cloaks are FNV, not MD5), profiles, more than
//!   one channel (another valid name gets the "hosted on another server"
//!   error), the playlist, polls, emotes, voteskip, the leader (rank 1.5),
//!   custom filters, `chat_antiflood`, shadow mutes, bans and the mute
//!   commands: no bot path here depends on them.
//! - The per-socket inbound event limit: the real default is infinite.
//! - Timing: the real server answers a login after database round trips;
//!   here every handler runs at once, in the real handlers' emit order.
//! - A kicked socket's engine connection stays open until the client
//!   closes it (as the real server leaves it); a dropped connection gets no
//!   close frame.
//!
//! # Determinism
//!
//! No OS clock (a [`FakeClock`]: tokio's, paused in tests, or turmoil's),
//! no `HashMap` iteration (every map is a `BTreeMap` keyed by a counter, so
//! broadcasts go out in connect order), no randomness (sids are counters),
//! no threads.
//!
//! # Layout
//!
//! - `config`: [`FakeConfig`], [`Account`], the clocks.
//! - `packet`: Engine.IO / socket.io text packets.
//! - `http`: the request head, socketconfig, the handshake checks.
//! - `listener`: [`Listener`], over tokio, turmoil and in-memory sockets.
//! - `server`: the accept loops, the timer task.
//! - `memory`: in-memory pipes as listeners, for paused-time tests.
//! - `socket`: one websocket's task (pings, packets, its queue).
//! - `state`: the state behind one lock; [`FakeStats`].
//! - `session`: connects, disconnects, kicks, cuts, restarts.
//! - `channel`: join, the join sequence, part, user lists, usercount, AFK.
//! - `login`: password and guest logins, channel ranks, simulated users.
//! - `chat`: chat lines, commands, PMs.
//! - `format`: escaping, links, filters, the cut.
//! - `limiter`: the chat throttle, the connect bucket, the debounce.
//! - `payload`: payload shapes.
//! - `control`: [`FakeCytube`], the handle.

mod channel;
mod chat;
mod config;
mod control;
mod format;
mod http;
mod limiter;
mod listener;
mod login;
mod memory;
mod packet;
mod payload;
mod server;
mod session;
mod socket;
mod state;

pub use config::{Account, FakeClock, FakeConfig, TokioClock, TurmoilClock};
pub use control::FakeCytube;
pub use listener::Listener;
pub use memory::{memory_listener, MemoryConnector, MemoryListener, MemoryPorts};
pub use payload::{ChatLine, ChatMeta};
pub use server::{LocalServer, FAKE_EPOCH_UNIX_MS};
pub use state::FakeStats;
