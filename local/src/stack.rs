//! The whole local stack, started together: `make dev` runs it through the `cosmos-local`
//! binary, the end-to-end tests start one per suite.
//!
//! [`Stack::start`], in order: binds the gateway's three listeners (port 0 = ephemeral), starts
//! moto and cognito-local with the triggers pointed at our Lambda Invoke API, creates the
//! table, bucket, user pool and app client, builds the functions from the resulting
//! [`FunctionEnv`] (the variables the CDK stack would set), then serves the HTTP API (JWT
//! authorizer against the pool), the WebSocket API with `@connections`, the Invoke API, and the
//! stream → `ws-broadcast` mapping (from `TRIM_HORIZON`: the table is new, nothing written
//! during start-up is missed). [`Stack::client_config`] holds what a client needs — the same
//! keys the CDK stack outputs — and [`Stack::write_client_config`] writes it (`.cosmos/local.json`).
//!
//! [`Stack::shutdown`] stops the stream mapping, closes the WebSocket connections (their
//! `$disconnect` still runs), stops the listeners, then the stand-ins. Dropping a `Stack` stops everything too,
//! without waiting.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use futures::future::BoxFuture;
use serde::{Deserialize, Serialize};
use shared::jwt::{TokenConfig, TokenVerifier};
use tokio::net::TcpListener;

use crate::bootstrap::{BootstrapOptions, bootstrap};
use crate::functions::{FunctionEnv, Functions};
use crate::gateway::authorizer::JwtAuthorizer;
use crate::gateway::http_api::{HttpApi, HttpApiOptions};
use crate::gateway::invoke::InvokeApi;
use crate::gateway::routes::RouteTable;
use crate::gateway::streams::{StartingPosition, StreamMapping, StreamMappingHandle, StreamMappingOptions};
use crate::gateway::websocket::{ConnectionRegistry, WebSocketApi, WebSocketOptions};
use crate::gateway::{ApiSettings, ServerHandle};
use crate::services::{ServiceOptions, Services, default_tools_dir};

/// Builds the functions once the stack knows their environment.
pub type FunctionsFactory = Box<dyn FnOnce(FunctionEnv) -> BoxFuture<'static, anyhow::Result<Functions>> + Send>;

/// Wraps an async builder as a [`FunctionsFactory`].
pub fn functions_factory<F, Fut>(build: F) -> FunctionsFactory
where
    F: FnOnce(FunctionEnv) -> Fut + Send + 'static,
    Fut: Future<Output = anyhow::Result<Functions>> + Send + 'static,
{
    Box::new(move |env| Box::pin(build(env)))
}

/// The real Cosmos functions ([`Functions::cosmos`]).
pub fn cosmos_functions() -> FunctionsFactory {
    functions_factory(|env| async move { Functions::cosmos(&env) })
}

/// What to start, where. Ports 0 pick free ports.
pub struct StackOptions {
    /// HTTP API port on 127.0.0.1.
    pub http_port: u16,
    /// WebSocket API (and `@connections`) port.
    pub websocket_port: u16,
    /// Lambda Invoke API port.
    pub invoke_port: u16,
    /// moto's port.
    pub moto_port: u16,
    /// cognito-local's port.
    pub cognito_port: u16,
    /// This stack's directory (stand-in logs, cognito-local's data).
    pub data_dir: PathBuf,
    /// Where `make tools` installed moto and cognito-local.
    pub tools_dir: PathBuf,
    /// Names used in events (API ids, account, WebSocket stage); its region is overridden by
    /// `resources.region`.
    pub api: ApiSettings,
    /// Names of the table, bucket, pool and app client (and the region).
    pub resources: BootstrapOptions,
    /// HTTP API limits.
    pub http: HttpApiOptions,
    /// WebSocket API limits.
    pub websocket: WebSocketOptions,
    /// Builds the functions.
    pub functions: FunctionsFactory,
}

impl std::fmt::Debug for StackOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackOptions")
            .field("http_port", &self.http_port)
            .field("websocket_port", &self.websocket_port)
            .field("invoke_port", &self.invoke_port)
            .field("moto_port", &self.moto_port)
            .field("cognito_port", &self.cognito_port)
            .field("data_dir", &self.data_dir)
            .field("tools_dir", &self.tools_dir)
            .field("api", &self.api)
            .field("resources", &self.resources)
            .finish_non_exhaustive()
    }
}

