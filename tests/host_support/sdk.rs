//! The official Amplitude Python SDK (`amplitude-analytics`) and the real binary it talks to:
//! shared by the tests that drive the host end to end from an SDK.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::process::{Child, Command, ExitStatus};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;

use super::{collect, signal, wait_exit, wait_until, Workspace};

/// True when `import amplitude` works, installing the SDK with pip first if needed.
pub fn sdk_available() -> bool {
    let import = || {
        Command::new("python3")
            .args(["-c", "import amplitude"])
            .status()
            .is_ok_and(|s| s.success())
    };
    if import() {
        return true;
    }
    let installed = Command::new("python3")
        .args(["-m", "pip", "install", "--quiet", "amplitude-analytics"])
        .status()
        .is_ok_and(|s| s.success());
    installed && import()
}

/// Runs `tests/python/user_state_client.py` on `plan` (steps of actions, see the script)
/// against `server_url` and returns the status codes the SDK reported per insert id.
pub async fn run_plan(
    server_url: String,
    api_key: &str,
    plan: &Value,
) -> BTreeMap<String, Vec<u16>> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/python/user_state_client.py"
    );
    let args = [server_url, api_key.to_string(), plan.to_string()];
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3").arg(script).args(args).output()
    })
    .await
    .expect("SDK task")
    .expect("run the SDK client");
    let sdk_stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "SDK client failed: {sdk_stderr}");
    serde_json::from_slice(&output.stdout).expect("SDK client prints its callback codes")
}

/// A running `webhook-sink run` and the threads collecting its output.
pub struct Host {
    child: Child,
    log: JoinHandle<String>,
    _stdout: JoinHandle<String>,
}

impl Host {
    /// Starts the binary on `workspace`'s config; returns once a source listens on
    /// `source_port` (panics with the log if it never does).
    pub async fn start(workspace: &Workspace, source_port: u16) -> Host {
        let mut child = workspace.spawn_run();
        let stdout = collect(child.stdout.take().expect("stdout piped"));
        let log = collect(child.stderr.take().expect("stderr piped"));
        let listening = tokio::task::spawn_blocking(move || {
            wait_until(Duration::from_secs(20), || {
                TcpStream::connect(("127.0.0.1", source_port)).is_ok()
            })
        })
        .await
        .expect("wait task");
        let mut host = Host {
            child,
            log,
            _stdout: stdout,
        };
        if !listening {
            let _ = host.child.kill();
            let _ = host.child.wait();
            panic!(
                "the source never listened on port {source_port}; log:\n{}",
                host.log.join().unwrap_or_default()
            );
        }
        host
    }

    /// Sends `signal_name` (`TERM`, `KILL`) and returns the exit status and the log.
    pub async fn stop(mut self, signal_name: &'static str) -> (Option<ExitStatus>, String) {
        signal(&self.child, signal_name);
        tokio::task::spawn_blocking(move || {
            let status = wait_exit(&mut self.child, Duration::from_secs(15));
            (status, self.log.join().unwrap_or_default())
        })
        .await
        .expect("wait task")
    }
}
