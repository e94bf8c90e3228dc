//! JUnit XML, the report format CI systems read (GitLab, Jenkins, GitHub's
//! test reporters): one `<testcase>` per scenario or seed, a `<failure>` with
//! the failing invariant and the command that replays it.

use std::path::Path;

use rosey::markup::escape;

use crate::error::{Result, SimError};

/// One test case.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// `classname`: the scenario file.
    pub suite: String,
    /// `name`: the scenario or `seed N`.
    pub name: String,
    /// Wall seconds it took.
    pub seconds: f64,
    /// Why it failed, when it did: a one-line message and the full text.
    pub failure: Option<(String, String)>,
}

/// The report for `cases` as one `<testsuite>` named `suite`.
pub fn render(suite: &str, cases: &[Case]) -> String {
    let failures = cases.iter().filter(|c| c.failure.is_some()).count();
    let seconds: f64 = cases.iter().map(|c| c.seconds).sum();
    let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    xml.push_str(&format!(
        "<testsuites tests=\"{}\" failures=\"{failures}\" time=\"{seconds:.3}\">\n<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{seconds:.3}\">\n",
        cases.len(),
        escape(suite),
        cases.len()
    ));
    for case in cases {
        xml.push_str(&format!(
            "  <testcase classname=\"{}\" name=\"{}\" time=\"{:.3}\"",
            escape(&case.suite),
            escape(&case.name),
            case.seconds
        ));
        match &case.failure {
            None => xml.push_str("/>\n"),
            Some((message, text)) => xml.push_str(&format!(
                ">\n    <failure message=\"{}\" type=\"invariant\">{}</failure>\n  </testcase>\n",
                escape(message),
                escape(text)
            )),
        }
    }
    xml.push_str("</testsuite>\n</testsuites>\n");
    xml
}

/// Writes the report to `path`.
///
/// # Errors
/// [`SimError::Write`] naming the file.
pub fn write(path: &Path, suite: &str, cases: &[Case]) -> Result<()> {
    std::fs::write(path, render(suite, cases)).map_err(|e| SimError::write("JUnit report", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_carry_message_and_text_escaped() {
        let cases = [
            Case { suite: "zoo.toml".into(), name: "seed 1".into(), seconds: 0.5, failure: None },
            Case {
                suite: "zoo.toml".into(),
                name: "seed 2".into(),
                seconds: 0.25,
                failure: Some(("said_once: <twice>".into(), "replay: run zoo.toml --seed 2 & look".into())),
            },
        ];
        let xml = render("sweep", &cases);
        assert!(xml.contains(r#"<testsuite name="sweep" tests="2" failures="1""#), "{xml}");
        assert!(xml.contains(r#"<testcase classname="zoo.toml" name="seed 1" time="0.500"/>"#), "{xml}");
        assert!(xml.contains(r#"message="said_once: &lt;twice&gt;""#), "{xml}");
        assert!(xml.contains("--seed 2 &amp; look</failure>"), "{xml}");
    }
}