impl StackOptions {
    /// Free ports, default names and limits, the default tools directory.
    pub fn new(data_dir: impl Into<PathBuf>, functions: FunctionsFactory) -> Self {
        Self {
            http_port: 0,
            websocket_port: 0,
            invoke_port: 0,
            moto_port: 0,
            cognito_port: 0,
            data_dir: data_dir.into(),
            tools_dir: default_tools_dir(),
            api: ApiSettings::default(),
            resources: BootstrapOptions::default(),
            http: HttpApiOptions::default(),
            websocket: WebSocketOptions::default(),
            functions,
        }
    }
}

/// What a client needs to talk to the stack: the keys the CDK stack outputs for a deployed stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientConfig {
    /// `http://127.0.0.1:<port>` (no trailing slash).
    pub http_api_url: String,
    /// `ws://127.0.0.1:<port>/<stage>`.
    pub web_socket_url: String,
    /// The region the stand-ins are addressed in.
    pub region: String,
    /// cognito-local's endpoint (sign up and sign in there).
    pub cognito_endpoint: String,
    /// The user pool id.
    pub user_pool_id: String,
    /// The app client id.
    pub user_pool_client_id: String,
    /// The media bucket.
    pub bucket: String,
}

/// Where everything listens, for tests and the start-up banner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    /// HTTP API base URL.
    pub http_api: String,
    /// WebSocket URL (with the stage).
    pub websocket: String,
    /// `@connections` base URL (`CONNECTIONS_ENDPOINT`, with the stage path).
    pub connections: String,
    /// Lambda Invoke API base URL.
    pub invoke: String,
    /// moto's endpoint (`AWS_ENDPOINT_URL`).
    pub moto: String,
    /// cognito-local's endpoint.
    pub cognito: String,
}

/// A running local stack.
#[derive(Debug)]
pub struct Stack {
    client: ClientConfig,
    endpoints: Endpoints,
    env: FunctionEnv,
    connections: ConnectionRegistry,
    servers: Vec<ServerHandle>,
    stream: Option<StreamMappingHandle>,
    services: Option<Services>,
}

async fn bind(port: u16, what: &str) -> anyhow::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("binding the {what} on 127.0.0.1:{port}"))
}

impl Stack {
    /// Starts everything (see the module doc); on error, whatever started is stopped again.
    pub async fn start(options: StackOptions) -> anyhow::Result<Self> {
        let http_listener = bind(options.http_port, "HTTP API").await?;
        let websocket_listener = bind(options.websocket_port, "WebSocket API").await?;
        let invoke_listener = bind(options.invoke_port, "Lambda Invoke API").await?;
        let http_addr = http_listener.local_addr()?;
        let websocket_addr = websocket_listener.local_addr()?;
        let invoke_addr = invoke_listener.local_addr()?;
        let region = options.resources.region.clone();
        let api = ApiSettings {
            region: region.clone(),
            ..options.api
        };

        let services = Services::start(ServiceOptions {
            moto_port: options.moto_port,
            cognito_port: options.cognito_port,
            lambda_invoke_url: format!("http://{invoke_addr}"),
            data_dir: options.data_dir.clone(),
            tools_dir: options.tools_dir.clone(),
        })
        .await?;
        let resources = bootstrap(&services.moto_endpoint, &services.cognito_endpoint, &options.resources)
            .await
            .context("creating the table, bucket and user pool")?;

        let endpoints = Endpoints {
            http_api: format!("http://{http_addr}"),
            websocket: format!("ws://{websocket_addr}/{}", api.websocket_stage),
            connections: format!("http://{websocket_addr}/{}", api.websocket_stage),
            invoke: format!("http://{invoke_addr}"),
            moto: services.moto_endpoint.clone(),
            cognito: services.cognito_endpoint.clone(),
        };
        let token = TokenConfig {
            issuer: services.cognito_issuer(&resources.user_pool_id),
            jwks_url: services.cognito_jwks_url(&resources.user_pool_id),
            client_ids: vec![resources.user_pool_client_id.clone()],
        };
        let env = function_env(&endpoints, &region, &resources.table.name, &token).await;
        let functions = Arc::new(
            (options.functions)(env.clone())
                .await
                .context("building the functions")?,
        );
        let routes = Arc::new(RouteTable::cosmos()?);
        let wanted: std::collections::BTreeSet<&String> = routes
            .http_routes
            .iter()
            .map(|route| &route.function)
            .chain(routes.websocket_routes.values())
            .chain(&routes.table_stream_consumers)
            .chain(routes.cognito_triggers.values())
            .collect();
        for function in wanted.into_iter().filter(|function| !functions.contains(function)) {
            tracing::warn!(
                function,
                "function not registered: its triggers fail (HTTP routes answer 500)"
            );
        }

        let authorizer = JwtAuthorizer::new(Arc::new(TokenVerifier::new(token)));
        let http_api = HttpApi::new(routes.clone(), functions.clone(), authorizer, api.clone(), options.http);
        let websocket_api = WebSocketApi::new(routes.clone(), functions.clone(), api.clone(), options.websocket);
        let connections = websocket_api.connections();
        let invoke_api = InvokeApi::new(functions.clone(), api.clone());
        let servers = vec![
            ServerHandle::spawn(invoke_listener, invoke_api.router())?,
            ServerHandle::spawn(http_listener, http_api.router())?,
            ServerHandle::spawn(websocket_listener, websocket_api.router())?,
        ];

        let stream = routes.table_stream_consumers.first().map(|consumer| {
            let client = aws_sdk_dynamodbstreams::Client::new(&env.aws);
            let options = StreamMappingOptions {
                starting_position: StartingPosition::TrimHorizon,
                region: region.clone(),
                ..StreamMappingOptions::new(resources.table.name.clone(), consumer.clone())
            };
            StreamMapping::new(client, functions.clone(), options).spawn()
        });

        let client = ClientConfig {
            http_api_url: endpoints.http_api.clone(),
            web_socket_url: endpoints.websocket.clone(),
            region,
            cognito_endpoint: endpoints.cognito.clone(),
            user_pool_id: resources.user_pool_id,
            user_pool_client_id: resources.user_pool_client_id,
            bucket: resources.bucket,
        };
        Ok(Self {
            client,
            endpoints,
            env,
            connections,
            servers,
            stream,
            services: Some(services),
        })
    }

