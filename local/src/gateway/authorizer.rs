//! The HTTP API's JWT authorizer: what API Gateway checks before any function runs, and how it
//! hands the verified claims to the function.
//!
//! Identity source `$request.header.Authorization`, as `Bearer <jwt>` or the bare token. A
//! missing or refused token answers `401 {"message":"Unauthorized"}` with `WWW-Authenticate`.
//! Verification is [`shared::jwt::TokenVerifier`] (issuer, signature, expiry, app client,
//! `token_use`). Claims reach the function as strings (API Gateway stringifies numbers,
//! booleans and arrays: `"[a b]"`), scopes from the `scope` claim (`null` without one).

use std::sync::Arc;

use axum::http::HeaderMap;
use serde_json::{Map, Value};
use shared::jwt::{TokenVerifier, VerifiedToken};

/// Why a request was refused before reaching its function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No `Authorization` header (or an empty one).
    MissingToken,
    /// The token failed verification.
    InvalidToken,
}

impl Refusal {
    /// The `WWW-Authenticate` value API Gateway sends with the 401.
    pub fn www_authenticate(self) -> &'static str {
        match self {
            Self::MissingToken => "Bearer",
            Self::InvalidToken => "Bearer error=\"invalid_token\"",
        }
    }
}

/// The JWT authorizer attached to every HTTP route.
#[derive(Debug, Clone)]
pub struct JwtAuthorizer {
    verifier: Arc<TokenVerifier>,
}

impl JwtAuthorizer {
    /// An authorizer that verifies with `verifier`.
    pub fn new(verifier: Arc<TokenVerifier>) -> Self {
        Self { verifier }
    }

    /// Verifies the request's token; logs why a token was refused (never the token).
    pub async fn authorize(&self, headers: &HeaderMap) -> Result<VerifiedToken, Refusal> {
        let token = bearer_token(headers).ok_or(Refusal::MissingToken)?;
        self.verifier.verify(token).await.map_err(|error| {
            if error.is_unauthorized() {
                tracing::info!(reason = %error, "JWT authorizer refused a token");
            } else {
                tracing::warn!(reason = %error, "JWT authorizer could not verify a token");
            }
            Refusal::InvalidToken
        })
    }
}

/// The token of an `Authorization` header: `Bearer <jwt>` (any case) or the bare token.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?.trim();
    let token = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        None if value.eq_ignore_ascii_case("bearer") => "",
        _ => value,
    };
    (!token.is_empty()).then_some(token)
}

/// `requestContext.authorizer.jwt` for a verified token.
pub fn jwt_context(token: &VerifiedToken) -> Value {
    serde_json::json!({
        "claims": stringify_claims(&token.claims),
        "scopes": scopes(&token.claims),
    })
}

/// Claims as API Gateway passes them: every value a string.
pub fn stringify_claims(claims: &Map<String, Value>) -> Map<String, Value> {
    claims
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(claim_string(value))))
        .collect()
}

fn claim_string(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Array(items) => {
            let items: Vec<String> = items.iter().map(claim_string).collect();
            format!("[{}]", items.join(" "))
        }
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn scopes(claims: &Map<String, Value>) -> Value {
    match claims.get("scope").and_then(Value::as_str) {
        Some(scope) => scope.split_whitespace().map(|s| Value::String(s.to_owned())).collect(),
        None => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use serde_json::json;

    fn headers(authorization: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, authorization.parse().unwrap());
        headers
    }

    #[test]
    fn reads_bearer_and_bare_tokens() {
        assert_eq!(bearer_token(&headers("Bearer a.b.c")), Some("a.b.c"));
        assert_eq!(bearer_token(&headers("bearer  a.b.c ")), Some("a.b.c"));
        assert_eq!(bearer_token(&headers("a.b.c")), Some("a.b.c"));
        assert_eq!(bearer_token(&headers("Bearer ")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn stringifies_claims_like_api_gateway() {
        let claims = json!({
            "sub": "u1", "exp": 1_700_000_000, "email_verified": true,
            "cognito:groups": ["admins", "mods"], "nothing": null
        });
        let strings = stringify_claims(claims.as_object().unwrap());
        assert_eq!(
            Value::Object(strings),
            json!({
                "sub": "u1", "exp": "1700000000", "email_verified": "true",
                "cognito:groups": "[admins mods]", "nothing": ""
            })
        );
    }

    #[test]
    fn splits_scopes_or_reports_none() {
        let access = json!({ "scope": "openid aws.cognito.signin.user.admin" });
        assert_eq!(
            scopes(access.as_object().unwrap()),
            json!(["openid", "aws.cognito.signin.user.admin"])
        );
        assert_eq!(scopes(&Map::new()), Value::Null);
    }
}
