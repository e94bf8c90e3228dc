//! The database invariants: nothing lost outside a fault's loss window,
//! nothing counted more often than direct mode counts it.

use rosey::store::{DbDump, TableDump};
use rosey::trace::TraceEvent;

use super::rows::{self, multiset, show, ChatRow, CountRow, EventRow, OutboundRow, UserRow};
use super::{Failure, Observed};

/// The tables compared whole when no fault may lose anything.
const WHOLE_TABLES: [&str; 5] = ["user_stats", "channel_stats", "user_count_history", "recent_chat", "current_status"];

pub(super) fn no_loss(o: &Observed<'_>) -> Result<(), Failure> {
    let windows: Vec<(i64, i64)> = o
        .bus_loss_windows()
        .into_iter()
        .map(|(from, until)| (o.start_unix_ms + from, o.start_unix_ms + until))
        .collect();
    if windows.is_empty() {
        return same_as_reference(o);
    }
    let excused = |ts_s: i64| windows.iter().any(|&(from, until)| ts_s * 1000 + 999 >= from && ts_s * 1000 < until);
    let mut missing = Vec::new();
    let mut evidence = Vec::new();
    missing_rows::<ChatRow>(o, &excused, &mut missing, &mut evidence);
    missing_rows::<CountRow>(o, &excused, &mut missing, &mut evidence);
    missing_rows::<OutboundRow>(o, &excused, &mut missing, &mut evidence);
    missing_rows::<UserRow>(o, &excused, &mut missing, &mut evidence);
    if missing.is_empty() {
        return Ok(());
    }
    let detail = format!(
        "{} rows missing outside every fault's loss window, first: {}",
        missing.len(),
        missing[..missing.len().min(3)].join(", ")
    );
    Err(Failure::new(detail, evidence))
}

/// With no event-losing fault: the same rows as direct mode.
fn same_as_reference(o: &Observed<'_>) -> Result<(), Failure> {
    let mut differences = Vec::new();
    for name in WHOLE_TABLES {
        if o.dump.table(name) != o.reference.table(name) {
            differences.push(describe_difference(name, o.dump.table(name), o.reference.table(name)));
        }
    }
    let enqueued = |dump: &DbDump| -> Vec<(i64, i64, String)> {
        OutboundRow::read_all(dump).into_iter().map(|row| (row.id, row.timestamp, row.message)).collect()
    };
    if enqueued(o.dump) != enqueued(o.reference) {
        differences.push("outbound_messages: the enqueued messages differ".into());
    }
    if differences.is_empty() {
        return Ok(());
    }
    let detail =
        format!("with no event-losing fault the database differs from direct mode: {}", differences.join("; "));
    Err(Failure::new(detail, Vec::new()))
}

/// Appends the reference rows of `R`'s table that the run lacks and no window
/// excuses; the first one's sends become the evidence.
pub(super) fn missing_rows<R: EventRow>(
    o: &Observed<'_>,
    excused: &dyn Fn(i64) -> bool,
    missing: &mut Vec<String>,
    evidence: &mut Vec<rosey::trace::TraceRecord>,
) {
    let got = rows::read::<R>(o.dump);
    let mut available = multiset(got.iter().map(R::key));
    for row in rows::read::<R>(o.reference) {
        match available.get_mut(&row.key()) {
            Some(n) if *n > 0 => *n -= 1,
            _ if excused(row.time_s()) => {}
            _ => {
                if missing.is_empty() {
                    *evidence = o.evidence(4, |event| {
                        matches!(event, TraceEvent::Send { subject, payload }
                            if *subject == R::SUBJECT && row.carried_by(payload))
                    });
                }
                missing.push(format!("{} {}", R::TABLE, show(&row.key())));
            }
        }
    }
}

fn describe_difference(name: &str, got: Option<&TableDump>, want: Option<&TableDump>) -> String {
    let (got, want) = (got.map_or(0, |t| t.rows.len()), want.map_or(0, |t| t.rows.len()));
    format!("{name} ({got} rows, direct mode {want})")
}

pub(super) fn counted_once(o: &Observed<'_>) -> Result<(), Failure> {
    let mut excess = Vec::new();
    let mut first_subject = None;
    excess_rows::<ChatRow>(o, &mut excess, &mut first_subject);
    excess_rows::<CountRow>(o, &mut excess, &mut first_subject);
    excess_rows::<OutboundRow>(o, &mut excess, &mut first_subject);
    excess_rows::<UserRow>(o, &mut excess, &mut first_subject);
    let reference_users = rows::read::<UserRow>(o.reference);
    for user in rows::read::<UserRow>(o.dump) {
        let allowed = reference_users.iter().find(|r| r.username == user.username).map_or(0, |r| r.total_chat_lines);
        if user.total_chat_lines > allowed {
            first_subject.get_or_insert(rosey::contract::Subject::MessageLog);
            excess.push(format!(
                "user_stats {} total_chat_lines {} (direct mode {allowed})",
                show(&user.username),
                user.total_chat_lines
            ));
        }
    }
    let Some(subject) = first_subject else { return Ok(()) };
    let detail = format!(
        "{} rows or counts above direct mode, first: {}",
        excess.len(),
        excess[..excess.len().min(3)].join(", ")
    );
    let evidence = o.evidence(4, |event| matches!(event, TraceEvent::Apply { subject: s, .. } if *s == subject));
    Err(Failure::new(detail, evidence))
}

/// Appends the keys of `R`'s table the run has more often than direct mode.
pub(super) fn excess_rows<R: EventRow>(
    o: &Observed<'_>,
    excess: &mut Vec<String>,
    first_subject: &mut Option<rosey::contract::Subject>,
) {
    let reference_rows = rows::read::<R>(o.reference);
    let reference = multiset(reference_rows.iter().map(R::count_key));
    let got_rows = rows::read::<R>(o.dump);
    for (key, count) in multiset(got_rows.iter().map(R::count_key)) {
        let allowed = reference.get(&key).copied().unwrap_or(0);
        if count > allowed {
            first_subject.get_or_insert(R::SUBJECT);
            excess.push(format!("{} {} x{count} (direct mode x{allowed})", R::TABLE, show(&key)));
        }
    }
}
