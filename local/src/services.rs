//! The AWS stand-ins of the local stack, run as child processes on 127.0.0.1:
//!
//! - `moto_server` (the Python package `moto[server]`, from `<tools>/venv/bin/moto_server`):
//!   DynamoDB with Streams, S3 and Secrets Manager, in memory.
//! - cognito-local (npm, `node <tools>/node/node_modules/cognito-local/lib/bin/start.js`): the user
//!   pool, firing its triggers into our gateway's Lambda Invoke API.
//!
//! `<tools>` is `$COSMOS_TOOLS_DIR`, else `<repo>/.cosmos`, filled by `make tools`
//! (`scripts/tools.sh`).
//!
//! Per stack, under [`ServiceOptions::data_dir`]:
//! - `logs/moto.log`, `logs/cognito-local.log`: the children's stdout and stderr (truncated at
//!   start; their tail is quoted when a child dies or does not become ready);
//! - `cognito/`: cognito-local's working directory; we write `cognito/.cognito/config.json`
//!   before starting it and wipe `cognito/.cognito/db` so its users never outlive moto's
//!   in-memory table (a user whose profile item vanished would be a broken account).
//!
//! cognito-local's config: `LambdaClient.endpoint` = [`ServiceOptions::lambda_invoke_url`] (it
//! calls `POST <url>/2015-03-31/functions/<name>/invocations`), with Cognito's trigger limits
//! (5 s per call, 3 attempts); `TriggerFunctions` from `shared/contract/routes.json`
//! (`cognitoTriggers`); `TokenConfig.IssuerDomain` = `http://127.0.0.1:<port>`, so tokens carry
//! `iss` = [`Services::cognito_issuer`]. The confirmation code for every sign-up is
//! [`CONFIRMATION_CODE`].
//!
//! Dropping [`Services`] kills both children (`kill_on_drop`); [`Services::shutdown`] does the
//! same and waits for them to exit. A parent killed with SIGKILL leaves them running: they
//! only listen on loopback, and the next start picks other ports.

use std::fmt::Write as _;
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::process::{Child, Command};

#[cfg(test)]
#[path = "services_test_support.rs"]
pub(crate) mod test_support;

/// The confirmation code cognito-local accepts for every sign-up (its `CODE`): local use only.
pub const CONFIRMATION_CODE: &str = "123456";

/// Environment variable naming the tools directory (default `<repo>/.cosmos`).
pub const TOOLS_DIR_ENV: &str = "COSMOS_TOOLS_DIR";

/// How long a child may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const LOG_TAIL_LINES: usize = 30;

const ROUTES_JSON: &str = include_str!("../../shared/contract/routes.json");

/// What to start, where.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// moto's port on 127.0.0.1; 0 picks a free one.
    pub moto_port: u16,
    /// cognito-local's port on 127.0.0.1; 0 picks a free one.
    pub cognito_port: u16,
    /// Base URL of the Lambda Invoke API the Cognito triggers call, scheme + host + port, no
    /// path (e.g. `http://127.0.0.1:4010`): our gateway's.
    pub lambda_invoke_url: String,
    /// This stack's own directory (logs, cognito-local's working directory).
    pub data_dir: PathBuf,
    /// Where `scripts/tools.sh` installed the tools (see [`default_tools_dir`]).
    pub tools_dir: PathBuf,
}

impl ServiceOptions {
    /// Free ports and the default tools directory.
    pub fn new(data_dir: impl Into<PathBuf>, lambda_invoke_url: impl Into<String>) -> Self {
        Self {
            moto_port: 0,
            cognito_port: 0,
            lambda_invoke_url: lambda_invoke_url.into(),
            data_dir: data_dir.into(),
            tools_dir: default_tools_dir(),
        }
    }
}

/// `$COSMOS_TOOLS_DIR` if set, else `<workspace root>/.cosmos`.
pub fn default_tools_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os(TOOLS_DIR_ENV).filter(|d| !d.is_empty()) {
        return PathBuf::from(dir);
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).join(".cosmos")
}

/// The running stand-ins. Dropping this value kills them.
#[derive(Debug)]
pub struct Services {
    /// moto's endpoint, `http://127.0.0.1:<port>` (`AWS_ENDPOINT_URL` for DynamoDB, S3, ...).
    pub moto_endpoint: String,
    /// cognito-local's endpoint, `http://127.0.0.1:<port>`.
    pub cognito_endpoint: String,
    /// moto's port.
    pub moto_port: u16,
    /// cognito-local's port.
    pub cognito_port: u16,
    /// The stack's data directory (as given).
    pub data_dir: PathBuf,
    moto: ManagedChild,
    cognito: ManagedChild,
}

