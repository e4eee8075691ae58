//! A minimal Cognito Identity Provider client speaking the AWS JSON 1.1 wire protocol
//! (`POST /`, `X-Amz-Target: AWSCognitoIdentityProviderService.<Op>`,
//! `Content-Type: application/x-amz-json-1.1`), used by the bootstrap, the integration tests and
//! the dev walkthrough against cognito-local.
//!
//! Requests are unsigned: cognito-local ignores signatures. The public operations (`SignUp`,
//! `ConfirmSignUp`, `InitiateAuth`, `GetUser`) are unsigned on AWS too, so those also work
//! against a deployed pool's `https://cognito-idp.<region>.amazonaws.com/`; the admin and pool
//! management operations need `SigV4` there and are for the local stand-in only.
//!
//! # What cognito-local 5.3.0 issues (checked by the tests below)
//!
//! - Header of id and access tokens: `{"alg":"RS256","typ":"JWT","kid":"CognitoLocal"}`. The
//!   refresh token is an RS256 JWT without `kid` (on AWS it is opaque): never parse it.
//! - `iss` = `TokenConfig.IssuerDomain` + `/` + pool id = `http://127.0.0.1:<port>/<poolId>`
//!   (see [`crate::services::Services::cognito_issuer`]); pool ids look like `local_AbC12xYz`.
//! - JWKS: `GET http://127.0.0.1:<port>/<poolId>/.well-known/jwks.json`, one static RSA key
//!   (`kid` `CognitoLocal`) for every pool and any path segment; its private key ships in the npm
//!   package, so local tokens prove nothing outside the local stack. Its
//!   `openid-configuration` always names `localhost:9229`: configure issuer and JWKS explicitly.
//! - Id token claims: `sub`, `aud` (the app client id), `iss`, `token_use` = `"id"`, `exp`, `iat`,
//!   `auth_time`, `cognito:username` (= `sub`, as the pool signs in by email), `email`,
//!   `email_verified` (false even after confirmation, unlike AWS), `event_id`, `jti`, any
//!   `custom:*` attributes, `cognito:groups`, plus whatever `PreTokenGeneration` adds.
//!   `preferred_username` is NOT copied into the id token (AWS does copy it): a handle claim
//!   exists only if the trigger adds it.
//! - Access token claims: `sub`, `client_id` (no `aud`), `iss`, `token_use` = `"access"`, `exp`,
//!   `iat`, `auth_time`, `scope` = `"aws.cognito.signin.user.admin"`, `username` (= `sub`),
//!   `event_id`, `jti`. No `origin_jti` or `version`.
//! - `exp` = `iat` + the client's validity (we create clients with 60 minutes for id and access
//!   tokens like AWS's defaults; cognito-local's own default is 24 h).
//! - `InitiateAuth` answers carry no `ExpiresIn` (AWS's do): [`AuthTokens::expires_in`] is `None`.
//! - Error differences: a wrong password is `InvalidPasswordException` (AWS:
//!   `NotAuthorizedException`); an unknown user is `NotAuthorizedException` as on AWS, because
//!   the bootstrap's client sets `PreventUserExistenceErrors`; an unreachable trigger endpoint (or
//!   three 5xx answers) fails the operation with `UnexpectedLambdaExceptionException`; a
//!   trigger's function error becomes `UserLambdaValidationException` as on AWS.
//! - Trigger events (samples in `events/auth-hooks/`) say `"version": "0"`, `"region": "local"`
//!   and omit `clientMetadata`; otherwise they have Cognito's shape.

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A Cognito Identity Provider client for one endpoint (e.g. `http://127.0.0.1:9229`).
#[derive(Debug, Clone)]
pub struct CognitoClient {
    http: reqwest::Client,
    endpoint: String,
}

