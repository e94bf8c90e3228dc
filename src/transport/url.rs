//! NATS server URLs with their secrets taken out.
//!
//! An operator may write credentials into the URL (`nats://bob:secret@host:4222`,
//! or a token: `nats://t0ken@host`). async-nats 0.51 neither uses them (auth
//! comes only from its options) nor hides them: its debug logs print every
//! server address whole. So the userinfo is split off here, once: async-nats
//! gets the bare servers and the credentials through its auth options, and
//! every URL we show has the secret replaced by `***`.

use std::fmt;

/// Credentials written into a URL.
#[derive(Clone, PartialEq, Eq)]
pub enum UrlAuth {
    /// `user:password@`.
    UserPassword { user: String, password: String },
    /// `token@`: a userinfo without a colon is a token, as in NATS's own clients.
    Token(String),
}

impl fmt::Debug for UrlAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UrlAuth::UserPassword { user, .. } => write!(f, "UserPassword {{ user: {user:?}, password: \"***\" }}"),
            UrlAuth::Token(_) => f.write_str("Token(\"***\")"),
        }
    }
}

/// Comma-separated server URLs, split into bare servers and credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerList {
    /// Each URL without its userinfo, in order.
    pub servers: Vec<String>,
    /// The credentials of the first URL that carries any.
    pub auth: Option<UrlAuth>,
}

impl ServerList {
    /// Splits `urls` (one URL, or several separated by commas). Never fails:
    /// what is not a URL is passed on for async-nats to reject.
    pub fn parse(urls: &str) -> ServerList {
        let mut list = ServerList { servers: Vec::new(), auth: None };
        for url in urls.split(',').map(str::trim).filter(|u| !u.is_empty()) {
            let parts = Parts::of(url);
            list.servers.push(format!("{}{}{}", parts.scheme, parts.host, parts.rest));
            if list.auth.is_none() {
                list.auth = parts.auth();
            }
        }
        list
    }
}

/// A secret as `Debug` shows it: `***` when set, never its value.
pub fn hidden(secret: &Option<String>) -> Option<&'static str> {
    secret.as_ref().map(|_| "***")
}

/// `urls` with every password or token replaced by `***` (the user name stays):
/// the only form in which a URL is ever shown.
pub fn redact(urls: &str) -> String {
    let shown: Vec<String> = urls
        .split(',')
        .map(|url| {
            let parts = Parts::of(url.trim());
            let userinfo = match parts.userinfo {
                None => String::new(),
                Some(info) => match info.split_once(':') {
                    Some((user, _)) => format!("{user}:***@"),
                    None => "***@".to_string(),
                },
            };
            format!("{}{userinfo}{}{}", parts.scheme, parts.host, parts.rest)
        })
        .collect();
    shown.join(",")
}

/// One URL cut at its userinfo: `scheme://` `userinfo@` `host:port` `/rest`.
struct Parts<'a> {
    scheme: &'a str,
    userinfo: Option<&'a str>,
    host: &'a str,
    rest: &'a str,
}

impl<'a> Parts<'a> {
    fn of(url: &'a str) -> Parts<'a> {
        let after_scheme = url.find("://").map_or(0, |i| i + 3);
        let (scheme, tail) = url.split_at(after_scheme);
        let end = tail.find(['/', '?', '#']).unwrap_or(tail.len());
        let (authority, rest) = tail.split_at(end);
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => Parts { scheme, userinfo: Some(userinfo), host, rest },
            None => Parts { scheme, userinfo: None, host: authority, rest },
        }
    }

    fn auth(&self) -> Option<UrlAuth> {
        let info = self.userinfo.filter(|info| !info.is_empty())?;
        Some(match info.split_once(':') {
            Some((user, password)) => {
                UrlAuth::UserPassword { user: percent_decode(user), password: percent_decode(password) }
            }
            None => UrlAuth::Token(percent_decode(info)),
        })
    }
}

/// Decodes `%XX` escapes (a password with `@` or `:` must be written escaped);
/// a malformed escape is kept as written.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_becomes_options_and_the_servers_go_bare() {
        let list = ServerList::parse("nats://bob:s%40cret@host:4222, nats://other:4223");
        assert_eq!(list.servers, ["nats://host:4222", "nats://other:4223"]);
        assert_eq!(list.auth, Some(UrlAuth::UserPassword { user: "bob".into(), password: "s@cret".into() }));
        let token = ServerList::parse("t0ken@127.0.0.1:4222/");
        assert_eq!(token.servers, ["127.0.0.1:4222/"]);
        assert_eq!(token.auth, Some(UrlAuth::Token("t0ken".into())));
        assert_eq!(ServerList::parse("nats://127.0.0.1:4222").auth, None);
    }

    #[test]
    fn shown_urls_never_carry_the_secret() {
        assert_eq!(redact("nats://bob:secret@host:4222"), "nats://bob:***@host:4222");
        assert_eq!(redact("nats://t0ken@host:4222,nats://h2"), "nats://***@host:4222,nats://h2");
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
        // An @ after the host is not userinfo.
        assert_eq!(redact("nats://host:4222/a@b"), "nats://host:4222/a@b");
        let debug = format!("{:?}", ServerList::parse("nats://bob:secret@h,nats://t0k@h"));
        assert!(!debug.contains("secret") && debug.contains("bob"), "{debug}");
        assert!(!format!("{:?}", UrlAuth::Token("t0k".into())).contains("t0k"));
    }

    #[test]
    fn a_bad_escape_is_kept_and_never_panics() {
        assert_eq!(percent_decode("a%zzb%4"), "a%zzb%4");
        assert_eq!(percent_decode("%e2%82%ac"), "€");
        assert_eq!(percent_decode("é%"), "é%");
    }
}
