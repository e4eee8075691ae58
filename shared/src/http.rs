//! Reading API Gateway HTTP API (payload 2.0) requests and rendering JSON responses.
//!
//! Identity comes only from the claims API Gateway's JWT authorizer verified and placed in the
//! request context (`sub`), never from a handle or username claim.

use aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use aws_lambda_events::encodings::Body;
use base64::Engine as _;
use http::header::{CONTENT_TYPE, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Largest JSON body a route accepts; anything bigger is a 413 before parsing.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// The caller's user id (Cognito `sub`) from the verified JWT claims.
pub fn caller_id(request: &ApiGatewayV2httpRequest) -> Result<String, ApiError> {
    request
        .request_context
        .authorizer
        .as_ref()
        .and_then(|authorizer| authorizer.jwt.as_ref())
        .and_then(|jwt| jwt.claims.get("sub"))
        .filter(|sub| crate::ids::is_user_id(sub))
        .cloned()
        .ok_or(ApiError::Unauthorized)
}

/// A path parameter that must be present (API Gateway guarantees it for the route).
pub fn path_param<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Result<&'a str, ApiError> {
    request
        .path_parameters
        .get(name)
        .map(String::as_str)
        .ok_or_else(|| ApiError::bad_request("missing_path_parameter", format!("missing path parameter {name}")))
}

/// A path parameter that must be a ULID (server, channel, message ids).
pub fn path_id<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Result<&'a str, ApiError> {
    let value = path_param(request, name)?;
    if crate::ids::is_ulid(value) {
        Ok(value)
    } else {
        Err(ApiError::bad_request("invalid_id", format!("{name} is not a valid id")))
    }
}

/// A single query parameter; repeating it is a 400 rather than a silent pick.
pub fn query_param<'a>(request: &'a ApiGatewayV2httpRequest, name: &str) -> Result<Option<&'a str>, ApiError> {
    match request.query_string_parameters.all(name) {
        None => Ok(None),
        Some(values) if values.len() == 1 => Ok(values.first().copied()),
        Some(_) => Err(ApiError::bad_request(
            "invalid_query",
            format!("{name} may be given once"),
        )),
    }
}

/// Parses the JSON body into `T`: 413 over the cap, 400 for anything that is not the expected JSON.
pub fn json_body<T: DeserializeOwned>(request: &ApiGatewayV2httpRequest) -> Result<T, ApiError> {
    let raw = request.body.as_deref().unwrap_or_default();
    let bytes = if request.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| ApiError::bad_request("invalid_body", "body is not valid base64"))?
    } else {
        raw.as_bytes().to_vec()
    };
    if bytes.len() > MAX_BODY_BYTES {
        return Err(ApiError::PayloadTooLarge { limit: MAX_BODY_BYTES });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request("invalid_json", "a JSON body is required"));
    }
    let value: serde_json::Value =
        serde_json::from_slice(&bytes).map_err(|_| ApiError::bad_request("invalid_json", "body is not valid JSON"))?;
    // Bodies are JSON objects: serde would also fill a struct from a positional array.
    if !value.is_object() {
        return Err(ApiError::bad_request("invalid_body", "body must be a JSON object"));
    }
    serde_json::from_value(value).map_err(|error| ApiError::bad_request("invalid_body", data_error_message(&error)))
}

/// serde's data errors name the field and what it expected ("missing field `name`",
/// "invalid type: integer `5`, expected a string"), never a Rust type name.
fn data_error_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let text = text.split(" at line ").next().unwrap_or_default();
    if text.contains("struct ") || text.is_empty() {
        "body does not match the expected shape".to_owned()
    } else {
        text.to_owned()
    }
}

/// A JSON response with the given status.
pub fn json_response(status: StatusCode, body: &impl Serialize) -> ApiGatewayV2httpResponse {
    match serde_json::to_string(body) {
        Ok(text) => response(status, text, HeaderMap::new()),
        Err(error) => error_response(&ApiError::internal(error)),
    }
}

/// The response for an error: `{"error":{code,message}}`, `WWW-Authenticate` on 401,
/// `Retry-After` on 429; 5xx details go to the log only.
pub fn error_response(error: &ApiError) -> ApiGatewayV2httpResponse {
    let status = error.status();
    error.log_if_server_error("request failed");
    let mut headers = HeaderMap::new();
    match error {
        ApiError::Unauthorized => {
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        ApiError::TooManyRequests { retry_after_seconds } => {
            headers.insert(RETRY_AFTER, HeaderValue::from(*retry_after_seconds));
        }
        _ => {}
    }
    response(status, error.body().to_string(), headers)
}

/// Renders a route's result: the success response or the error response.
pub fn render(result: Result<ApiGatewayV2httpResponse, ApiError>) -> ApiGatewayV2httpResponse {
    result.unwrap_or_else(|error| error_response(&error))
}

fn response(status: StatusCode, body: String, mut headers: HeaderMap) -> ApiGatewayV2httpResponse {
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = i64::from(status.as_u16());
    response.headers = headers;
    response.body = Some(Body::Text(body));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct CreateThing {
        name: String,
    }

    fn with_body(body: &str) -> ApiGatewayV2httpRequest {
        let mut request = ApiGatewayV2httpRequest::default();
        request.body = Some(body.to_owned());
        request
    }

    fn code_of(result: Result<CreateThing, ApiError>) -> (u16, &'static str) {
        let error = result.err().unwrap_or(ApiError::Unauthorized);
        (error.status().as_u16(), error.code())
    }

    #[test]
    fn malformed_json_is_400_invalid_json() {
        assert_eq!(code_of(json_body(&with_body("{\"name\":"))), (400, "invalid_json"));
        assert_eq!(code_of(json_body(&with_body(""))), (400, "invalid_json"));
    }

    #[test]
    fn missing_or_mistyped_fields_are_400_invalid_body() {
        assert_eq!(code_of(json_body(&with_body("{}"))), (400, "invalid_body"));
        assert_eq!(code_of(json_body(&with_body("{\"name\":5}"))), (400, "invalid_body"));
        assert_eq!(code_of(json_body(&with_body("[]"))), (400, "invalid_body"));
        assert_eq!(
            code_of(json_body(&with_body("[\"positional\"]"))),
            (400, "invalid_body")
        );
        assert_eq!(code_of(json_body(&with_body("null"))), (400, "invalid_body"));
    }

    #[test]
    fn error_messages_name_fields_not_rust_types() {
        let message = |body: &str| json_body::<CreateThing>(&with_body(body)).err().map(|e| e.to_string());
        assert_eq!(message("{}").as_deref(), Some("missing field `name`"));
        assert_eq!(message("[1]").as_deref(), Some("body must be a JSON object"));
        assert!(!message("{\"name\":{}}").unwrap_or_default().contains("CreateThing"));
    }

    #[test]
    fn oversize_body_is_413() {
        let big = format!("{{\"name\":\"{}\"}}", "x".repeat(MAX_BODY_BYTES));
        assert_eq!(code_of(json_body(&with_body(&big))), (413, "payload_too_large"));
    }

    #[test]
    fn unauthorized_carries_www_authenticate() {
        let response = error_response(&ApiError::Unauthorized);
        assert_eq!(response.status_code, 401);
        assert_eq!(
            response.headers.get(WWW_AUTHENTICATE).map(HeaderValue::as_bytes),
            Some(&b"Bearer"[..])
        );
    }

    #[test]
    fn caller_without_claims_is_unauthorized() {
        assert!(matches!(
            caller_id(&ApiGatewayV2httpRequest::default()),
            Err(ApiError::Unauthorized)
        ));
    }
}