/// The well-known Cognito error types, parsed from `__type` (any `namespace#` prefix dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CognitoErrorKind {
    /// `UsernameExistsException`: sign-up with an email already registered.
    UsernameExists,
    /// `CodeMismatchException`: wrong confirmation code.
    CodeMismatch,
    /// `ExpiredCodeException`.
    ExpiredCode,
    /// `NotAuthorizedException`: wrong credentials (AWS), bad or revoked tokens.
    NotAuthorized,
    /// `UserNotConfirmedException`: sign-in before confirmation.
    UserNotConfirmed,
    /// `UserNotFoundException`.
    UserNotFound,
    /// `InvalidPasswordException`: password policy; also cognito-local's wrong password.
    InvalidPassword,
    /// `InvalidParameterException`.
    InvalidParameter,
    /// `ResourceNotFoundException`: unknown pool or client.
    ResourceNotFound,
    /// `UserLambdaValidationException`: a trigger returned a function error (rejected).
    UserLambdaValidation,
    /// `UnexpectedLambdaException`(`Exception`): the trigger could not be invoked.
    UnexpectedLambda,
    /// `InvalidLambdaResponseException`: the trigger's answer was not a usable event.
    InvalidLambdaResponse,
    /// `TooManyRequestsException` or `LimitExceededException`.
    Throttled,
    /// cognito-local's `CognitoLocal#Unsupported`: an operation it does not implement.
    Unsupported,
    /// Anything else; see [`CognitoError::Service::error_type`].
    Other,
}

impl CognitoErrorKind {
    /// Maps the short error type (`CodeMismatchException`) to a kind.
    pub fn from_type(error_type: &str) -> Self {
        match error_type {
            "UsernameExistsException" => Self::UsernameExists,
            "CodeMismatchException" => Self::CodeMismatch,
            "ExpiredCodeException" => Self::ExpiredCode,
            "NotAuthorizedException" => Self::NotAuthorized,
            "UserNotConfirmedException" => Self::UserNotConfirmed,
            "UserNotFoundException" => Self::UserNotFound,
            "InvalidPasswordException" => Self::InvalidPassword,
            "InvalidParameterException" => Self::InvalidParameter,
            "ResourceNotFoundException" => Self::ResourceNotFound,
            "UserLambdaValidationException" => Self::UserLambdaValidation,
            "UnexpectedLambdaException" | "UnexpectedLambdaExceptionException" => Self::UnexpectedLambda,
            "InvalidLambdaResponseException" => Self::InvalidLambdaResponse,
            "TooManyRequestsException" | "LimitExceededException" => Self::Throttled,
            "Unsupported" => Self::Unsupported,
            _ => Self::Other,
        }
    }
}

/// Why a Cognito call failed.
#[derive(Debug)]
pub enum CognitoError {
    /// The service answered with an error body `{"__type": ..., "message": ...}`.
    Service {
        /// HTTP status of the answer.
        status: u16,
        /// The parsed kind.
        kind: CognitoErrorKind,
        /// The short error type, e.g. `CodeMismatchException`.
        error_type: String,
        /// The service's message.
        message: String,
    },
    /// `InitiateAuth` answered with a challenge (e.g. `NEW_PASSWORD_REQUIRED`) instead of tokens.
    Challenge {
        /// `ChallengeName` from the answer.
        name: String,
    },
    /// The request did not complete (connection refused, timeout, ...).
    Transport(reqwest::Error),
    /// The answer was not what the operation returns.
    UnexpectedResponse {
        /// The operation called.
        operation: &'static str,
        /// What was wrong.
        detail: String,
    },
}

impl CognitoError {
    /// The kind of a service error, `None` for the other variants.
    pub fn kind(&self) -> Option<CognitoErrorKind> {
        match self {
            Self::Service { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

impl fmt::Display for CognitoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Service {
                status,
                error_type,
                message,
                ..
            } => write!(f, "cognito: {error_type} ({status}): {message}"),
            Self::Challenge { name } => write!(f, "cognito: sign-in needs challenge {name}"),
            Self::Transport(e) => write!(f, "cognito: request failed: {e}"),
            Self::UnexpectedResponse { operation, detail } => {
                write!(f, "cognito: unexpected {operation} response: {detail}")
            }
        }
    }
}

impl std::error::Error for CognitoError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Transport(e) => Some(e),
            _ => None,
        }
    }
}

impl From<reqwest::Error> for CognitoError {
    fn from(e: reqwest::Error) -> Self {
        Self::Transport(e)
    }
}

