//! `--chat`: where the bot's chat comes from.

use std::path::PathBuf;

use crate::cytube::client::ChannelUrl;

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// Virtual time moves only when the bot is idle: as fast as possible.
    Max,
    /// A multiple of real time (1.0 = as recorded).
    Factor(f64),
}

/// A chat source: `replay:<fixture>[,speed=<x>|max]` or `cytube:<http(s)://host[:port]>/<channel>`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChatSpec {
    /// A recorded fixture, in virtual time.
    Replay { fixture: PathBuf, speed: Speed },
    /// A live CyTube channel, in real time.
    Cytube(ChannelUrl),
}

const USAGE: &str = "expected replay:<fixture.jsonl>[,speed=<x>|max] or cytube:<http(s)://host[:port]>/<channel>";

impl std::str::FromStr for ChatSpec {
    type Err = String;

    fn from_str(spec: &str) -> Result<ChatSpec, String> {
        if let Some(url) = spec.strip_prefix("cytube:") {
            return ChannelUrl::parse(url).map(ChatSpec::Cytube).map_err(|e| format!("{e} ({USAGE})"));
        }
        let rest = spec.strip_prefix("replay:").ok_or_else(|| format!("unknown chat source {spec:?}: {USAGE}"))?;
        let mut parts = rest.split(',');
        let fixture = PathBuf::from(parts.next().unwrap_or_default());
        if fixture.as_os_str().is_empty() {
            return Err("replay: needs a fixture path".into());
        }
        let mut speed = Speed::Factor(1.0);
        for option in parts {
            speed = match option.strip_prefix("speed=") {
                Some("max") => Speed::Max,
                Some(x) => match x.parse::<f64>() {
                    Ok(factor) if factor > 0.0 && factor.is_finite() => Speed::Factor(factor),
                    _ => return Err(format!("speed must be a positive number or max, got {x:?}")),
                },
                None => return Err(format!("unknown replay option {option:?} (known: speed=<x>|max)")),
            };
        }
        Ok(ChatSpec::Replay { fixture, speed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_spec_parses_replay_speed_and_cytube() {
        assert_eq!(
            "replay:f.jsonl".parse::<ChatSpec>(),
            Ok(ChatSpec::Replay { fixture: "f.jsonl".into(), speed: Speed::Factor(1.0) })
        );
        let speed = |spec: &str| match spec.parse::<ChatSpec>() {
            Ok(ChatSpec::Replay { speed, .. }) => speed,
            other => panic!("{other:?}"),
        };
        assert_eq!(speed("replay:f.jsonl,speed=max"), Speed::Max);
        assert_eq!(speed("replay:f.jsonl,speed=4"), Speed::Factor(4.0));
        match "cytube:http://127.0.0.1:8080/lounge".parse::<ChatSpec>() {
            Ok(ChatSpec::Cytube(url)) => assert_eq!(url.channel, "lounge"),
            other => panic!("{other:?}"),
        }
        for bad in ["f.jsonl", "replay:", "replay:f,speed=0", "replay:f,speed=fast", "replay:f,loop", "cytube:lounge"] {
            assert!(bad.parse::<ChatSpec>().is_err(), "{bad} should not parse");
        }
    }
}
