//! The PostgreSQL connection on its own thread.
//!
//! The `postgres` crate is blocking and drives its connection with a tokio runtime of its
//! own, which panics when entered from a tokio runtime thread (the db-service's). So the
//! client lives on a plain thread and the store hands it jobs over a channel, waiting for
//! each answer: the same blocking call the SQLite store makes, with the blocking done
//! where it is allowed. PostgreSQL never runs in the simulator, so the thread does not
//! touch its determinism.

use std::collections::HashMap;
use std::sync::mpsc;
use std::thread::JoinHandle;

use postgres::{Client, NoTls, Statement};

use crate::store::error::{StoreError, StoreErrorKind};

/// The client and its prepared statements, as a job sees them.
pub(super) struct Conn {
    pub(super) client: Client,
    /// Prepared once per connection, by SQL text.
    statements: HashMap<String, Statement>,
}

impl Conn {
    /// The prepared statement for `sql`, preparing it on first use.
    pub(super) fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(sql)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

type Job = Box<dyn FnOnce(&mut Conn) + Send>;

/// A running connection thread.
pub(super) struct Worker {
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Connects to `url` on a new thread; fails when the server cannot be reached or
    /// refuses the login.
    pub(super) fn connect(url: &str) -> Result<Worker, StoreError> {
        let config: postgres::Config = url.parse().map_err(StoreError::postgres)?;
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, connected) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("rosey-postgres".to_owned())
            .spawn(move || {
                let client = match config.connect(NoTls) {
                    Ok(client) => client,
                    Err(err) => {
                        let _ = ready.send(Err(StoreError::postgres(err)));
                        return;
                    }
                };
                let _ = ready.send(Ok(()));
                let mut conn = Conn { client, statements: HashMap::new() };
                for job in queue {
                    job(&mut conn);
                }
            })
            .map_err(|err| {
                tracing::error!(error = %err, "cannot start the PostgreSQL thread");
                StoreError::new(StoreErrorKind::PostgresUnavailable)
            })?;
        let worker = Worker { jobs: Some(jobs), thread: Some(thread) };
        match connected.recv() {
            Ok(Ok(())) => Ok(worker),
            Ok(Err(err)) => Err(err),
            Err(_) => Err(StoreError::new(StoreErrorKind::PostgresUnavailable)),
        }
    }

    /// Runs `job` on the connection and waits for its answer.
    pub(super) fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce(&mut Conn) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (answer, answered) = mpsc::channel();
        let job: Job = Box::new(move |conn| {
            let _ = answer.send(job(conn));
        });
        let sent = self.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            return Err(StoreError::new(StoreErrorKind::PostgresUnavailable));
        }
        answered.recv().unwrap_or_else(|_| Err(StoreError::new(StoreErrorKind::PostgresUnavailable)))
    }
}

impl Drop for Worker {
    /// Closes the queue, which ends the thread and with it the connection (a session-level
    /// lock the connection held is released by the server).
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