/// A created user pool.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPool {
    /// Pool id, e.g. `local_AbC12xYz` (cognito-local) or `us-east-1_AbC12xYz` (AWS).
    pub id: String,
    /// Pool name.
    pub name: String,
    /// Pool ARN.
    #[serde(default)]
    pub arn: Option<String>,
}

/// A created app client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPoolClient {
    /// App client id: the `aud` of id tokens and `client_id` of access tokens.
    pub client_id: String,
    /// App client name.
    pub client_name: String,
    /// The pool it belongs to.
    pub user_pool_id: String,
}

/// A pool as listed by `ListUserPools`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPoolSummary {
    /// Pool id.
    pub id: String,
    /// Pool name.
    pub name: String,
}

/// An app client as listed by `ListUserPoolClients`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserPoolClientSummary {
    /// App client id.
    pub client_id: String,
    /// App client name.
    pub client_name: String,
}

/// The answer to `SignUp`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SignUpOutput {
    /// The new user's `sub`: their user id everywhere in Cosmos.
    pub user_sub: String,
    /// True when a `PreSignUp` trigger auto-confirmed the user.
    pub user_confirmed: bool,
}

/// Tokens from a successful sign-in or refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct AuthTokens {
    /// The id token (`aud` = client id; what the HTTP API's JWT authorizer takes).
    pub id_token: String,
    /// The access token (`client_id` claim, `token_use` = `access`).
    pub access_token: String,
    /// The refresh token (for a refresh, the one that was presented: it is not rotated).
    pub refresh_token: String,
    /// Seconds until the access token expires, when the service says (AWS does; cognito-local
    /// does not: read `exp` from the token instead).
    pub expires_in: Option<i64>,
}

