//! The simulator reads each db-service host's own metrics (no process-global
//! registry), and in a fault-free replay they agree with the bot: the
//! service applied, subject by subject, exactly what the bot sent.

use std::path::Path;

use rosey::bot::Protocol;
use rosey::delivery::Delivery;
use rosey::fixture::Fixture;
use rosey::trace::Trace;
use rosey_sim::chathost::ChatMode;
use rosey_sim::world::{BusRun, Stepping};

/// The value of the sample line that starts with `series`.
fn sample(text: &str, series: &str) -> Option<u64> {
    text.lines().find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

fn evening_over_the_bus(delivery: Delivery) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/chat/evening.jsonl");
    let fixture = Fixture::load(&path).expect("the evening fixture");
    let run = BusRun {
        fixture: &fixture,
        faults: &[],
        protocol: Protocol::Hardened,
        delivery,
        ack_window: rosey::delivery::DEFAULT_ACK_WINDOW,
        db_services: 1,
        seed: 1,
        tick_ms: 10,
        trace: Trace::new(false),
        chat: ChatMode::Standin,
        stepping: Stepping::SkipQuiet,
    };
    let outcome = run.run();
    assert_eq!(outcome.host_error, None);
    let bot = outcome.bot.expect("the bot finished");
    let text = outcome.metrics.get("db").expect("the db host's metrics");
    let bot_text = outcome.metrics.get("bot").expect("the bot host's metrics");
    assert!(!bot.report.sent_by_subject.is_empty());
    for (subject, sent) in &bot.report.sent_by_subject {
        let applied = sample(text, &format!("rosey_db_commands_applied_total{{subject=\"{subject}\"}}"));
        assert_eq!(applied, Some(*sent), "{subject}: sent {sent}\n{text}");
        let counted = sample(bot_text, &format!("rosey_bot_commands_sent_total{{subject=\"{subject}\"}}"));
        assert_eq!(counted, Some(*sent), "{subject}: the bot's own counter\n{bot_text}");
    }
    let outbound = &bot.report.outbound;
    assert!(outbound.said > 0, "the evening says lines");
    assert_eq!(sample(bot_text, "rosey_bot_lines_said_total"), Some(outbound.said), "{bot_text}");
    assert_eq!(sample(bot_text, "rosey_bot_polls_failed_total"), Some(0), "{bot_text}");
    let polls =
        sample(bot_text, "rosey_bot_request_duration_seconds_count{subject=\"rosey.db.messages.outbound.get\"}");
    assert_eq!(polls, Some(outbound.poll_replies), "every poll's latency observed\n{bot_text}");
    let served = sample(text, "rosey_db_request_duration_seconds_count{subject=\"rosey.db.messages.outbound.get\"}");
    assert_eq!(served, Some(outbound.poll_replies), "the service timed every poll it answered\n{text}");
    assert_eq!(sample(text, "rosey_db_store_errors_total"), Some(0), "{text}");
    let service = &outcome.services[0];
    assert_eq!(sample(text, "rosey_db_replies_total"), Some(service.replies), "{text}");
}

#[test]
fn core_applied_counters_equal_what_the_bot_sent() {
    evening_over_the_bus(Delivery::Core);
}

#[test]
fn jetstream_applied_counters_equal_what_the_bot_sent() {
    evening_over_the_bus(Delivery::Jetstream);
}
