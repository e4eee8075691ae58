//! Verifies Cognito user pool tokens (id and access) the way API Gateway's JWT authorizer does.
//!
//! Used by `ws-connect` (which verifies the `token=` query parameter itself) and by the local
//! gateway's JWT authorizer. Rules: RS256 only; `iss` must equal the configured issuer; `exp`
//! checked with a small explicit leeway, `nbf` and `iat` must not lie in the future; `token_use`
//! must be `id` or `access`; an id token's `aud`, or an access token's `client_id`, must be one
//! of the allowed app clients; `sub` must be present.
//!
//! Signing keys come from the pool's JWKS, fetched lazily over HTTP(S), cached, and refetched
//! when a token names an unknown `kid` (key rotation) — at most once per
//! [`VerifierOptions::refetch_interval`], so a flood of made-up key ids cannot turn into a flood
//! of JWKS requests. The issuer and the JWKS URL are separate settings because the local
//! stand-ins publish their keys on a local host while their `iss` says otherwise.
//!
//! A token never appears in an error or a log line.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value};

pub use crate::config::TokenConfig;

/// Tuning for a [`TokenVerifier`]; the defaults suit production.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifierOptions {
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// Minimum time between two JWKS fetches after the first one.
    pub refetch_interval: Duration,
    /// Timeout of one JWKS request.
    pub http_timeout: Duration,
}

impl Default for VerifierOptions {
    fn default() -> Self {
        Self {
            leeway: Duration::from_secs(60),
            refetch_interval: Duration::from_secs(10),
            http_timeout: Duration::from_secs(5),
        }
    }
}

/// Which kind of Cognito token was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// An id token (`token_use: "id"`, app client in `aud`).
    Id,
    /// An access token (`token_use: "access"`, app client in `client_id`).
    Access,
}

impl TokenUse {
    /// The claim value: `"id"` or `"access"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Id => "id",
            Self::Access => "access",
        }
    }
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The user's id (Cognito `sub`): the only identity the application trusts.
    pub sub: String,
    /// Id or access token.
    pub token_use: TokenUse,
    /// Every claim of the token, as signed.
    pub claims: Map<String, Value>,
}

