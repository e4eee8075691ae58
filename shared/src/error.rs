//! The one HTTP-shaped error type. Each variant documents its status; `status()` holds the
//! mapping; the body is always `{"error":{"code","message"}}`. Internal details are logged once
//! and never reach a client.

use http::StatusCode;

/// An error a route answers with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: malformed request (bad JSON, bad query, bad id or cursor).
    #[error("{message}")]
    BadRequest {
        /// Stable snake_case code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// 401: no or bad credentials; carries `WWW-Authenticate`.
    #[error("missing or invalid credentials")]
    Unauthorized,
    /// 403: the thing exists but the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 404: unknown (or not visible to the caller).
    #[error("{0}")]
    NotFound(String),
    /// 409: conflicts with the current state.
    #[error("{0}")]
    Conflict(String),
    /// 413: body over the cap.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge {
        /// The cap in bytes.
        limit: usize,
    },
    /// 422: well-formed but breaks a rule (length, kind).
    #[error("{message}")]
    Unprocessable {
        /// Stable snake_case code.
        code: &'static str,
        /// Human text.
        message: String,
    },
    /// 429: slow down; carries `Retry-After`.
    #[error("too many requests, retry after {retry_after_seconds} s")]
    TooManyRequests {
        /// Seconds the client should wait.
        retry_after_seconds: u32,
    },
    /// 500: anything unexpected. The source is logged, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// 400 with a code.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// 422 with a code.
    pub fn unprocessable(code: &'static str, message: impl Into<String>) -> Self {
        Self::Unprocessable {
            code,
            message: message.into(),
        }
    }

    /// 500 from any error (logged when rendered).
    pub fn internal(source: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        Self::Internal(source.into())
    }

    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. } | Self::Unprocessable { code, .. } => code,
            Self::Unauthorized => "unauthorized",
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::TooManyRequests { .. } => "too_many_requests",
            Self::Internal(_) => "internal_error",
        }
    }

    /// Logs a 5xx once with its hidden source (what failed, never shown to the client).
    pub fn log_if_server_error(&self, context: &'static str) {
        if self.status().is_server_error() {
            let source = std::error::Error::source(self)
                .map(ToString::to_string)
                .unwrap_or_default();
            tracing::error!(error = %source, "{context}");
        }
    }

    /// The `{"error":{...}}` body (and `retryAfter` for 429).
    pub fn body(&self) -> serde_json::Value {
        let mut error = serde_json::json!({ "code": self.code(), "message": self.to_string() });
        if let Self::TooManyRequests { retry_after_seconds } = self {
            error["retryAfter"] = (*retry_after_seconds).into();
        }
        serde_json::json!({ "error": error })
    }
}

/// Errors an `auth-hooks` trigger returns; Cognito shows the message to the signing-up user.
#[derive(Debug, thiserror::Error)]
pub enum HookError {
    /// The request breaks a rule (e.g. an invalid or taken handle).
    #[error("{0}")]
    Rejected(String),
    /// The event is not one this function handles or is malformed.
    #[error("unexpected event: {0}")]
    BadEvent(String),
    /// Storage failed; Cognito retries or shows a generic failure.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_code_and_message() {
        let error = ApiError::unprocessable("content_too_long", "content must be at most 4000 characters");
        assert_eq!(error.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(
            error.body(),
            serde_json::json!({"error": {"code": "content_too_long", "message": "content must be at most 4000 characters"}})
        );
    }

    #[test]
    fn hides_internal_details() {
        let error = ApiError::internal(std::io::Error::other("table cosmos-dev is on fire"));
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(error.body()["error"]["message"], "internal error");
    }

    #[test]
    fn too_many_requests_carries_retry_after() {
        let error = ApiError::TooManyRequests { retry_after_seconds: 3 };
        assert_eq!(error.body()["error"]["retryAfter"], 3);
    }
}
