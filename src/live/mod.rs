//! The bot in a real channel: a CyTube [`Session`] as the runner's chat
//! source, and the sink that says lines into it.
//!
//! [`LiveChannel`] turns session events into the runner's items: a new
//! connection becomes `rosey:connect`, a lost one `rosey:disconnect`, every
//! socket event goes through the same normalizer as a fixture line (a bad one
//! is a counted skip), and a fatal error (a refused login, a duplicate login's
//! kick) ends the run with the usual shutdown. [`LiveSink`] is its other half:
//! it takes the outbound loop's lines, holds back what the server would
//! throttle (its limiter mirrored, with a margin), refuses what it would cut, and queues the rest for the session,
//! which writes them on its next poll. The two share a small state, never
//! borrowed across an await.

mod sink;
mod source;

pub use sink::{LiveSink, Throttle, THROTTLE_BURST, THROTTLE_COOL_MS, THROTTLE_GAP_MS};
pub use source::LiveChannel;
