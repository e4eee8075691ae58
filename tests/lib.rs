//! Support for the end-to-end tests: a whole local stack per test, users signed up through the
//! Cognito API, and real HTTP and WebSocket clients.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow, bail};
use cosmos_local::cognito::{AuthTokens, CognitoClient};
use cosmos_local::stack::{ClientConfig, Stack, StackOptions, cosmos_functions};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// How long a test waits for a frame before failing (generous: CI machines are slow; latency
/// itself is measured by the benchmark, not asserted here).
pub const FRAME_WAIT: Duration = Duration::from_secs(10);

/// A running local stack and clients for it.
pub struct World {
    /// The stack (its stand-ins, gateway and functions).
    pub stack: Stack,
    /// What a client needs to reach it (the same keys as `.cosmos/local.json`).
    pub config: ClientConfig,
    table_name: String,
    http: reqwest::Client,
    cognito: CognitoClient,
    data_dir: PathBuf,
}

/// A signed-up, signed-in user.
#[derive(Debug, Clone)]
pub struct User {
    /// Cognito `sub`: the user id.
    pub id: String,
    /// The handle chosen at sign-up.
    pub handle: String,
    /// Their tokens.
    pub tokens: AuthTokens,
}

impl User {
    /// The id token (what the HTTP API takes as a bearer token).
    pub fn token(&self) -> &str {
        &self.tokens.id_token
    }
}

/// The confirmation code the local Cognito stand-in accepts.
pub const CONFIRMATION_CODE: &str = cosmos_local::services::CONFIRMATION_CODE;

impl World {
    /// Starts a fresh stack on ephemeral ports with its own data directory.
    pub async fn start() -> Result<Self> {
        let data_dir = std::env::temp_dir().join(format!("cosmos-e2e-{}", ulid::Ulid::generate()));
        let stack = Stack::start(StackOptions::new(&data_dir, cosmos_functions()))
            .await
            .context("starting the local stack")?;
        let config = stack.client_config().clone();
        let table_name = stack
            .function_env()
            .var("TABLE_NAME")
            .context("the stack sets TABLE_NAME")?;
        let cognito = CognitoClient::new(config.cognito_endpoint.clone());
        Ok(Self {
            stack,
            config,
            table_name,
            http: reqwest::Client::new(),
            cognito,
            data_dir,
        })
    }

    /// Signs a new user up (email as username, handle as `preferred_username`), confirms them
    /// with the local code and signs them in.
    pub async fn sign_up(&self, handle: &str) -> Result<User> {
        let email = format!(
            "{handle}-{}@example.com",
            ulid::Ulid::generate().to_string().to_lowercase()
        );
        let password = "Correct-Horse-9-Battery";
        let client_id = &self.config.user_pool_client_id;
        let signed_up = self.cognito.sign_up(client_id, &email, password, handle).await?;
        self.cognito
            .confirm_sign_up(client_id, &email, CONFIRMATION_CODE)
            .await?;
        let tokens = self.cognito.initiate_auth(client_id, &email, password).await?;
        Ok(User {
            id: signed_up.user_sub,
            handle: handle.to_owned(),
            tokens,
        })
    }

