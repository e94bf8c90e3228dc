//! Where a database lives, as the `db` setting names it: an SQLite file (`bot_data.db`,
//! `sqlite:PATH`) or a PostgreSQL server (`postgres://user:pass@host:port/db`).
//!
//! One owner for the password rule: a [`DbLocation`] displays (and debugs) with the
//! password replaced by `***`, so logs, errors and summaries can name the database freely.

use std::fmt;
use std::path::{Path, PathBuf};

/// A database named by the `db` setting.
#[derive(Clone, PartialEq, Eq)]
pub enum DbLocation {
    /// An SQLite file (the embedded default).
    Sqlite(PathBuf),
    /// A PostgreSQL server; the URL keeps its password for connecting only.
    Postgres(PostgresUrl),
}

/// A `postgres://` (or `postgresql://`) URL. It is never displayed whole.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as given, password included: only for the driver.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl DbLocation {
    /// Reads the `db` setting: `postgres://...` or `postgresql://...` is a server,
    /// `sqlite:PATH` (or `sqlite://PATH`) and anything else a file path.
    pub fn parse(text: &str) -> DbLocation {
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            return DbLocation::Postgres(PostgresUrl(text.to_owned()));
        }
        let path = text.strip_prefix("sqlite://").or_else(|| text.strip_prefix("sqlite:")).unwrap_or(text);
        DbLocation::Sqlite(PathBuf::from(path))
    }

    /// The SQLite file, if this is one.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            DbLocation::Sqlite(path) => Some(path),
            DbLocation::Postgres(_) => None,
        }
    }
}

impl fmt::Display for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbLocation::Sqlite(path) => write!(f, "{}", path.display()),
            DbLocation::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for DbLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DbLocation({self})")
    }
}

impl fmt::Display for PostgresUrl {
    /// The URL with the password of its user part and of any `password=` parameter
    /// replaced by `***`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// `scheme://user:secret@host/db?password=secret` becomes
/// `scheme://user:***@host/db?password=***`. Not `transport::redact_url`: NATS reads a
/// lone `name@` as a token to hide, PostgreSQL as the user name, and PostgreSQL also
/// takes the password as a query parameter.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return "***".to_owned() };
    let (scheme, rest) = url.split_at(scheme_end);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _secret)) => format!("{user}:***{host}"),
                None => format!("{userinfo}{host}"),
            }
        }
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let params: Vec<String> = query
                .split('&')
                .map(|param| match param.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                    _ => param.to_owned(),
                })
                .collect();
            format!("{path}?{}", params.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}{authority}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_servers_and_everything_else_a_file() {
        assert_eq!(DbLocation::parse("bot_data.db"), DbLocation::Sqlite("bot_data.db".into()));
        assert_eq!(DbLocation::parse("sqlite:/srv/rosey.db"), DbLocation::Sqlite("/srv/rosey.db".into()));
        assert_eq!(DbLocation::parse("sqlite:///srv/rosey.db"), DbLocation::Sqlite("/srv/rosey.db".into()));
        assert!(matches!(DbLocation::parse("postgres://u@h/db"), DbLocation::Postgres(_)));
        assert!(matches!(DbLocation::parse("PostgreSQL://u@h/db"), DbLocation::Postgres(_)));
    }

    #[test]
    fn passwords_never_display() {
        let location = DbLocation::parse("postgres://rosey:hunter2@db.example:5433/rosey?password=hunter2&x=1");
        for shown in [location.to_string(), format!("{location:?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("rosey:***@db.example:5433/rosey"), "{shown}");
            assert!(shown.contains("password=***&x=1"), "{shown}");
        }
        let DbLocation::Postgres(url) = location else { unreachable!() };
        assert!(url.secret().contains("hunter2"));
        assert_eq!(DbLocation::parse("postgres://u@h/db").to_string(), "postgres://u@h/db");
        assert_eq!(DbLocation::parse("postgres://a:b:c@h").to_string(), "postgres://a:***@h");
    }
}