impl fmt::Debug for AuthTokens {
    // Tokens never reach logs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthTokens")
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// The answer to `GetUser`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserInfo {
    /// The username (the `sub` in an email-username pool).
    pub username: String,
    /// Attributes by name (`sub`, `email`, `preferred_username`, ...).
    pub attributes: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AttributeWire {
    name: String,
    #[serde(default)]
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AuthResultWire {
    id_token: String,
    access_token: String,
    #[serde(default)]
    refresh_token: Option<String>,
    #[serde(default)]
    expires_in: Option<i64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct InitiateAuthWire {
    #[serde(default)]
    authentication_result: Option<AuthResultWire>,
    #[serde(default)]
    challenge_name: Option<String>,
}

impl CognitoClient {
    /// A client for `endpoint` (scheme, host and port; no path). Loopback endpoints bypass any
    /// HTTP proxy configured in the environment.
    pub fn new(endpoint: impl Into<String>) -> Self {
        let endpoint = endpoint.into().trim_end_matches('/').to_owned();
        let loopback = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
            .iter()
            .any(|p| endpoint.starts_with(p));
        let mut builder = reqwest::Client::builder().timeout(std::time::Duration::from_secs(30));
        if loopback {
            builder = builder.no_proxy();
        }
        // Building a client only fails when the TLS backend cannot initialise; fall back to the
        // default client then, which reports the same problem on first use.
        let http = builder.build().unwrap_or_default();
        Self { http, endpoint }
    }

    /// The endpoint this client talks to.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Calls `operation` (e.g. `"DescribeUserPool"`) with a JSON body and returns the JSON answer.
    pub async fn call(&self, operation: &'static str, body: &Value) -> Result<Value, CognitoError> {
        self.call_as(operation, body).await
    }

    async fn call_as<T: DeserializeOwned>(&self, operation: &'static str, body: &Value) -> Result<T, CognitoError> {
        let response = self
            .http
            .post(format!("{}/", self.endpoint))
            .header("X-Amz-Target", format!("{TARGET_PREFIX}{operation}"))
            .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
            .body(body.to_string())
            .send()
            .await?;
        let status = response.status();
        let bytes = response.bytes().await?;
        if !status.is_success() {
            return Err(service_error(status.as_u16(), &bytes));
        }
        let bytes: &[u8] = if bytes.is_empty() { b"{}" } else { &bytes };
        serde_json::from_slice(bytes).map_err(|e| CognitoError::UnexpectedResponse {
            operation,
            detail: e.to_string(),
        })
    }

    /// `CreateUserPool` with the given request body (see `bootstrap::user_pool_request`).
    pub async fn create_user_pool(&self, request: &Value) -> Result<UserPool, CognitoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            user_pool: UserPool,
        }
        let out: Out = self.call_as("CreateUserPool", request).await?;
        Ok(out.user_pool)
    }

    /// `CreateUserPoolClient` with the given request body (see
    /// `bootstrap::user_pool_client_request`).
    pub async fn create_user_pool_client(&self, request: &Value) -> Result<UserPoolClient, CognitoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            user_pool_client: UserPoolClient,
        }
        let out: Out = self.call_as("CreateUserPoolClient", request).await?;
        Ok(out.user_pool_client)
    }

    /// `ListUserPools`, all pages.
    pub async fn list_user_pools(&self) -> Result<Vec<UserPoolSummary>, CognitoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            #[serde(default)]
            user_pools: Vec<UserPoolSummary>,
            #[serde(default)]
            next_token: Option<String>,
        }
        let mut pools = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({ "MaxResults": 60 });
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let out: Out = self.call_as("ListUserPools", &body).await?;
            pools.extend(out.user_pools);
            match out.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => return Ok(pools),
            }
        }
    }

    /// `ListUserPoolClients` of one pool, all pages.
    pub async fn list_user_pool_clients(&self, user_pool_id: &str) -> Result<Vec<UserPoolClientSummary>, CognitoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            #[serde(default)]
            user_pool_clients: Vec<UserPoolClientSummary>,
            #[serde(default)]
            next_token: Option<String>,
        }
        let mut clients = Vec::new();
        let mut next: Option<String> = None;
        loop {
            let mut body = json!({ "UserPoolId": user_pool_id, "MaxResults": 60 });
            if let Some(token) = &next {
                body["NextToken"] = json!(token);
            }
            let out: Out = self.call_as("ListUserPoolClients", &body).await?;
            clients.extend(out.user_pool_clients);
            match out.next_token {
                Some(token) if !token.is_empty() => next = Some(token),
                _ => return Ok(clients),
            }
        }
    }

    /// `SignUp` with the email as username and the handle as `preferred_username`.
    /// Fires `PreSignUp` (which may reject: [`CognitoErrorKind::UserLambdaValidation`]).
    pub async fn sign_up(
        &self,
        client_id: &str,
        email: &str,
        password: &str,
        handle: &str,
    ) -> Result<SignUpOutput, CognitoError> {
        let body = json!({
            "ClientId": client_id,
            "Username": email,
            "Password": password,
            "UserAttributes": [
                { "Name": "email", "Value": email },
                { "Name": "preferred_username", "Value": handle },
            ],
        });
        self.call_as("SignUp", &body).await
    }

    /// `ConfirmSignUp` with the emailed code (locally always
    /// [`crate::services::CONFIRMATION_CODE`]). Fires `PostConfirmation_ConfirmSignUp`.
    pub async fn confirm_sign_up(&self, client_id: &str, email: &str, code: &str) -> Result<(), CognitoError> {
        let body = json!({ "ClientId": client_id, "Username": email, "ConfirmationCode": code });
        self.call_as::<Value>("ConfirmSignUp", &body).await?;
        Ok(())
    }

    /// `AdminConfirmSignUp` (no code). Fires `PostConfirmation_ConfirmSignUp`.
    pub async fn admin_confirm_sign_up(&self, user_pool_id: &str, email: &str) -> Result<(), CognitoError> {
        let body = json!({ "UserPoolId": user_pool_id, "Username": email });
        self.call_as::<Value>("AdminConfirmSignUp", &body).await?;
        Ok(())
    }

    /// `InitiateAuth` with `USER_PASSWORD_AUTH`. Fires `PreTokenGeneration`.
    pub async fn initiate_auth(
        &self,
        client_id: &str,
        email: &str,
        password: &str,
    ) -> Result<AuthTokens, CognitoError> {
        let body = json!({
            "ClientId": client_id,
            "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": { "USERNAME": email, "PASSWORD": password },
        });
        let result = self.auth(&body).await?;
        let refresh_token = result.refresh_token.ok_or_else(|| CognitoError::UnexpectedResponse {
            operation: "InitiateAuth",
            detail: "no RefreshToken in AuthenticationResult".to_owned(),
        })?;
        Ok(AuthTokens {
            id_token: result.id_token,
            access_token: result.access_token,
            refresh_token,
            expires_in: result.expires_in,
        })
    }

    /// `InitiateAuth` with `REFRESH_TOKEN_AUTH`: new id and access tokens.
    pub async fn refresh_tokens(&self, client_id: &str, refresh_token: &str) -> Result<AuthTokens, CognitoError> {
        let body = json!({
            "ClientId": client_id,
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "AuthParameters": { "REFRESH_TOKEN": refresh_token },
        });
        let result = self.auth(&body).await?;
        Ok(AuthTokens {
            id_token: result.id_token,
            access_token: result.access_token,
            refresh_token: result.refresh_token.unwrap_or_else(|| refresh_token.to_owned()),
            expires_in: result.expires_in,
        })
    }

    async fn auth(&self, body: &Value) -> Result<AuthResultWire, CognitoError> {
        let out: InitiateAuthWire = self.call_as("InitiateAuth", body).await?;
        match (out.authentication_result, out.challenge_name) {
            (Some(result), _) => Ok(result),
            (None, Some(name)) => Err(CognitoError::Challenge { name }),
            (None, None) => Err(CognitoError::UnexpectedResponse {
                operation: "InitiateAuth",
                detail: "neither AuthenticationResult nor ChallengeName".to_owned(),
            }),
        }
    }

    /// `GetUser` for an access token.
    pub async fn get_user(&self, access_token: &str) -> Result<UserInfo, CognitoError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Out {
            username: String,
            #[serde(default)]
            user_attributes: Vec<AttributeWire>,
        }
        let out: Out = self.call_as("GetUser", &json!({ "AccessToken": access_token })).await?;
        Ok(UserInfo {
            username: out.username,
            attributes: out
                .user_attributes
                .into_iter()
                .map(|a| (a.name, a.value.unwrap_or_default()))
                .collect(),
        })
    }
}

