//! Headless Chromium (Debian's `chromium`) for the tests of the host's web pages: load a page,
//! let its scripts run, and read the resulting DOM, the console and a screenshot.
//!
//! The browser is kept to loopback: every host name resolves to nothing but 127.0.0.1, and its
//! background services (updates, sync, metrics) are off.

use std::path::Path;
use std::process::Command;

/// What the browser saw of a page.
pub struct Loaded {
    /// The DOM after the scripts ran, serialized.
    pub dom: String,
    /// The browser's log: console messages appear as `CONSOLE(...)` lines.
    pub log: String,
}

/// The browser binary: `chromium`, which CI installs; a missing one fails the test.
fn chromium() -> &'static str {
    let found = Command::new("chromium")
        .arg("--version")
        .output()
        .map(|out| out.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "these tests need Debian's `chromium` (apt-get install chromium); .ci/run installs it"
    );
    "chromium"
}

fn headless(profile: &Path) -> Command {
    let mut command = Command::new(chromium());
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-default-apps",
            "--disable-features=Translate,MediaRouter,OptimizationHints",
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            "--enable-logging=stderr",
            "--v=0",
            "--window-size=1400,1300",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// Loads `url`, runs its scripts for `virtual_ms` of virtual time, and returns the DOM.
pub fn load(url: &str, virtual_ms: u32) -> Loaded {
    let profile = tempfile::tempdir().expect("browser profile directory");
    let out = headless(profile.path())
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
        log: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Saves a PNG of `url` after `virtual_ms` of virtual time to `path`.
pub fn screenshot(url: &str, virtual_ms: u32, path: &Path) {
    let profile = tempfile::tempdir().expect("browser profile directory");
    let out = headless(profile.path())
        .arg(format!("--virtual-time-budget={virtual_ms}"))
        .arg("--hide-scrollbars")
        .arg(format!("--screenshot={}", path.display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Console lines of `log` that report an error (an uncaught exception, a failed load, or
/// `console.error`).
pub fn console_errors(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|line| line.contains("CONSOLE"))
        .filter(|line| {
            let lower = line.to_lowercase();
            lower.contains("error") || lower.contains("uncaught") || lower.contains("failed")
        })
        .collect()
}

/// The `data-value` of the element whose `data-figure` is `key`, if the DOM has one.
pub fn figure(dom: &str, key: &str) -> Option<String> {
    let marker = format!("data-figure=\"{key}\"");
    let start = dom.find(&marker)?;
    let tag_end = dom[start..].find('>')? + start;
    let tag_start = dom[..start].rfind('<')?;
    attribute(&dom[tag_start..tag_end], "data-value")
}

/// The value of attribute `name` in the opening tag `tag`.
pub fn attribute(tag: &str, name: &str) -> Option<String> {
    let marker = format!(" {name}=\"");
    let start = tag.find(&marker)? + marker.len();
    let end = tag[start..].find('"')? + start;
    Some(
        tag[start..end]
            .replace("&amp;", "&")
            .replace("&quot;", "\""),
    )
}
