//! `rosey`: the bot and its db-service in production mode, over a live nats-server.
//!
//! ```text
//! nats-server -p 4222 &
//! rosey db-service --db bot_data.db &
//! rosey bot --chat replay:fixtures/chat/evening.jsonl,speed=max
//! rosey say "hello"
//! rosey watch
//! rosey token create --description dashboard
//! rosey web --listen 127.0.0.1:8080
//! rosey migrate --from bot_data.db --to postgres://rosey@db-host/rosey
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rosey::app::{self, BotMode, ChatSpec};
use rosey::config::Settings;

/// The Rosey bot's database path over NATS.
#[derive(Parser)]
#[command(name = "rosey", version, about)]
struct Cli {
    /// TOML configuration file; ROSEY_* environment variables and flags override it.
    #[arg(long, env = "ROSEY_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Log filter (error, warn, info, debug, or a tracing filter such as rosey=debug).
    #[arg(long, env = "ROSEY_LOG", default_value = "info,async_nats=warn", global = true)]
    log: String,
    #[command(flatten)]
    settings: Settings,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the database over NATS until SIGINT/SIGTERM (then drain and commit; a second signal exits at once).
    DbService,
    /// Run the bot against a chat source.
    Bot {
        /// The chat source: replay:<fixture.jsonl>[,speed=<x>|max] or cytube:<http(s)://host[:port]>/<channel>.
        #[arg(long)]
        chat: ChatSpec,
        /// Where database commands go.
        #[arg(long, value_enum, default_value_t = BotMode::Nats)]
        mode: BotMode,
    },
    /// Enqueue an outbound message for the bot to say; prints its id.
    Say {
        /// The message (trimmed; must not be empty).
        text: String,
    },
    /// Print decoded bus traffic live.
    Watch {
        /// The subject to watch (wildcards allowed).
        #[arg(default_value = "rosey.>")]
        subject: String,
        /// Stop after this many messages.
        #[arg(long)]
        count: Option<u64>,
    },
    /// Record a live CyTube channel as a fixture (anonymously, or with an account of its own).
    Record(app::RecordArgs),
    /// Drive an event mix at a rate against a running db-service; print throughput and latency.
    Loadtest(app::LoadtestArgs),
    /// Serve the status page and its JSON API (read-only over the database; say goes over the bus).
    Web {
        /// Where to serve it.
        #[arg(long, env = "ROSEY_WEB_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
    },
    /// Copy a whole database between SQLite and PostgreSQL (ids kept; a second run changes nothing).
    Migrate(app::MigrateArgs),
    /// Manage the API tokens `POST /api/say` accepts.
    Token {
        #[command(subcommand)]
        command: app::TokenCommand,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return rosey::app::clap_exit(err),
    };
    init_logging(&cli.log);
    // The db-service applies on this thread; a worker thread runs the NATS
    // connection's reader beside it, so the socket is drained (and a poll
    // reaches the outbound lane) while a batch is being applied. Everything
    // else is one thread.
    let mut builder = match cli.command {
        Command::DbService => {
            let mut builder = tokio::runtime::Builder::new_multi_thread();
            builder.worker_threads(1);
            builder
        }
        _ => tokio::runtime::Builder::new_current_thread(),
    };
    let runtime = match builder.enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> rosey::Result<()> {
    let file = match &cli.config {
        Some(path) => Settings::from_file(path)?,
        None => Settings::default(),
    };
    let settings = cli.settings.over(file);
    let shutdown = shutdown_signal();
    match cli.command {
        Command::DbService => {
            let report = app::run_db_service(&settings, shutdown).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Bot { chat, mode } => {
            let started = std::time::Instant::now();
            let (report, said) = app::run_bot(&settings, &chat, mode, shutdown).await?;
            print!("{}", rosey::bot::summary::render(&report, &said, started.elapsed(), "-"));
            if let Some(error) = report.ended_by {
                return Err(error.into());
            }
        }
        Command::Record(args) => {
            let report = app::record(&settings, &args, shutdown).await?;
            println!("{}", serde_json::to_string_pretty(&report)?);
        }
        Command::Say { text } => println!("{}", app::say(&settings, &text).await?),
        Command::Watch { subject, count } => {
            app::watch(&settings, &subject, count, &mut std::io::stdout(), shutdown).await?;
        }
        Command::Loadtest(args) => print!("{}", app::loadtest(&settings, &args, shutdown).await?),
        Command::Web { listen } => app::run_web(&settings, &listen, shutdown).await?,
        Command::Token { command } => print!("{}", app::token(&settings, &command)?),
        Command::Migrate(args) => print!("{}", app::migrate(&args)?.render()),
    }
    Ok(())
}

/// Registers the SIGINT and SIGTERM handlers now (so a signal that arrives
/// before the returned future is first polled is not lost to the default
/// disposition) and returns a future that resolves on either.
///
/// The first signal starts a graceful shutdown, which waits for the server
/// at most the drain timeout. A second one means "now": a task spawned at the
/// first exits the process at once with 128 + the signal's number (130 for
/// SIGINT, 143 for SIGTERM), as a shell reports a process killed by it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).ok();
        let mut interrupt = signal(SignalKind::interrupt()).ok();
        async move {
            next_signal(&mut term, &mut interrupt).await;
            tracing::info!("shutdown signal received; draining (a second signal exits at once)");
            tokio::spawn(async move {
                let number = next_signal(&mut term, &mut interrupt).await;
                tracing::warn!("second shutdown signal: exiting at once, without draining");
                std::process::exit(128 + number);
            });
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Waits for SIGTERM or SIGINT (a handler that could not be installed never
/// fires) and returns the signal's number.
#[cfg(unix)]
async fn next_signal(
    term: &mut Option<tokio::signal::unix::Signal>,
    interrupt: &mut Option<tokio::signal::unix::Signal>,
) -> i32 {
    async fn recv(signal: &mut Option<tokio::signal::unix::Signal>) {
        match signal.as_mut() {
            Some(signal) => drop(signal.recv().await),
            None => std::future::pending().await,
        }
    }
    tokio::select! {
        () = recv(term) => 15,
        () = recv(interrupt) => 2,
    }
}

fn init_logging(filter: &str) {
    let filter =
        tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
}