/// Builds the typed error from an error answer. AWS sends `__type` as
/// `com.amazonaws...#CodeMismatchException` or plain; some errors carry `Message` instead of
/// `message`; a missing body still yields an error with the status.
fn service_error(status: u16, body: &[u8]) -> CognitoError {
    let parsed: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let raw_type = parsed.get("__type").and_then(Value::as_str).unwrap_or("UnknownError");
    let error_type = raw_type.rsplit('#').next().unwrap_or(raw_type).to_owned();
    let message = parsed
        .get("message")
        .or_else(|| parsed.get("Message"))
        .and_then(Value::as_str)
        .map_or_else(|| String::from_utf8_lossy(body).into_owned(), ToOwned::to_owned);
    CognitoError::Service {
        status,
        kind: CognitoErrorKind::from_type(&error_type),
        error_type,
        message,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::services::test_support::{LambdaStub, TestDir, start_services};
    use crate::services::{CONFIRMATION_CODE, Services};
    use jsonwebtoken::jwk::JwkSet;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};

    const PASSWORD: &str = "Correct-horse-1";

    fn header_of(token: &str) -> jsonwebtoken::Header {
        jsonwebtoken::decode_header(token).expect("a JWT header")
    }

    async fn pool(services: &Services) -> (CognitoClient, String, String) {
        let cognito = CognitoClient::new(&services.cognito_endpoint);
        let (pool_id, client_id) = crate::bootstrap::ensure_user_pool(&cognito, "test", "web")
            .await
            .expect("pool");
        (cognito, pool_id, client_id)
    }

    async fn verify(services: &Services, pool_id: &str, token: &str, audience: Option<&str>) -> Value {
        let jwks: JwkSet = reqwest::Client::builder()
            .no_proxy()
            .build()
            .unwrap()
            .get(services.cognito_jwks_url(pool_id))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let kid = header_of(token).kid.expect("kid");
        let jwk = jwks.find(&kid).expect("kid in the JWKS");
        let key = DecodingKey::from_jwk(jwk).unwrap();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_issuer(&[services.cognito_issuer(pool_id)]);
        match audience {
            Some(aud) => validation.set_audience(&[aud]),
            None => validation.validate_aud = false,
        }
        jsonwebtoken::decode::<Value>(token, &key, &validation)
            .expect("token verifies against the pool's JWKS")
            .claims
    }

    #[tokio::test]
    async fn user_signs_up_confirms_with_fixed_code_and_gets_rs256_tokens() {
        let dir = TestDir::new("cognito-flow");
        let lambda = LambdaStub::start().await;
        let services = start_services(&dir, &lambda.url).await;
        let (cognito, pool_id, client_id) = pool(&services).await;

        let signed_up = cognito
            .sign_up(&client_id, "ada@example.com", PASSWORD, "ada")
            .await
            .unwrap();
        assert!(!signed_up.user_confirmed);
        cognito
            .confirm_sign_up(&client_id, "ada@example.com", CONFIRMATION_CODE)
            .await
            .unwrap();
        let tokens = cognito
            .initiate_auth(&client_id, "ada@example.com", PASSWORD)
            .await
            .unwrap();

        for token in [&tokens.id_token, &tokens.access_token] {
            let header = header_of(token);
            assert_eq!(header.alg, Algorithm::RS256);
            assert_eq!(header.kid.as_deref(), Some("CognitoLocal"));
        }
        let id = verify(&services, &pool_id, &tokens.id_token, Some(&client_id)).await;
        assert_eq!(id["token_use"], "id");
        assert_eq!(id["sub"], signed_up.user_sub.as_str());
        assert_eq!(id["aud"], client_id.as_str());
        assert_eq!(id["iss"], services.cognito_issuer(&pool_id).as_str());
        assert_eq!(id["email"], "ada@example.com");
        assert_eq!(id["cognito:username"], signed_up.user_sub.as_str());
        assert!(id.get("preferred_username").is_none(), "cognito-local omits it: {id}");
        let lifetime = id["exp"].as_i64().unwrap() - id["iat"].as_i64().unwrap();
        assert_eq!(lifetime, 3600);

        let access = verify(&services, &pool_id, &tokens.access_token, None).await;
        assert_eq!(access["token_use"], "access");
        assert_eq!(access["client_id"], client_id.as_str());
        assert_eq!(access["sub"], signed_up.user_sub.as_str());
        assert!(access.get("aud").is_none());
        let lifetime = access["exp"].as_i64().unwrap() - access["iat"].as_i64().unwrap();
        assert_eq!(lifetime, 3600);
        assert_eq!(tokens.expires_in, None, "cognito-local sends no ExpiresIn");

        let user = cognito.get_user(&tokens.access_token).await.unwrap();
        assert_eq!(user.attributes["preferred_username"], "ada");
        let refreshed = cognito.refresh_tokens(&client_id, &tokens.refresh_token).await.unwrap();
        let id = verify(&services, &pool_id, &refreshed.id_token, Some(&client_id)).await;
        assert_eq!(id["sub"], signed_up.user_sub.as_str());

        let sources: Vec<String> = lambda
            .invocations()
            .iter()
            .map(|i| format!("{} {}", i.function, i.event["triggerSource"].as_str().unwrap_or("")))
            .collect();
        assert_eq!(
            sources,
            [
                "auth-hooks PreSignUp_SignUp",
                "auth-hooks PostConfirmation_ConfirmSignUp",
                "auth-hooks TokenGeneration_Authentication",
                "auth-hooks TokenGeneration_RefreshTokens",
            ]
        );
        lambda.write_samples_if_asked();
        services.shutdown().await;
    }

    #[tokio::test]
    async fn maps_cognito_error_bodies_to_kinds() {
        let dir = TestDir::new("cognito-errors");
        let lambda = LambdaStub::start().await;
        let services = start_services(&dir, &lambda.url).await;
        let (cognito, pool_id, client_id) = pool(&services).await;
        cognito
            .sign_up(&client_id, "bob@example.com", PASSWORD, "bob")
            .await
            .unwrap();

        let again = cognito
            .sign_up(&client_id, "bob@example.com", PASSWORD, "bob")
            .await
            .unwrap_err();
        assert_eq!(again.kind(), Some(CognitoErrorKind::UsernameExists));
        let unconfirmed = cognito
            .initiate_auth(&client_id, "bob@example.com", PASSWORD)
            .await
            .unwrap_err();
        assert_eq!(unconfirmed.kind(), Some(CognitoErrorKind::UserNotConfirmed));
        let wrong_code = cognito
            .confirm_sign_up(&client_id, "bob@example.com", "000000")
            .await
            .unwrap_err();
        assert_eq!(wrong_code.kind(), Some(CognitoErrorKind::CodeMismatch));
        assert!(matches!(wrong_code, CognitoError::Service { status: 400, .. }));

        cognito
            .admin_confirm_sign_up(&pool_id, "bob@example.com")
            .await
            .unwrap();
        let wrong_password = cognito
            .initiate_auth(&client_id, "bob@example.com", "Wrong-password-1")
            .await
            .unwrap_err();
        assert_eq!(wrong_password.kind(), Some(CognitoErrorKind::InvalidPassword));
        let nobody = cognito
            .initiate_auth(&client_id, "nobody@example.com", PASSWORD)
            .await
            .unwrap_err();
        // PreventUserExistenceErrors (set by the bootstrap, as in the cloud) hides unknown users.
        assert_eq!(nobody.kind(), Some(CognitoErrorKind::NotAuthorized));
        cognito
            .initiate_auth(&client_id, "bob@example.com", PASSWORD)
            .await
            .unwrap();
        services.shutdown().await;
    }

    #[tokio::test]
    async fn sign_up_is_rejected_when_the_trigger_returns_a_function_error() {
        let dir = TestDir::new("cognito-reject");
        let lambda = LambdaStub::start_failing("handle_taken").await;
        let services = start_services(&dir, &lambda.url).await;
        let (cognito, _, client_id) = pool(&services).await;

        let err = cognito
            .sign_up(&client_id, "eve@example.com", PASSWORD, "eve")
            .await
            .unwrap_err();

        assert_eq!(err.kind(), Some(CognitoErrorKind::UserLambdaValidation));
        assert!(err.to_string().contains("handle_taken"), "{err}");
        services.shutdown().await;
    }

    #[tokio::test]
    async fn sign_up_fails_when_the_trigger_endpoint_is_unreachable() {
        let dir = TestDir::new("cognito-unreachable");
        // Nothing listens on a port we just released.
        let dead = format!(
            "http://127.0.0.1:{}",
            std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port()
        );
        let services = start_services(&dir, &dead).await;
        let (cognito, _, client_id) = pool(&services).await;

        let err = cognito
            .sign_up(&client_id, "zed@example.com", PASSWORD, "zed")
            .await
            .unwrap_err();

        assert_eq!(err.kind(), Some(CognitoErrorKind::UnexpectedLambda), "{err}");
        services.shutdown().await;
    }

    #[test]
    fn parses_namespaced_and_capitalised_error_bodies() {
        let err = service_error(
            400,
            br#"{"__type":"com.amazonaws.cognito#NotAuthorizedException","Message":"nope"}"#,
        );
        assert_eq!(err.kind(), Some(CognitoErrorKind::NotAuthorized));
        assert_eq!(err.to_string(), "cognito: NotAuthorizedException (400): nope");
        let err = service_error(500, b"");
        assert_eq!(err.kind(), Some(CognitoErrorKind::Other));
    }

    #[test]
    fn debug_of_tokens_shows_no_token() {
        let tokens = AuthTokens {
            id_token: "secret-id".into(),
            access_token: "secret-access".into(),
            refresh_token: "secret-refresh".into(),
            expires_in: Some(3600),
        };
        assert!(!format!("{tokens:?}").contains("secret"));
    }
}