    /// Sends an HTTP API request with an optional bearer token and JSON body; returns the
    /// status, headers and JSON body (`Null` when empty or not JSON).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, reqwest::header::HeaderMap, Value)> {
        let url = format!("{}{path}", self.config.http_api_url.trim_end_matches('/'));
        let mut request = self.http.request(method.parse()?, url);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.header("content-type", "application/json").body(body.to_owned());
        }
        let response = request.send().await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await?;
        Ok((status, headers, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    /// `call` for a signed-in user, status and body only.
    pub async fn as_user(&self, user: &User, method: &str, path: &str, body: Option<&str>) -> Result<(u16, Value)> {
        let (status, _, json) = self.call(method, path, Some(user.token()), body).await?;
        Ok((status, json))
    }

    /// Creates a server as `owner`; returns (server id, general channel id).
    pub async fn create_server(&self, owner: &User, name: &str) -> Result<(String, String)> {
        let (status, server) = self
            .as_user(
                owner,
                "POST",
                "/servers",
                Some(&serde_json::json!({ "name": name }).to_string()),
            )
            .await?;
        if status != 201 {
            bail!("create server: {status} {server}");
        }
        let server_id = server["id"].as_str().ok_or_else(|| anyhow!("no id"))?.to_owned();
        let (_, channels) = self
            .as_user(owner, "GET", &format!("/servers/{server_id}/channels"), None)
            .await?;
        let general = channels[0]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no general channel: {channels}"))?
            .to_owned();
        Ok((server_id, general))
    }

    /// Makes `guest` join `server_id` through an invite created by `member`.
    pub async fn invite_and_join(&self, member: &User, guest: &User, server_id: &str) -> Result<()> {
        let (status, invite) = self
            .as_user(member, "POST", &format!("/servers/{server_id}/invites"), None)
            .await?;
        if status != 201 {
            bail!("create invite: {status} {invite}");
        }
        let code = invite["code"].as_str().ok_or_else(|| anyhow!("no code"))?;
        let (status, joined) = self.as_user(guest, "POST", &format!("/invites/{code}"), None).await?;
        if status != 200 {
            bail!("join: {status} {joined}");
        }
        Ok(())
    }

    /// Opens a WebSocket with `?token=`; `Err` carries the refusal's HTTP status.
    pub async fn connect(&self, token: Option<&str>) -> Result<Socket, u16> {
        let url = match token {
            Some(token) => format!("{}?token={token}", self.config.web_socket_url),
            None => self.config.web_socket_url.clone(),
        };
        match tokio_tungstenite::connect_async(url).await {
            Ok((stream, _response)) => Ok(Socket { stream }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(_) => Err(0),
        }
    }

    /// Opens a socket for `user` and waits for its `READY`.
    pub async fn connect_ready(&self, user: &User) -> Result<(Socket, Value)> {
        let mut socket = self
            .connect(Some(user.token()))
            .await
            .map_err(|status| anyhow!("connect refused: {status}"))?;
        socket.send(&serde_json::json!({ "action": "hello" })).await?;
        let ready = socket.expect("READY").await?;
        Ok((socket, ready))
    }

    /// A DynamoDB client for the stack's table (for direct writes and checks).
    pub fn dynamodb(&self) -> aws_sdk_dynamodb::Client {
        shared::testing::dynamodb_client(&self.stack.endpoints().moto)
    }

    /// The stack's table name.
    pub fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Stops everything and removes the data directory.
    pub async fn stop(self) {
        self.stack.shutdown().await;
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// A client WebSocket.
pub struct Socket {
    stream: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

impl Socket {
    /// Sends a JSON text frame.
    pub async fn send(&mut self, frame: &Value) -> Result<()> {
        self.stream.send(WsMessage::text(frame.to_string())).await?;
        Ok(())
    }

    /// The next JSON frame, or an error after `FRAME_WAIT`.
    pub async fn next(&mut self) -> Result<Value> {
        loop {
            let message = tokio::time::timeout(FRAME_WAIT, self.stream.next())
                .await
                .map_err(|_| anyhow!("no frame within {FRAME_WAIT:?}"))?
                .ok_or_else(|| anyhow!("socket closed"))??;
            match message {
                WsMessage::Text(text) => return Ok(serde_json::from_str(text.as_str())?),
                WsMessage::Close(frame) => bail!("socket closed by the server: {frame:?}"),
                _ => {}
            }
        }
    }

    /// Skips frames until one of `frame_type` arrives; returns its `data`.
    pub async fn expect(&mut self, frame_type: &str) -> Result<Value> {
        loop {
            let frame = self.next().await?;
            if frame["type"] == frame_type {
                return Ok(frame["data"].clone());
            }
        }
    }

    /// Waits `quiet` and fails if any frame of `frame_type` arrives meanwhile.
    pub async fn expect_none(&mut self, frame_type: &str, quiet: Duration) -> Result<()> {
        let deadline = tokio::time::Instant::now() + quiet;
        loop {
            match tokio::time::timeout_at(deadline, self.stream.next()).await {
                Err(_) | Ok(None) => return Ok(()),
                Ok(Some(message)) => {
                    if let WsMessage::Text(text) = message? {
                        let frame: Value = serde_json::from_str(text.as_str())?;
                        if frame["type"] == frame_type {
                            bail!("unexpected {frame_type}: {frame}");
                        }
                    }
                }
            }
        }
    }

    /// Drops the TCP connection without a close handshake (a phone losing signal).
    pub fn drop_abruptly(self) {
        drop(self.stream.into_inner());
    }
}
