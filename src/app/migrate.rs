//! `rosey migrate --from <db> --to <db>`: copies a whole database between SQLite files
//! (v0.5.0's or ours) and PostgreSQL, ids kept, idempotently (see `store::copy`), with a
//! progress bar on a terminal and a summary of rows per table.

use std::sync::Arc;

use crate::clock::{unix_seconds, Clock, SystemClock};
use crate::store::{snapshot_of, DbLocation, Progress, Store, TableCopy};

/// `rosey migrate`'s arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct MigrateArgs {
    /// The database to copy: an SQLite file (`PATH` or `sqlite:PATH`) or `postgres://...`.
    #[arg(long)]
    pub from: String,
    /// The database to copy into (created, or brought to the current schema, first).
    #[arg(long)]
    pub to: String,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

/// What a migration did.
#[derive(Debug, Clone)]
pub struct MigrateReport {
    /// The source, as shown (no password).
    pub from: String,
    /// The destination, as shown (no password).
    pub to: String,
    /// Per table, in schema order.
    pub tables: Vec<TableCopy>,
}

impl MigrateReport {
    /// The summary `rosey migrate` prints.
    pub fn render(&self) -> String {
        let mut out = format!("copied {} -> {}\n", self.from, self.to);
        out.push_str(&format!("{:<20} {:>10} {:>10} {:>10}\n", "table", "rows", "written", "unchanged"));
        for table in &self.tables {
            out.push_str(&format!(
                "{:<20} {:>10} {:>10} {:>10}\n",
                table.name,
                table.read,
                table.written,
                table.read.saturating_sub(table.written)
            ));
        }
        let read: u64 = self.tables.iter().map(|t| t.read).sum();
        let written: u64 = self.tables.iter().map(|t| t.written).sum();
        out.push_str(&format!("{:<20} {read:>10} {written:>10} {:>10}\n", "total", read - written.min(read)));
        out
    }
}

/// Copies `--from` into `--to`.
///
/// # Errors
/// When either database cannot be opened, both name the same one, or a value does not
/// fit the destination (nothing is written then: the copy is one transaction).
pub fn migrate(args: &MigrateArgs) -> crate::Result<MigrateReport> {
    let (from, to) = (DbLocation::parse(&args.from), DbLocation::parse(&args.to));
    if same_database(&from, &to) {
        return Err(format!("--from and --to both name {from}: give two different databases").into());
    }
    let now = unix_seconds(SystemClock.now_ms());
    let snapshot = snapshot_of(&from, now).map_err(|err| format!("cannot read {from}: {err}"))?;
    let mut destination = Store::connect(&to, now).map_err(|err| format!("cannot open {to}: {err}"))?;
    let bar = if args.quiet { indicatif::ProgressBar::hidden() } else { indicatif::ProgressBar::new(snapshot.rows()) };
    let style = indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} rows {per_sec}")
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar());
    bar.set_style(style);
    let shown = bar.clone();
    let progress: Progress = Arc::new(move |done| shown.set_position(done));
    let tables = destination.absorb(&snapshot, progress).map_err(|err| format!("cannot copy into {to}: {err}"))?;
    bar.finish_and_clear();
    let report = MigrateReport { from: from.to_string(), to: to.to_string(), tables };
    let written: u64 = report.tables.iter().map(|t| t.written).sum();
    tracing::info!(from = %report.from, to = %report.to, rows = snapshot.rows(), written, "database copied");
    Ok(report)
}

/// Whether two locations are one database (the same file, or the same server URL).
fn same_database(a: &DbLocation, b: &DbLocation) -> bool {
    match (a, b) {
        (DbLocation::Sqlite(a), DbLocation::Sqlite(b)) => {
            a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(a), Ok(b)) if a == b)
        }
        (DbLocation::Postgres(a), DbLocation::Postgres(b)) => a.secret() == b.secret(),
        _ => false,
    }
}