    /// What a client needs (the CDK stack's output keys).
    pub fn client_config(&self) -> &ClientConfig {
        &self.client
    }

    /// Where everything listens.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// The functions' environment (table name, SDK configuration for moto, ...).
    pub fn function_env(&self) -> &FunctionEnv {
        &self.env
    }

    /// The open WebSocket connections.
    pub fn connections(&self) -> &ConnectionRegistry {
        &self.connections
    }

    /// Writes the client configuration as JSON to `path` (parent directories created; written to
    /// a temporary file first, so a reader never sees half a file).
    pub fn write_client_config(&self, path: impl AsRef<Path>) -> anyhow::Result<()> {
        let path = path.as_ref();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("creating {}", parent.display()))?;
        }
        let mut json = serde_json::to_string_pretty(&self.client)?;
        json.push('\n');
        let temporary = path.with_extension("json.tmp");
        std::fs::write(&temporary, json).with_context(|| format!("writing {}", temporary.display()))?;
        std::fs::rename(&temporary, path).with_context(|| format!("writing {}", path.display()))?;
        Ok(())
    }

    /// Stops everything, in order, waiting for each part.
    pub async fn shutdown(mut self) {
        if let Some(stream) = self.stream.take() {
            stream.shutdown().await;
        }
        self.connections.close_all(Duration::from_secs(5)).await;
        for server in self.servers.drain(..) {
            server.shutdown().await;
        }
        if let Some(services) = self.services.take() {
            services.shutdown().await;
        }
    }
}

async fn function_env(endpoints: &Endpoints, region: &str, table_name: &str, token: &TokenConfig) -> FunctionEnv {
    let vars = [
        ("AWS_REGION", region.to_owned()),
        ("AWS_ENDPOINT_URL", endpoints.moto.clone()),
        ("TABLE_NAME", table_name.to_owned()),
        ("CONNECTIONS_ENDPOINT", endpoints.connections.clone()),
        ("USER_POOL_ISSUER", token.issuer.clone()),
        ("USER_POOL_JWKS_URL", token.jwks_url.clone()),
        ("USER_POOL_CLIENT_IDS", token.client_ids.join(",")),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect();
    let aws = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(region.to_owned()))
        .endpoint_url(&endpoints.moto)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "local",
            "local",
            None,
            None,
            "cosmos-local",
        ))
        .load()
        .await;
    FunctionEnv { vars, aws }
}

#[cfg(test)]
mod tests;
