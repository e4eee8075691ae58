//! Shared by the gateway tests: a user pool stand-in (JWKS on 127.0.0.1 + token minting with the
//! shared test keys) and recording functions.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::jwt::{TokenConfig, TokenVerifier, VerifierOptions};
use tokio::net::TcpListener;

use super::ServerHandle;
use super::authorizer::JwtAuthorizer;
use crate::functions::{FunctionError, Functions};

const SIGNING_KEY: &str = include_str!("../../../shared/tests/fixtures/jwt-signing-key.pem");
const FORGER_KEY: &str = include_str!("../../../shared/tests/fixtures/jwt-forger-key.pem");
pub const KID: &str = "CognitoLocal";
pub const CLIENT_ID: &str = "localclient";
pub const USER: &str = "7d8ca528-4931-4254-9273-ea5ee853f271";

/// A user pool: its JWKS served on 127.0.0.1, and tokens signed with its key.
pub struct TestPool {
    pub config: TokenConfig,
    _jwks: ServerHandle,
}

impl TestPool {
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let key = EncodingKey::from_rsa_pem(SIGNING_KEY.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
        jwk["kid"] = json!(KID);
        jwk["use"] = json!("sig");
        let document = json!({ "keys": [jwk] });
        let router = axum::Router::new().route(
            "/local_pool/.well-known/jwks.json",
            axum::routing::get(move || {
                let document = document.clone();
                async move { axum::Json(document) }
            }),
        );
        let jwks = ServerHandle::spawn(listener, router).unwrap();
        Self {
            config: TokenConfig {
                issuer: format!("http://{addr}/local_pool"),
                jwks_url: format!("http://{addr}/local_pool/.well-known/jwks.json"),
                client_ids: vec![CLIENT_ID.to_owned()],
            },
            _jwks: jwks,
        }
    }

    pub fn verifier(&self) -> Arc<TokenVerifier> {
        Arc::new(TokenVerifier::with_options(
            self.config.clone(),
            VerifierOptions {
                refetch_interval: Duration::ZERO,
                ..VerifierOptions::default()
            },
        ))
    }

    pub fn authorizer(&self) -> JwtAuthorizer {
        JwtAuthorizer::new(self.verifier())
    }

    pub fn id_claims(&self) -> Value {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
        json!({
            "sub": USER,
            "email_verified": true,
            "iss": self.config.issuer,
            "cognito:username": USER,
            "preferred_username": "ada",
            "origin_jti": "3a1d5b1e-2a0b-4f0e-9c7d-6f1a2b3c4d5e",
            "aud": CLIENT_ID,
            "event_id": "f2c1a6f0-1d2e-4c3b-8a9f-0e1d2c3b4a59",
            "token_use": "id",
            "auth_time": now,
            "exp": now + 3600,
            "iat": now,
            "jti": "9c5d2e1f-7a6b-4c3d-8e9f-1a2b3c4d5e6f",
            "email": "ada@example.com",
        })
    }

    pub fn access_claims(&self) -> Value {
        let now = i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap();
        json!({
            "sub": USER,
            "iss": self.config.issuer,
            "client_id": CLIENT_ID,
            "origin_jti": "3a1d5b1e-2a0b-4f0e-9c7d-6f1a2b3c4d5e",
            "event_id": "f2c1a6f0-1d2e-4c3b-8a9f-0e1d2c3b4a59",
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now,
            "exp": now + 3600,
            "iat": now,
            "jti": "0d9e8f7a-6b5c-4d3e-8f1a-2b3c4d5e6f7a",
            "username": USER,
        })
    }

    pub fn sign(claims: &Value) -> String {
        sign_with(SIGNING_KEY, claims)
    }

    pub fn forge(claims: &Value) -> String {
        sign_with(FORGER_KEY, claims)
    }

    pub fn id_token(&self) -> String {
        Self::sign(&self.id_claims())
    }

    pub fn access_token(&self) -> String {
        Self::sign(&self.access_claims())
    }
}

fn sign_with(pem: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KID.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
}

/// The events a recording function received, in arrival order.
#[derive(Clone, Default)]
pub struct Recorder(Arc<Mutex<Vec<(String, Value)>>>);

impl Recorder {
    /// Registers `name` as a function that records its event and answers `reply`.
    pub fn register(&self, functions: &mut Functions, name: &str, reply: Value) {
        let recorder = self.clone();
        let function = name.to_owned();
        functions.insert(name, move |event| {
            recorder.0.lock().unwrap().push((function.clone(), event));
            let reply = reply.clone();
            async move { Ok(reply) }
        });
    }

    /// Registers `name` as a function that records its event and fails.
    pub fn register_failing(&self, functions: &mut Functions, name: &str) {
        let recorder = self.clone();
        let function = name.to_owned();
        functions.insert(name, move |event| {
            recorder.0.lock().unwrap().push((function.clone(), event));
            async move { Err(FunctionError::new("Boom", "the function failed")) }
        });
    }

    /// Records `event` as received by `function`.
    pub fn record(&self, function: &str, event: Value) {
        self.0.lock().unwrap().push((function.to_owned(), event));
    }

    /// Every recorded event of `name`.
    pub fn events(&self, name: &str) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(function, _)| function == name)
            .map(|(_, event)| event.clone())
            .collect()
    }

    /// How many invocations were recorded in total.
    pub fn count(&self) -> usize {
        self.0.lock().unwrap().len()
    }

    /// Waits (up to 5 s) until `name` has at least `n` events, and returns them.
    pub async fn wait_for(&self, name: &str, n: usize) -> Vec<Value> {
        for _ in 0..500 {
            let events = self.events(name);
            if events.len() >= n {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("{name} received {} events, expected {n}", self.events(name).len());
    }
}

/// Binds 127.0.0.1 on an ephemeral port and serves `router`.
pub async fn serve(router: axum::Router) -> ServerHandle {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    ServerHandle::spawn(listener, router).unwrap()
}

/// The sample events under `events/<function>/`, by file name.
pub fn sample_events(function: &str) -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(function);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut samples: Vec<(String, Value)> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            (path.display().to_string(), value)
        })
        .collect();
    samples.sort_by(|a, b| a.0.cmp(&b.0));
    samples
}