impl Services {
    /// Starts moto and cognito-local and waits until both answer HTTP.
    ///
    /// Fails with a hint to run `make tools` when the tools are missing, and with the child's
    /// last output when it exits early or is not ready within a minute.
    pub async fn start(opts: ServiceOptions) -> anyhow::Result<Self> {
        let moto_bin = opts.tools_dir.join("venv/bin/moto_server");
        let cognito_js = opts.tools_dir.join("node/node_modules/cognito-local/lib/bin/start.js");
        for tool in [&moto_bin, &cognito_js] {
            if !tool.exists() {
                bail!(
                    "{} not found: run `make tools` (bash scripts/tools.sh) to install the local \
                     stack's tools into {} (or set {TOOLS_DIR_ENV})",
                    tool.display(),
                    opts.tools_dir.display()
                );
            }
        }

        let logs = opts.data_dir.join("logs");
        let cognito_workdir = opts.data_dir.join("cognito");
        let cognito_state = cognito_workdir.join(".cognito");
        std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
        match std::fs::remove_dir_all(cognito_state.join("db")) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).context("wiping cognito-local's previous data"),
        }
        std::fs::create_dir_all(&cognito_state).with_context(|| format!("creating {}", cognito_state.display()))?;

        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(2))
            .build()?;
        let (moto_log, cognito_log) = (logs.join("moto.log"), logs.join("cognito-local.log"));
        let moto = start_child("moto_server", opts.moto_port, &moto_log, "/moto-api/", &http, |port| {
            let mut cmd = Command::new(&moto_bin);
            cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            Ok(cmd)
        });
        let cognito = start_child(
            "cognito-local",
            opts.cognito_port,
            &cognito_log,
            "/health",
            &http,
            |port| {
                let config = cognito_config(&loopback_url(port), &opts.lambda_invoke_url)?;
                let config_path = cognito_state.join("config.json");
                std::fs::write(&config_path, serde_json::to_vec_pretty(&config)?)
                    .with_context(|| format!("writing {}", config_path.display()))?;
                let mut cmd = Command::new("node");
                cmd.arg(&cognito_js)
                    .current_dir(&cognito_workdir)
                    .env("HOST", "127.0.0.1")
                    .env("PORT", port.to_string())
                    .env("CODE", CONFIRMATION_CODE)
                    // Silences the aws-sdk v2 end-of-support banner it prints on every start.
                    .env("AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE", "1");
                Ok(cmd)
            },
        );
        let ((moto, moto_port), (cognito, cognito_port)) = tokio::try_join!(moto, cognito)?;
        let moto_endpoint = loopback_url(moto_port);
        let cognito_endpoint = loopback_url(cognito_port);
        tracing::info!(%moto_endpoint, %cognito_endpoint, "AWS stand-ins ready");

        Ok(Self {
            moto_endpoint,
            cognito_endpoint,
            moto_port,
            cognito_port,
            data_dir: opts.data_dir,
            moto,
            cognito,
        })
    }

    /// The `iss` of this cognito-local's tokens for `user_pool_id`.
    pub fn cognito_issuer(&self, user_pool_id: &str) -> String {
        format!("{}/{user_pool_id}", self.cognito_endpoint)
    }

    /// Where this cognito-local serves the JWKS for `user_pool_id`.
    pub fn cognito_jwks_url(&self, user_pool_id: &str) -> String {
        format!("{}/{user_pool_id}/.well-known/jwks.json", self.cognito_endpoint)
    }

    /// Stops both children and waits for them to exit.
    pub async fn shutdown(self) {
        let Self { moto, cognito, .. } = self;
        tokio::join!(moto.stop(), cognito.stop());
    }
}

/// cognito-local's `.cognito/config.json`.
fn cognito_config(cognito_endpoint: &str, lambda_invoke_url: &str) -> anyhow::Result<Value> {
    let routes: Value = serde_json::from_str(ROUTES_JSON).context("parsing routes.json")?;
    let triggers = routes
        .get("cognitoTriggers")
        .filter(|t| t.is_object())
        .cloned()
        .context("routes.json has no cognitoTriggers object")?;
    Ok(json!({
        "LambdaClient": {
            "endpoint": lambda_invoke_url.trim_end_matches('/'),
            "region": "local",
            "credentials": { "accessKeyId": "local", "secretAccessKey": "local" },
            // Cognito gives a trigger 5 s and tries 3 times; do the same.
            "maxRetries": 2,
            "httpOptions": { "connectTimeout": 2000, "timeout": 5000 },
        },
        "TriggerFunctions": triggers,
        "TokenConfig": { "IssuerDomain": cognito_endpoint },
        "UserPoolDefaults": { "UsernameAttributes": ["email"] },
    }))
}

