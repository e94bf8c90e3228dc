//! The run viewer in a real browser (Debian's chromium, headless): a bug-zoo
//! run drawn as a page shows its lanes, its fault window, its arrows and the
//! failing invariant with its evidence highlighted; the viewer's zoom and
//! collapse controls redraw it.

use std::path::Path;

use rosey_sim::browser::Browser;
use rosey_sim::run::{Overrides, Prepared};
use rosey_sim::view::{render, Context};
use serde_json::Value;

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(30);

/// The run is simulated first (turmoil brings its own runtime), then the page is opened.
#[test]
fn a_zoo_run_is_drawn_with_its_lanes_fault_and_violation() {
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures/scenarios/zoo-lost-mark-sent.toml");
    let prepared = Prepared::load(&scenario, rosey_sim::scenario::Mode::Bus).unwrap();
    let run = prepared.run(Overrides::default()).unwrap();
    assert!(run.verdicts.iter().any(|v| v.name == "said_once" && !v.holds));
    let context = Context {
        title: "zoo-lost-mark-sent".into(),
        faults: &run.faults,
        effects: &run.effects,
        verdicts: &run.verdicts,
    };
    let html = render(&run.trace.records(), &context);
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("run.html");
    std::fs::write(&page_path, html).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(look_at(&page_path));
}

async fn look_at(page_path: &Path) {
    let mut browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e}"));
    browser.goto(&format!("file://{}", page_path.display())).await.unwrap();
    browser.wait_for("document.querySelectorAll('#sequence .rec').length > 0", PATIENCE).await.unwrap();
    let lanes = browser.eval("[...document.querySelectorAll('.lane')].map(l => l.dataset.host)").await.unwrap();
    assert_eq!(lanes, serde_json::json!(["bot", "bus", "db"]));
    assert_eq!(browser.eval("document.querySelectorAll('.fault').length").await.unwrap(), Value::from(1));
    let violation = browser.eval("document.querySelector('.violation').dataset.invariant").await.unwrap();
    assert_eq!(violation, Value::from("said_once"));
    let evidence = browser.eval("document.querySelectorAll('.rec.evidence').length").await.unwrap();
    assert!(evidence.as_u64().unwrap() >= 1, "the violation's evidence is highlighted");
    let dropped = browser.eval("document.querySelectorAll('.arrow.dropped').length").await.unwrap();
    assert!(dropped.as_u64().unwrap() >= 1, "the dropped mark_sent is drawn");
    let replies = browser.eval("document.querySelectorAll('.arrow.reply').length").await.unwrap();
    assert!(replies.as_u64().unwrap() >= 1, "polls come back");

    let height = "document.getElementById('sequence').getAttribute('height') * 1";
    let collapsed = browser.eval(height).await.unwrap().as_f64().unwrap();
    browser.eval("document.getElementById('zoom-in').click(); true").await.unwrap();
    let zoomed = browser.eval(height).await.unwrap().as_f64().unwrap();
    assert!(zoomed > collapsed, "zooming in makes it taller: {collapsed} -> {zoomed}");
    browser.close().await;
}

/// A minute of silence collapses into one band; unchecking the box draws it at scale.
#[test]
fn quiet_stretches_collapse_into_a_band() {
    use rosey::trace::{TraceEvent, TraceRecord};
    let event =
        |t| TraceRecord { t, host: "bot".into(), event: TraceEvent::Event { line: 2, event: "chatMsg".into() } };
    let html = render(&[event(0), event(60_000), event(60_500)], &Context::default());
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("quiet.html");
    std::fs::write(&page_path, html).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let mut browser = Browser::launch().await.unwrap_or_else(|e| panic!("{e}"));
        browser.goto(&format!("file://{}", page_path.display())).await.unwrap();
        browser.wait_for("document.querySelectorAll('#sequence .rec').length === 3", PATIENCE).await.unwrap();
        let height = "document.getElementById('sequence').getAttribute('height') * 1";
        assert_eq!(browser.eval("document.querySelectorAll('.quiet').length").await.unwrap(), Value::from(1));
        let collapsed = browser.eval(height).await.unwrap().as_f64().unwrap();
        browser.eval("document.getElementById('collapse').click(); true").await.unwrap();
        assert_eq!(browser.eval("document.querySelectorAll('.quiet').length").await.unwrap(), Value::from(0));
        let expanded = browser.eval(height).await.unwrap().as_f64().unwrap();
        assert!(expanded > collapsed + 1000.0, "a minute at 40 px/s: {collapsed} -> {expanded}");
        browser.close().await;
    });
}