/// Why a token was refused. Every variant except [`TokenError::KeysUnavailable`] is the caller's
/// fault (answer 401); the messages never contain the token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Not three base64url parts with a JSON header and JSON claims.
    #[error("token is not a well-formed JWT")]
    Malformed,
    /// The header's `alg` is not RS256 (HS256, `none`, ...).
    #[error("token algorithm is not RS256")]
    UnsupportedAlgorithm,
    /// The header has no `kid`.
    #[error("token header has no key id")]
    MissingKeyId,
    /// The pool publishes no key with the token's `kid`, even after a refetch.
    #[error("no published signing key matches the token's key id")]
    UnknownKey,
    /// The signature does not verify with the pool's key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past (beyond the leeway).
    #[error("token has expired")]
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iss` is not the configured pool.
    #[error("token was not issued by the user pool")]
    WrongIssuer,
    /// A required claim is absent.
    #[error("token has no `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong type (e.g. a string `exp`).
    #[error("token claim `{0}` has the wrong type")]
    InvalidClaim(&'static str),
    /// `token_use` is neither `id` nor `access`.
    #[error("token_use is neither id nor access")]
    WrongTokenUse,
    /// `aud` (id token) or `client_id` (access token) is not an allowed app client.
    #[error("token was issued to an app client that is not allowed")]
    WrongClient,
    /// The JWKS could not be fetched or parsed: a server-side problem, not the caller's.
    #[error("signing keys are unavailable")]
    KeysUnavailable(#[source] JwksError),
}

impl TokenError {
    /// True when the token itself was refused (401); false when the keys could not be loaded.
    pub fn is_unauthorized(&self) -> bool {
        !matches!(self, Self::KeysUnavailable(_))
    }
}

/// Why the JWKS could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    /// The request failed (connection, timeout, non-2xx status, unreadable body).
    #[error("fetching the JWKS failed")]
    Http(#[from] reqwest::Error),
    /// The document is not a JWKS (`{"keys": [...]}`).
    #[error("the JWKS document is malformed")]
    Malformed(#[from] serde_json::Error),
    /// A fetch failed recently and the next one is not allowed yet.
    #[error("the last JWKS fetch failed; retrying later")]
    Backoff,
}

/// Verifies user pool tokens; cheap to share (`Arc`) between requests.
pub struct TokenVerifier {
    config: TokenConfig,
    options: VerifierOptions,
    http: reqwest::Client,
    cache: RwLock<KeyCache>,
    fetch_lock: tokio::sync::Mutex<()>,
}

#[derive(Default)]
struct KeyCache {
    keys: Arc<HashMap<String, DecodingKey>>,
    last_fetch: Option<Instant>,
    last_fetch_failed: bool,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("config", &self.config)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl TokenVerifier {
    /// A verifier with the default options.
    pub fn new(config: TokenConfig) -> Self {
        Self::with_options(config, VerifierOptions::default())
    }

    /// A verifier with explicit options (tests shorten the refetch interval).
    pub fn with_options(config: TokenConfig, options: VerifierOptions) -> Self {
        // Building a client only fails when the TLS backend cannot initialise; fall back to the
        // default client, which then reports the same problem on the first fetch.
        let http = reqwest::Client::builder()
            .timeout(options.http_timeout)
            .build()
            .unwrap_or_default();
        Self {
            config,
            options,
            http,
            cache: RwLock::new(KeyCache::default()),
            fetch_lock: tokio::sync::Mutex::new(()),
        }
    }

    /// The configuration this verifier checks against.
    pub fn config(&self) -> &TokenConfig {
        &self.config
    }

    /// Verifies `token` (the bare JWT, no `Bearer ` prefix) and returns its claims.
    pub async fn verify(&self, token: &str) -> Result<VerifiedToken, TokenError> {
        let kid = header_key_id(token)?;
        let key = self.key_for(&kid).await?;
        let claims = self.decode(token, &key)?;
        self.check_claims(claims)
    }

    fn decode(&self, token: &str, key: &DecodingKey) -> Result<Map<String, Value>, TokenError> {
        let mut validation = Validation::new(Algorithm::RS256);
        validation.leeway = self.options.leeway.as_secs();
        validation.validate_exp = true;
        validation.validate_nbf = true;
        // Audience is checked below, per token_use: access tokens carry no `aud`.
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        validation.set_issuer(&[self.config.issuer.as_str()]);
        jsonwebtoken::decode::<Map<String, Value>>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|e| map_jwt_error(e.kind()))
    }

    fn check_claims(&self, claims: Map<String, Value>) -> Result<VerifiedToken, TokenError> {
        if let Some(iat) = claims.get("iat") {
            let iat = iat.as_f64().ok_or(TokenError::InvalidClaim("iat"))?;
            #[allow(clippy::cast_precision_loss)]
            let latest = (jsonwebtoken::get_current_timestamp() + self.options.leeway.as_secs()) as f64;
            if iat > latest {
                return Err(TokenError::NotYetValid);
            }
        }
        let sub = match claims.get("sub") {
            Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
            Some(_) => return Err(TokenError::InvalidClaim("sub")),
            None => return Err(TokenError::MissingClaim("sub")),
        };
        let token_use = match claims.get("token_use") {
            None => return Err(TokenError::MissingClaim("token_use")),
            Some(Value::String(s)) if s == "id" => TokenUse::Id,
            Some(Value::String(s)) if s == "access" => TokenUse::Access,
            Some(_) => return Err(TokenError::WrongTokenUse),
        };
        let allowed = |id: &str| self.config.client_ids.iter().any(|c| c == id);
        let client_ok = match token_use {
            TokenUse::Id => match claims.get("aud") {
                None => return Err(TokenError::MissingClaim("aud")),
                Some(Value::String(aud)) => allowed(aud),
                Some(Value::Array(auds)) => auds.iter().filter_map(Value::as_str).any(allowed),
                Some(_) => return Err(TokenError::InvalidClaim("aud")),
            },
            TokenUse::Access => match claims.get("client_id") {
                None => return Err(TokenError::MissingClaim("client_id")),
                Some(Value::String(id)) => allowed(id),
                Some(_) => return Err(TokenError::InvalidClaim("client_id")),
            },
        };
        if !client_ok {
            return Err(TokenError::WrongClient);
        }
        Ok(VerifiedToken { sub, token_use, claims })
    }

    async fn key_for(&self, kid: &str) -> Result<DecodingKey, TokenError> {
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let _guard = self.fetch_lock.lock().await;
        // Another request may have refreshed the keys while this one waited.
        if let Some(key) = self.cached_key(kid) {
            return Ok(key);
        }
        let (last_fetch, failed) = {
            let cache = self.read_cache();
            (cache.last_fetch, cache.last_fetch_failed)
        };
        let may_fetch = last_fetch.is_none_or(|at| at.elapsed() >= self.options.refetch_interval);
        if !may_fetch {
            return Err(if failed {
                TokenError::KeysUnavailable(JwksError::Backoff)
            } else {
                TokenError::UnknownKey
            });
        }
        let fetched = self.fetch_keys().await;
        let mut cache = self.cache.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        cache.last_fetch = Some(Instant::now());
        match fetched {
            Ok(keys) => {
                tracing::debug!(keys = keys.len(), "fetched user pool signing keys");
                cache.last_fetch_failed = false;
                cache.keys = Arc::new(keys);
                cache.keys.get(kid).cloned().ok_or(TokenError::UnknownKey)
            }
            Err(error) => {
                tracing::warn!(error = %error, jwks_url = %self.config.jwks_url, "fetching user pool signing keys failed");
                cache.last_fetch_failed = true;
                Err(TokenError::KeysUnavailable(error))
            }
        }
    }

    fn read_cache(&self) -> std::sync::RwLockReadGuard<'_, KeyCache> {
        self.cache.read().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn cached_key(&self, kid: &str) -> Option<DecodingKey> {
        self.read_cache().keys.get(kid).cloned()
    }

    async fn fetch_keys(&self) -> Result<HashMap<String, DecodingKey>, JwksError> {
        let body = self
            .http
            .get(&self.config.jwks_url)
            .send()
            .await?
            .error_for_status()?
            .bytes()
            .await?;
        parse_jwks(&body)
    }
}

/// Reads the `kid` of an RS256 header without trusting anything else in the token.
fn header_key_id(token: &str) -> Result<String, TokenError> {
    let mut parts = token.split('.');
    let (Some(header), Some(_), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(TokenError::Malformed);
    };
    let header = URL_SAFE_NO_PAD.decode(header).map_err(|_| TokenError::Malformed)?;
    let header: Map<String, Value> = serde_json::from_slice(&header).map_err(|_| TokenError::Malformed)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(TokenError::UnsupportedAlgorithm);
    }
    match header.get("kid") {
        Some(Value::String(kid)) if !kid.is_empty() => Ok(kid.clone()),
        _ => Err(TokenError::MissingKeyId),
    }
}

/// Keeps the RSA signing keys of a JWKS that may be used for RS256; skips anything else.
fn parse_jwks(body: &[u8]) -> Result<HashMap<String, DecodingKey>, JwksError> {
    #[derive(serde::Deserialize)]
    struct Document {
        keys: Vec<Value>,
    }
    let document: Document = serde_json::from_slice(body)?;
    let keys = document
        .keys
        .into_iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
        .filter(|jwk| matches!(jwk.algorithm, AlgorithmParameters::RSA(_)))
        .filter(|jwk| {
            matches!(jwk.common.key_algorithm, None | Some(KeyAlgorithm::RS256))
                && matches!(jwk.common.public_key_use, None | Some(PublicKeyUse::Signature))
        })
        .filter_map(|jwk| {
            let kid = jwk.common.key_id.clone()?;
            DecodingKey::from_jwk(&jwk).ok().map(|key| (kid, key))
        })
        .collect();
    Ok(keys)
}

fn map_jwt_error(kind: &jsonwebtoken::errors::ErrorKind) -> TokenError {
    use jsonwebtoken::errors::ErrorKind;
    match kind {
        ErrorKind::InvalidSignature | ErrorKind::InvalidRsaKey(_) => TokenError::BadSignature,
        ErrorKind::InvalidAlgorithm | ErrorKind::UnsupportedAlgorithm => TokenError::UnsupportedAlgorithm,
        ErrorKind::ExpiredSignature => TokenError::Expired,
        ErrorKind::ImmatureSignature => TokenError::NotYetValid,
        ErrorKind::InvalidIssuer => TokenError::WrongIssuer,
        ErrorKind::MissingRequiredClaim(claim) => match claim.as_str() {
            "exp" => TokenError::MissingClaim("exp"),
            "iss" => TokenError::MissingClaim("iss"),
            "sub" => TokenError::MissingClaim("sub"),
            _ => TokenError::Malformed,
        },
        ErrorKind::InvalidClaimFormat(claim) => match claim.as_str() {
            "exp" => TokenError::InvalidClaim("exp"),
            "nbf" => TokenError::InvalidClaim("nbf"),
            "iss" => TokenError::InvalidClaim("iss"),
            "sub" => TokenError::InvalidClaim("sub"),
            _ => TokenError::Malformed,
        },
        _ => TokenError::Malformed,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use jsonwebtoken::{EncodingKey, Header};
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const SIGNING_KEY: &str = include_str!("../tests/fixtures/jwt-signing-key.pem");
    const FORGER_KEY: &str = include_str!("../tests/fixtures/jwt-forger-key.pem");
    const KID: &str = "CognitoLocal";
    const CLIENT: &str = "client-allowed";

    /// A JWKS endpoint on 127.0.0.1 that counts its requests and can change its document.
    struct JwksServer {
        url: String,
        hits: Arc<AtomicUsize>,
        document: Arc<RwLock<String>>,
    }

    impl JwksServer {
        async fn start(document: Value) -> Self {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let url = format!("http://{}/pool/.well-known/jwks.json", listener.local_addr().unwrap());
            let hits = Arc::new(AtomicUsize::new(0));
            let document = Arc::new(RwLock::new(document.to_string()));
            let (served_hits, served_document) = (hits.clone(), document.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((mut socket, _)) = listener.accept().await else {
                        return;
                    };
                    served_hits.fetch_add(1, Ordering::SeqCst);
                    let body = served_document.read().unwrap().clone();
                    tokio::spawn(async move {
                        let mut request = vec![0_u8; 4096];
                        let _ = socket.read(&mut request).await;
                        let response = format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        );
                        let _ = socket.write_all(response.as_bytes()).await;
                        let _ = socket.shutdown().await;
                    });
                }
            });
            Self { url, hits, document }
        }

        fn hits(&self) -> usize {
            self.hits.load(Ordering::SeqCst)
        }
    }

    fn jwk(pem: &str, kid: &str) -> Value {
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
        jwk["kid"] = json!(kid);
        jwk["use"] = json!("sig");
        jwk
    }

    fn issuer() -> String {
        "http://127.0.0.1:9229/local_pool".to_owned()
    }

    fn verifier(server: &JwksServer, refetch_interval: Duration) -> TokenVerifier {
        TokenVerifier::with_options(
            TokenConfig {
                issuer: issuer(),
                jwks_url: server.url.clone(),
                client_ids: vec!["another-client".to_owned(), CLIENT.to_owned()],
            },
            VerifierOptions {
                refetch_interval,
                ..VerifierOptions::default()
            },
        )
    }

    async fn pool() -> JwksServer {
        JwksServer::start(json!({ "keys": [jwk(SIGNING_KEY, KID)] })).await
    }

    fn now() -> i64 {
        i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
    }

    fn id_claims() -> Value {
        json!({
            "sub": "5f1c6a2e-0000-4000-8000-000000000001",
            "aud": CLIENT,
            "email_verified": true,
            "token_use": "id",
            "auth_time": now(),
            "iss": issuer(),
            "cognito:username": "5f1c6a2e-0000-4000-8000-000000000001",
            "exp": now() + 3600,
            "iat": now(),
            "email": "ada@example.com",
        })
    }

    fn access_claims() -> Value {
        json!({
            "sub": "5f1c6a2e-0000-4000-8000-000000000001",
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "auth_time": now(),
            "iss": issuer(),
            "exp": now() + 3600,
            "iat": now(),
            "jti": "0b1e6c52-0000-4000-8000-000000000002",
            "client_id": CLIENT,
            "username": "5f1c6a2e-0000-4000-8000-000000000001",
        })
    }

    fn sign_with(pem: &str, kid: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
    }

    fn sign(claims: &Value) -> String {
        sign_with(SIGNING_KEY, KID, claims)
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    fn without(mut claims: Value, key: &str) -> Value {
        claims.as_object_mut().unwrap().remove(key);
        claims
    }

    #[tokio::test]
    async fn accepts_a_good_id_token() {
        let server = pool().await;
        let verified = verifier(&server, Duration::from_secs(60))
            .verify(&sign(&id_claims()))
            .await
            .unwrap();
        assert_eq!(verified.sub, "5f1c6a2e-0000-4000-8000-000000000001");
        assert_eq!(verified.token_use, TokenUse::Id);
        assert_eq!(verified.claims["email"], "ada@example.com");
    }

    #[tokio::test]
    async fn accepts_a_good_access_token() {
        let server = pool().await;
        let verified = verifier(&server, Duration::from_secs(60))
            .verify(&sign(&access_claims()))
            .await
            .unwrap();
        assert_eq!(verified.token_use, TokenUse::Access);
        assert_eq!(verified.claims["client_id"], CLIENT);
    }

    #[tokio::test]
    async fn fetches_the_jwks_once_and_caches_it() {
        let server = pool().await;
        let verifier = verifier(&server, Duration::ZERO);
        for _ in 0..3 {
            verifier.verify(&sign(&id_claims())).await.unwrap();
        }
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn rejects_a_forged_signature() {
        let server = pool().await;
        let token = sign_with(FORGER_KEY, KID, &id_claims());
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::BadSignature), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_tampered_claims() {
        let server = pool().await;
        let token = sign(&id_claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged_claims = URL_SAFE_NO_PAD.encode(with(id_claims(), "sub", json!("someone-else")).to_string());
        parts[1] = &forged_claims;
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&parts.join("."))
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::BadSignature), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_an_expired_token() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "exp", json!(now() - 120)));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::Expired), "{error:?}");
    }

    #[tokio::test]
    async fn accepts_a_token_expired_within_the_leeway() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "exp", json!(now() - 5)));
        verifier(&server, Duration::from_secs(60)).verify(&token).await.unwrap();
    }

    #[tokio::test]
    async fn rejects_a_token_without_exp() {
        let server = pool().await;
        let token = sign(&without(id_claims(), "exp"));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::MissingClaim("exp")), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_a_token_issued_in_the_future() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "iat", json!(now() + 3600)));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::NotYetValid), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_a_token_not_valid_before_a_future_time() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "nbf", json!(now() + 3600)));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::NotYetValid), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_a_wrong_issuer() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "iss", json!("http://127.0.0.1:9229/other_pool")));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::WrongIssuer), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_an_id_token_for_another_client() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "aud", json!("client-elsewhere")));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::WrongClient), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_an_access_token_for_another_client() {
        let server = pool().await;
        let token = sign(&with(access_claims(), "client_id", json!("client-elsewhere")));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::WrongClient), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_an_access_token_that_only_names_the_client_in_aud() {
        let server = pool().await;
        let token = sign(&with(without(access_claims(), "client_id"), "aud", json!(CLIENT)));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::MissingClaim("client_id")), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_a_token_without_token_use() {
        let server = pool().await;
        let token = sign(&without(id_claims(), "token_use"));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::MissingClaim("token_use")), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_an_unknown_token_use() {
        let server = pool().await;
        let token = sign(&with(id_claims(), "token_use", json!("refresh")));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::WrongTokenUse), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_a_token_without_sub() {
        let server = pool().await;
        let token = sign(&without(id_claims(), "sub"));
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::MissingClaim("sub")), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_hs256_signed_with_the_public_key() {
        let server = pool().await;
        let public_key = server.document.read().unwrap().clone();
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(KID.to_owned());
        let token = jsonwebtoken::encode(
            &header,
            &id_claims(),
            &EncodingKey::from_secret(public_key.as_bytes()).unwrap(),
        )
        .unwrap();
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::UnsupportedAlgorithm), "{error:?}");
        assert_eq!(server.hits(), 0);
    }

    #[tokio::test]
    async fn rejects_alg_none() {
        let server = pool().await;
        let header = URL_SAFE_NO_PAD.encode(json!({ "alg": "none", "kid": KID }).to_string());
        let claims = URL_SAFE_NO_PAD.encode(id_claims().to_string());
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&format!("{header}.{claims}."))
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::UnsupportedAlgorithm), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_garbage() {
        let server = pool().await;
        let verifier = verifier(&server, Duration::from_secs(60));
        for token in ["", "abc", "a.b.c", "a.b.c.d", "Bearer x.y.z"] {
            let error = verifier.verify(token).await.unwrap_err();
            assert!(matches!(error, TokenError::Malformed), "{error:?}");
        }
    }

    #[tokio::test]
    async fn rejects_a_token_without_kid() {
        let server = pool().await;
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &id_claims(),
            &EncodingKey::from_rsa_pem(SIGNING_KEY.as_bytes()).unwrap(),
        )
        .unwrap();
        let error = verifier(&server, Duration::from_secs(60))
            .verify(&token)
            .await
            .unwrap_err();
        assert!(matches!(error, TokenError::MissingKeyId), "{error:?}");
    }

    #[tokio::test]
    async fn rejects_an_unknown_kid_after_one_refetch_and_rate_limits_further_fetches() {
        let server = pool().await;
        let verifier = verifier(&server, Duration::from_millis(300));
        verifier.verify(&sign(&id_claims())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(350)).await;
        let stranger = sign_with(SIGNING_KEY, "unknown-kid", &id_claims());

        let first = verifier.verify(&stranger).await.unwrap_err();
        let second = verifier.verify(&stranger).await.unwrap_err();

        assert!(matches!(first, TokenError::UnknownKey), "{first:?}");
        assert!(matches!(second, TokenError::UnknownKey), "{second:?}");
        assert_eq!(server.hits(), 2, "one refetch for the unknown kid, none for the retry");
    }

    #[tokio::test]
    async fn does_not_refetch_within_the_interval() {
        let server = pool().await;
        let verifier = verifier(&server, Duration::from_secs(3600));
        verifier.verify(&sign(&id_claims())).await.unwrap();
        let stranger = sign_with(SIGNING_KEY, "unknown-kid", &id_claims());

        let error = verifier.verify(&stranger).await.unwrap_err();

        assert!(matches!(error, TokenError::UnknownKey), "{error:?}");
        assert_eq!(server.hits(), 1);
    }

    #[tokio::test]
    async fn refetches_once_on_an_unknown_kid_when_the_interval_allows() {
        let server = pool().await;
        let verifier = verifier(&server, Duration::ZERO);
        verifier.verify(&sign(&id_claims())).await.unwrap();
        let stranger = sign_with(SIGNING_KEY, "unknown-kid", &id_claims());

        let error = verifier.verify(&stranger).await.unwrap_err();

        assert!(matches!(error, TokenError::UnknownKey), "{error:?}");
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn picks_up_a_rotated_key_on_refetch() {
        let server = pool().await;
        let verifier = verifier(&server, Duration::ZERO);
        verifier.verify(&sign(&id_claims())).await.unwrap();
        *server.document.write().unwrap() =
            json!({ "keys": [jwk(SIGNING_KEY, KID), jwk(FORGER_KEY, "rotated")] }).to_string();

        let verified = verifier
            .verify(&sign_with(FORGER_KEY, "rotated", &id_claims()))
            .await
            .unwrap();

        assert_eq!(verified.token_use, TokenUse::Id);
        assert_eq!(server.hits(), 2);
    }

    #[tokio::test]
    async fn reports_unreachable_keys_as_unavailable_not_unauthorized() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        drop(listener);
        let verifier = TokenVerifier::new(TokenConfig {
            issuer: issuer(),
            jwks_url: url,
            client_ids: vec![CLIENT.to_owned()],
        });

        let error = verifier.verify(&sign(&id_claims())).await.unwrap_err();

        assert!(matches!(error, TokenError::KeysUnavailable(_)), "{error:?}");
        assert!(!error.is_unauthorized());
    }

    #[tokio::test]
    async fn ignores_keys_that_are_not_rs256_signing_keys() {
        let mut encryption_key = jwk(SIGNING_KEY, KID);
        encryption_key["use"] = json!("enc");
        let server = JwksServer::start(json!({ "keys": [
            { "kty": "oct", "kid": "hmac", "k": "c2VjcmV0" },
            encryption_key,
        ] }))
        .await;

        let error = verifier(&server, Duration::from_secs(60))
            .verify(&sign(&id_claims()))
            .await
            .unwrap_err();

        assert!(matches!(error, TokenError::UnknownKey), "{error:?}");
    }

    #[test]
    fn error_messages_never_contain_the_token() {
        let token = sign(&id_claims());
        for error in [TokenError::Malformed, TokenError::BadSignature, TokenError::WrongClient] {
            assert!(!error.to_string().contains(&token));
            assert!(!format!("{error:?}").contains(&token));
        }
    }
}