fn loopback_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}

/// How often an auto-picked port may turn out taken by the time the child binds it.
const PORT_ATTEMPTS: u32 = 3;

/// Spawns a child on a port (re-picking the port when an auto-picked one was taken in the
/// meantime) and waits until `probe_path` answers 2xx.
async fn start_child(
    name: &'static str,
    requested_port: u16,
    log_path: &Path,
    probe_path: &str,
    http: &reqwest::Client,
    mut command_for: impl FnMut(u16) -> anyhow::Result<Command>,
) -> anyhow::Result<(ManagedChild, u16)> {
    let mut attempt = 1;
    loop {
        let port = pick_port(requested_port).with_context(|| format!("{name} port"))?;
        let mut child = ManagedChild::spawn(name, command_for(port)?, log_path.to_owned())?;
        let probe = format!("{}{probe_path}", loopback_url(port));
        match child.wait_ready(http, &probe).await {
            Ok(()) => return Ok((child, port)),
            Err(e) if requested_port == 0 && attempt < PORT_ATTEMPTS && child.lost_port_race() => {
                tracing::debug!(name, port, error = %e, "port taken meanwhile; picking another");
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// `requested` if it is free; for 0, a free port below Linux's ephemeral range (32768+), so that
/// the kernel does not hand the same port to another socket (an outgoing connection, a `:0`
/// listener) between our check and the child's bind. The port is released before the child
/// binds it; [`start_child`] retries the rare loser of that race.
fn pick_port(requested: u16) -> anyhow::Result<u16> {
    use std::hash::{BuildHasher as _, Hasher as _};
    if requested != 0 {
        let listener = TcpListener::bind(("127.0.0.1", requested)).with_context(|| {
            format!(
                "127.0.0.1:{requested} is not available (another `make dev` running, or stand-ins left \
                     over from a killed one? `pgrep -af 'moto_server|cognito-local'` finds them)"
            )
        })?;
        return Ok(listener.local_addr()?.port());
    }
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let mut seed = hasher.finish();
    for _ in 0..64 {
        seed = seed
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let candidate = 20_000 + u16::try_from((seed >> 33) % 12_000).unwrap_or(0);
        if let Ok(listener) = TcpListener::bind(("127.0.0.1", candidate)) {
            return Ok(listener.local_addr()?.port());
        }
    }
    let listener = TcpListener::bind(("127.0.0.1", 0))?;
    Ok(listener.local_addr()?.port())
}

#[derive(Debug)]
struct ManagedChild {
    name: &'static str,
    child: Child,
    log_path: PathBuf,
}

impl ManagedChild {
    fn spawn(name: &'static str, mut cmd: Command, log_path: PathBuf) -> anyhow::Result<Self> {
        let log = File::create(&log_path).with_context(|| format!("creating {}", log_path.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // Its own process group: Ctrl-C in the terminal reaches only us, so the stack can
            // shut down in order (closing sockets fires `$disconnect`, which needs moto alive).
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd.spawn().with_context(|| {
            format!(
                "starting {name} ({:?}); run `make tools` if it is missing",
                cmd.as_std()
            )
        })?;
        Ok(Self { name, child, log_path })
    }

    async fn wait_ready(&mut self, http: &reqwest::Client, url: &str) -> anyhow::Result<()> {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "{} exited ({status}) before it was ready; {}",
                    self.name,
                    self.output_tail()
                );
            }
            if let Ok(response) = http.get(url).send().await
                && response.status().is_success()
            {
                tracing::debug!(name = self.name, elapsed_ms = started.elapsed().as_millis(), "ready");
                return Ok(());
            }
            if started.elapsed() > READY_TIMEOUT {
                bail!(
                    "{} did not answer {url} within {}s; {}",
                    self.name,
                    READY_TIMEOUT.as_secs(),
                    self.output_tail()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    async fn stop(mut self) {
        if let Err(e) = self.child.kill().await {
            tracing::warn!(name = self.name, error = %e, "stopping child");
        }
    }

    /// Whether the child died because its port was taken.
    fn lost_port_race(&self) -> bool {
        let log = std::fs::read_to_string(&self.log_path).unwrap_or_default();
        log.contains("EADDRINUSE") || log.contains("Address already in use")
    }

    fn output_tail(&self) -> String {
        let text = std::fs::read(&self.log_path)
            .map(|b| strip_ansi(&String::from_utf8_lossy(&b)))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n");
        let mut out = format!("last output ({}):", self.log_path.display());
        let _ = write!(out, "\n{tail}");
        out
    }
}

/// Removes ANSI colour sequences (cognito-local's logger always colours).
fn strip_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::test_support::{LambdaStub, TestDir, start_services};
    use super::*;

    async fn port_closes(port: u16) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test]
    async fn both_services_come_up_and_stop_when_dropped() {
        let dir = TestDir::new("services-drop");
        let lambda = LambdaStub::start().await;
        let started = Instant::now();
        let services = start_services(&dir, &lambda.url).await;
        eprintln!("stand-ins ready in {} ms", started.elapsed().as_millis());

        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let moto = http
            .get(format!("{}/moto-api/", services.moto_endpoint))
            .send()
            .await
            .unwrap();
        assert!(moto.status().is_success());
        let health: Value = http
            .get(format!("{}/health", services.cognito_endpoint))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(health, json!({ "ok": true }));
        let config: Value =
            serde_json::from_slice(&std::fs::read(dir.path().join("cognito/.cognito/config.json")).unwrap()).unwrap();
        assert_eq!(config["LambdaClient"]["endpoint"], lambda.url.as_str());
        assert_eq!(config["TriggerFunctions"]["PreSignUp"], "auth-hooks");
        assert_eq!(
            config["TokenConfig"]["IssuerDomain"],
            services.cognito_endpoint.as_str()
        );

        let (moto_port, cognito_port) = (services.moto_port, services.cognito_port);
        drop(services);

        assert!(port_closes(moto_port).await, "moto still listening");
        assert!(port_closes(cognito_port).await, "cognito-local still listening");
    }

    #[tokio::test]
    async fn shutdown_stops_both_services() {
        let dir = TestDir::new("services-shutdown");
        let services = start_services(&dir, "http://127.0.0.1:9").await;
        let (moto_port, cognito_port) = (services.moto_port, services.cognito_port);

        services.shutdown().await;

        assert!(port_closes(moto_port).await);
        assert!(port_closes(cognito_port).await);
    }

    #[tokio::test]
    async fn missing_tools_error_says_to_run_make_tools() {
        let dir = TestDir::new("services-no-tools");
        let mut opts = ServiceOptions::new(dir.path(), "http://127.0.0.1:9");
        opts.tools_dir = dir.path().join("no-tools-here");

        let err = Services::start(opts).await.unwrap_err();

        assert!(err.to_string().contains("make tools"), "{err}");
    }

    #[tokio::test]
    async fn rejects_a_port_already_in_use() {
        let dir = TestDir::new("services-busy-port");
        let busy = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut opts = ServiceOptions::new(dir.path(), "http://127.0.0.1:9");
        opts.tools_dir = test_support::tools_dir();
        opts.moto_port = busy.local_addr().unwrap().port();

        let err = Services::start(opts).await.unwrap_err();

        assert!(format!("{err:#}").contains("is not available"), "{err:#}");
    }

    #[tokio::test]
    async fn a_child_that_dies_at_start_is_reported_with_its_output() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = TestDir::new("services-child-dies");
        let tools = dir.path().join("tools");
        let moto = tools.join("venv/bin/moto_server");
        let cognito = tools.join("node/node_modules/cognito-local/lib/bin/start.js");
        std::fs::create_dir_all(moto.parent().unwrap()).unwrap();
        std::fs::create_dir_all(cognito.parent().unwrap()).unwrap();
        std::fs::write(&moto, "#!/bin/sh\necho 'boom: no moto today' >&2\nexit 3\n").unwrap();
        std::fs::set_permissions(&moto, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(&cognito, "setInterval(() => {}, 1000);\n").unwrap();
        let mut opts = ServiceOptions::new(dir.path(), "http://127.0.0.1:9");
        opts.tools_dir = tools;

        let started = Instant::now();
        let err = Services::start(opts).await.unwrap_err().to_string();

        assert!(err.contains("moto_server exited"), "{err}");
        assert!(err.contains("boom: no moto today"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[test]
    fn config_maps_every_cognito_trigger_to_auth_hooks() {
        let config = cognito_config("http://127.0.0.1:1", "http://127.0.0.1:2/").unwrap();
        assert_eq!(config["LambdaClient"]["endpoint"], "http://127.0.0.1:2");
        assert_eq!(
            config["TriggerFunctions"],
            json!({
                "PreSignUp": "auth-hooks",
                "PostConfirmation": "auth-hooks",
                "PreTokenGeneration": "auth-hooks",
            })
        );
    }

    #[test]
    fn strips_ansi_colours() {
        assert_eq!(strip_ansi("\u{1b}[31mERROR\u{1b}[39m: boom"), "ERROR: boom");
    }
}
