//! The Lambda Invoke API (`POST /2015-03-31/functions/{name}/invocations`), on its own listener.
//!
//! `cognito-local` fires the user pool triggers through it, as Cognito invokes Lambda. The
//! function name may be a name, a `name:qualifier` or a function ARN. As Lambda: the result is
//! returned with 200; a function error is also a 200, with `X-Amz-Function-Error: Unhandled`
//! and `{"errorMessage", "errorType"}`; an unknown function is a 404
//! `ResourceNotFoundException`; a payload that is not JSON is a 400
//! `InvalidRequestContentException`; `X-Amz-Invocation-Type: Event` answers 202 at once and runs
//! the function in the background, `DryRun` answers 204. Signatures are not checked.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

use super::ApiSettings;
use crate::functions::{Functions, InvokeError};

/// The Invoke API; [`InvokeApi::router`] serves it.
#[derive(Debug)]
pub struct InvokeApi {
    functions: Arc<Functions>,
    settings: ApiSettings,
}

impl InvokeApi {
    /// An Invoke API over `functions`.
    pub fn new(functions: Arc<Functions>, settings: ApiSettings) -> Self {
        Self { functions, settings }
    }

    /// The axum router.
    pub fn router(self) -> axum::Router {
        axum::Router::new()
            .route("/2015-03-31/functions/{name}/invocations", post(invoke))
            .with_state(Arc::new(self))
    }
}

/// The function name in a name, `name:qualifier` or ARN (`arn:aws:lambda:r:a:function:name[:q]`).
pub fn function_name(raw: &str) -> &str {
    let parts: Vec<&str> = raw.split(':').collect();
    match parts.as_slice() {
        ["arn", _, "lambda", _, _, "function", name, ..] | [name, ..] => name,
        [] => raw,
    }
}

async fn invoke(
    State(api): State<Arc<InvokeApi>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    payload: Bytes,
) -> Response {
    let name = function_name(&name).to_owned();
    if !api.functions.contains(&name) {
        let arn = format!(
            "arn:aws:lambda:{}:{}:function:{name}",
            api.settings.region, api.settings.account_id
        );
        return error(
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("Function not found: {arn}"),
        );
    }
    let event: Value = if payload.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&payload) {
            Ok(event) => event,
            Err(problem) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "InvalidRequestContentException",
                    &format!("Could not parse request body into json: {problem}"),
                );
            }
        }
    };
    let invocation_type = headers
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    match invocation_type {
        "DryRun" => return StatusCode::NO_CONTENT.into_response(),
        "Event" => {
            let functions = api.functions.clone();
            tokio::spawn(async move {
                let _ = functions.invoke(&name, event).await;
            });
            return StatusCode::ACCEPTED.into_response();
        }
        _ => {}
    }
    let executed_version = (HeaderName::from_static("x-amz-executed-version"), "$LATEST");
    match api.functions.invoke(&name, event).await {
        Ok(result) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json"), executed_version],
            result.to_string(),
        )
            .into_response(),
        Err(InvokeError::Failed(failure)) => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/json"),
                executed_version,
                (HeaderName::from_static("x-amz-function-error"), "Unhandled"),
            ],
            failure.to_lambda_json().to_string(),
        )
            .into_response(),
        Err(InvokeError::NotFound(_)) => {
            error(StatusCode::NOT_FOUND, "ResourceNotFoundException", "Function not found")
        }
    }
}

fn error(status: StatusCode, error_type: &'static str, message: &str) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (HeaderName::from_static("x-amzn-errortype"), error_type),
        ],
        json!({ "Type": "User", "Message": message }).to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::gateway::test_support::{Recorder, serve};

    async fn start() -> (crate::gateway::ServerHandle, Recorder) {
        let recorder = Recorder::default();
        let mut functions = Functions::new();
        recorder.register(
            &mut functions,
            "auth-hooks",
            json!({ "response": { "autoConfirmUser": false } }),
        );
        recorder.register_failing(&mut functions, "broken");
        let server = serve(InvokeApi::new(Arc::new(functions), ApiSettings::default()).router()).await;
        (server, recorder)
    }

    fn url(server: &crate::gateway::ServerHandle, name: &str) -> String {
        format!("http://{}/2015-03-31/functions/{name}/invocations", server.addr())
    }

    #[test]
    fn reads_names_qualified_names_and_arns() {
        assert_eq!(function_name("auth-hooks"), "auth-hooks");
        assert_eq!(function_name("auth-hooks:$LATEST"), "auth-hooks");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:auth-hooks"),
            "auth-hooks"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:123456789012:function:auth-hooks:7"),
            "auth-hooks"
        );
    }

    #[tokio::test]
    async fn returns_the_function_result_with_200() {
        let (server, recorder) = start().await;
        let response = reqwest::Client::new()
            .post(url(&server, "auth-hooks"))
            .body(r#"{"triggerSource":"PreSignUp_SignUp"}"#)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert!(response.headers().get("x-amz-function-error").is_none());
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({ "response": { "autoConfirmUser": false } })
        );
        assert_eq!(
            recorder.events("auth-hooks"),
            vec![json!({ "triggerSource": "PreSignUp_SignUp" })]
        );
    }

    #[tokio::test]
    async fn reports_a_function_error_as_lambda_does() {
        let (server, _) = start().await;
        let response = reqwest::Client::new()
            .post(url(&server, "broken"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["x-amz-function-error"], "Unhandled");
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({ "errorMessage": "the function failed", "errorType": "Boom" })
        );
    }

    #[tokio::test]
    async fn answers_404_resource_not_found_for_an_unknown_function() {
        let (server, recorder) = start().await;
        let response = reqwest::Client::new()
            .post(url(&server, "nope"))
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404);
        assert_eq!(response.headers()["x-amzn-errortype"], "ResourceNotFoundException");
        let body = response.json::<Value>().await.unwrap();
        assert_eq!(
            body["Message"],
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope"
        );
        assert_eq!(recorder.count(), 0);
    }

    #[tokio::test]
    async fn answers_400_for_a_payload_that_is_not_json() {
        let (server, recorder) = start().await;
        let response = reqwest::Client::new()
            .post(url(&server, "auth-hooks"))
            .body("{nope")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400);
        assert_eq!(response.headers()["x-amzn-errortype"], "InvalidRequestContentException");
        assert_eq!(recorder.count(), 0);
    }

    #[tokio::test]
    async fn runs_event_invocations_in_the_background() {
        let (server, recorder) = start().await;
        let response = reqwest::Client::new()
            .post(url(&server, "auth-hooks"))
            .header("x-amz-invocation-type", "Event")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 202);
        recorder.wait_for("auth-hooks", 1).await;
    }
}
