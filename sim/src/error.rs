//! The simulator's error type: what went wrong and, in its message, what to do.
//!
//! Written by hand in the shape of the store's error: a few variants a caller
//! can tell apart, the underlying error kept whole as the
//! [`std::error::Error::source`], and a `Display` that names the file and the
//! fix. The binary prints the chain.

use std::fmt;
use std::path::{Path, PathBuf};

use rosey::fixture::FixtureError;
use rosey::store::StoreError;

/// Why a simulator command could not do its job.
#[derive(Debug)]
pub enum SimError {
    /// A scenario file that cannot be read or says something impossible.
    Scenario { path: PathBuf, problem: String },
    /// A fixture that cannot be read or parsed.
    Fixture(FixtureError),
    /// The store failed while a run opened, dumped or saved its database.
    Store(StoreError),
    /// An output file (trace, dump, database) could not be written.
    Write { what: &'static str, path: PathBuf, source: std::io::Error },
    /// Something the run needs from the machine (a temporary folder) is missing.
    Io { what: &'static str, source: std::io::Error },
    /// Arguments that do not fit together.
    Usage(String),
}

/// `Result` with a [`SimError`].
pub type Result<T, E = SimError> = std::result::Result<T, E>;

impl SimError {
    pub fn scenario(path: &Path, problem: impl Into<String>) -> SimError {
        SimError::Scenario { path: path.to_path_buf(), problem: problem.into() }
    }

    pub fn write(what: &'static str, path: &Path, source: std::io::Error) -> SimError {
        SimError::Write { what, path: path.to_path_buf(), source }
    }
}

impl fmt::Display for SimError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SimError::Scenario { path, problem } => write!(f, "{}: {problem}", path.display()),
            SimError::Fixture(error) => error.fmt(f),
            SimError::Store(error) => error.fmt(f),
            SimError::Write { what, path, source } => {
                write!(
                    f,
                    "cannot write the {what} to {}: {source} (check the folder exists and is writable)",
                    path.display()
                )
            }
            SimError::Io { what, source } => write!(f, "cannot create {what}: {source}"),
            SimError::Usage(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for SimError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SimError::Fixture(error) => Some(error),
            SimError::Store(error) => Some(error),
            SimError::Write { source, .. } | SimError::Io { source, .. } => Some(source),
            SimError::Scenario { .. } | SimError::Usage(_) => None,
        }
    }
}

impl From<FixtureError> for SimError {
    fn from(error: FixtureError) -> SimError {
        SimError::Fixture(error)
    }
}

impl From<StoreError> for SimError {
    fn from(error: StoreError) -> SimError {
        SimError::Store(error)
    }
}
