//! Test helpers for the stand-in modules: a throwaway data directory, started services, and a
//! Lambda Invoke API stub standing in for our gateway (it records the trigger events and
//! returns them unchanged, or answers with a function error).
//!
//! Set `COSMOS_WRITE_AUTH_HOOK_SAMPLES=<dir>` (e.g. `events/auth-hooks`) when running
//! `cognito::tests::user_signs_up_confirms_with_fixed_code_and_gets_rs256_tokens` to write the
//! captured trigger events there as the sample files.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::routing::post;
use serde_json::{Value, json};

use super::{ServiceOptions, Services, default_tools_dir};

/// A directory under the system temp dir, removed on drop unless the test failed.
pub(crate) struct TestDir(PathBuf);

impl TestDir {
    pub(crate) fn new(name: &str) -> Self {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join("cosmos-local-tests").join(format!(
            "{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).unwrap();
        Self(path)
    }

    pub(crate) fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test data (logs) kept in {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub(crate) fn tools_dir() -> PathBuf {
    default_tools_dir()
}

/// Starts the stand-ins for a test, triggers pointed at `lambda_invoke_url`.
pub(crate) async fn start_services(dir: &TestDir, lambda_invoke_url: &str) -> Services {
    let opts = ServiceOptions::new(dir.path(), lambda_invoke_url);
    Services::start(opts)
        .await
        .expect("stand-ins start (run `bash scripts/tools.sh` first)")
}

/// One recorded `Invoke` call.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    pub(crate) function: String,
    pub(crate) event: Value,
}

#[derive(Clone)]
struct StubState {
    calls: Arc<Mutex<Vec<Invocation>>>,
    fail_with: Option<String>,
}

/// A Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`) on 127.0.0.1.
pub(crate) struct LambdaStub {
    pub(crate) url: String,
    calls: Arc<Mutex<Vec<Invocation>>>,
    server: tokio::task::JoinHandle<()>,
}

impl LambdaStub {
    /// Answers every invocation with the event unchanged (an accepting trigger).
    pub(crate) async fn start() -> Self {
        Self::start_with(None).await
    }

    /// Answers every invocation with a function error whose message is `message`.
    pub(crate) async fn start_failing(message: &str) -> Self {
        Self::start_with(Some(message.to_owned())).await
    }

    async fn start_with(fail_with: Option<String>) -> Self {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let state = StubState {
            calls: Arc::clone(&calls),
            fail_with,
        };
        let app = Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { url, calls, server }
    }

    pub(crate) fn invocations(&self) -> Vec<Invocation> {
        self.calls.lock().unwrap().clone()
    }

    /// Writes the first event of each sampled trigger source into
    /// `$COSMOS_WRITE_AUTH_HOOK_SAMPLES` when that is set.
    pub(crate) fn write_samples_if_asked(&self) {
        let Some(dir) = std::env::var_os("COSMOS_WRITE_AUTH_HOOK_SAMPLES") else {
            return;
        };
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        let samples = [
            ("PreSignUp_SignUp", "pre-sign-up.json"),
            (
                "PostConfirmation_ConfirmSignUp",
                "post-confirmation-confirm-sign-up.json",
            ),
            ("TokenGeneration_Authentication", "pre-token-generation.json"),
        ];
        let calls = self.invocations();
        for (source, file) in samples {
            let call = calls
                .iter()
                .find(|c| c.event["triggerSource"] == source)
                .unwrap_or_else(|| panic!("no {source} invocation recorded"));
            let mut text = serde_json::to_string_pretty(&call.event).unwrap();
            text.push('\n');
            std::fs::write(dir.join(file), text).unwrap();
        }
    }
}

impl Drop for LambdaStub {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn invoke(State(state): State<StubState>, UrlPath(function): UrlPath<String>, body: Bytes) -> (HeaderMap, Bytes) {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    state.calls.lock().unwrap().push(Invocation {
        function,
        event: event.clone(),
    });
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    match state.fail_with {
        None => (headers, body),
        Some(message) => {
            headers.insert("x-amz-function-error", HeaderValue::from_static("Unhandled"));
            let error = json!({ "errorType": "HookError", "errorMessage": message });
            (headers, Bytes::from(error.to_string()))
        }
    }
}
