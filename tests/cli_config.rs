//! Configuration precedence as an operator meets it: a TOML file, then
//! `ROSEY_*` variables, then flags. The URLs point at closed ports, so the
//! connection error names the URL that won.

use std::process::Command;

fn say_error(config: &std::path::Path, env_url: Option<&str>, flag_url: Option<&str>) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_rosey"));
    command.env_remove("ROSEY_NATS_URL").env("ROSEY_LOG", "error").arg("--config").arg(config);
    if let Some(url) = env_url {
        command.env("ROSEY_NATS_URL", url);
    }
    if let Some(url) = flag_url {
        command.args(["--nats-url", url]);
    }
    let output = command.args(["say", "hi"]).output().expect("rosey runs");
    assert!(!output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn flags_override_environment_which_overrides_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rosey.toml");
    std::fs::write(&config, "nats_url = \"nats://127.0.0.1:9\"\nrequest_timeout_ms = 500\n").unwrap();
    assert!(say_error(&config, None, None).contains("nats://127.0.0.1:9"));
    assert!(say_error(&config, Some("nats://127.0.0.1:8"), None).contains("nats://127.0.0.1:8"));
    assert!(say_error(&config, Some("nats://127.0.0.1:8"), Some("nats://127.0.0.1:7")).contains("nats://127.0.0.1:7"));
}

#[test]
fn a_bad_config_file_is_a_one_line_error_naming_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("typo.toml");
    std::fs::write(&config, "nats_ulr = \"nats://x\"\n").unwrap();
    let stderr = say_error(&config, None, None);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("typo.toml") && stderr.contains("nats_ulr"), "{stderr}");
}
