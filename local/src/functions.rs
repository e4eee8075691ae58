//! The function registry: function name → in-process invoker, exactly as Lambda sees a function
//! (JSON event in, JSON result out).
//!
//! Every trigger of the local gateway (HTTP API, WebSocket API, stream mapping, Lambda Invoke
//! API) goes through [`Functions::invoke`], so a function crate's handler receives the same JSON
//! it would receive in the cloud, deserialized into its own event type. Each invocation runs in
//! its own task: a panicking handler becomes a function error, as under `lambda_runtime`.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::future::Future;
use std::sync::Arc;

use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use shared::config::{ConnectionsConfig, TableConfig, TokenConfig};
use shared::connections::ConnectionsClient;
use shared::jwt::TokenVerifier;
use shared::store::Store;

/// What an invocation resolves to.
pub type FunctionResult = Result<Value, FunctionError>;

/// A function as Lambda sees it: JSON event in, JSON result (or a function error) out.
pub type Invoker = Arc<dyn Fn(Value) -> BoxFuture<'static, FunctionResult> + Send + Sync>;

/// A function error, as Lambda reports it (`{"errorType", "errorMessage"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    /// The error's type (`lambda_runtime` uses the Rust type name).
    pub error_type: String,
    /// The error's message.
    pub error_message: String,
}

impl FunctionError {
    /// An error of `error_type` with `error_message`.
    pub fn new(error_type: impl Into<String>, error_message: impl Into<String>) -> Self {
        Self {
            error_type: error_type.into(),
            error_message: error_message.into(),
        }
    }

    /// The error payload Lambda returns for an unhandled function error.
    pub fn to_lambda_json(&self) -> Value {
        json!({ "errorMessage": self.error_message, "errorType": self.error_type })
    }
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.error_message)
    }
}

impl std::error::Error for FunctionError {}

/// Why [`Functions::invoke`] produced no result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InvokeError {
    /// No function is registered under that name.
    NotFound(String),
    /// The function ran and failed (returned an error or panicked).
    Failed(FunctionError),
}

impl fmt::Display for InvokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound(name) => write!(f, "function not found: {name}"),
            Self::Failed(error) => write!(f, "function error: {error}"),
        }
    }
}

impl std::error::Error for InvokeError {}

/// The functions the local gateway can invoke, by name (the crate / CDK function name).
#[derive(Clone, Default)]
pub struct Functions {
    invokers: HashMap<String, Invoker>,
}

impl fmt::Debug for Functions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<&str> = self.names().collect();
        names.sort_unstable();
        f.debug_struct("Functions").field("names", &names).finish()
    }
}

impl Functions {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers (or replaces) `name` with a raw JSON invoker.
    pub fn insert<F, Fut>(&mut self, name: impl Into<String>, invoker: F)
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = FunctionResult> + Send + 'static,
    {
        self.invokers
            .insert(name.into(), Arc::new(move |event| invoker(event).boxed()));
    }

    /// Registers a handler that never fails (HTTP and WebSocket handlers, `ws-broadcast`): the
    /// event is deserialized into `E` (a mismatch is a function error, as in Lambda) and the
    /// result serialized back to JSON.
    ///
    /// ```no_run
    /// # use std::sync::Arc;
    /// # use cosmos_local::functions::Functions;
    /// # fn wire(functions: &mut Functions, state: servers::State) {
    /// let state = Arc::new(state);
    /// functions.insert_handler("servers", move |event| {
    ///     let state = state.clone();
    ///     async move { servers::handle(&state, event).await }
    /// });
    /// # }
    /// ```
    pub fn insert_handler<E, R, F, Fut>(&mut self, name: impl Into<String>, handler: F)
    where
        E: DeserializeOwned + Send + 'static,
        R: Serialize,
        F: Fn(E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = R> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.insert(name, move |event: Value| {
            let handler = handler.clone();
            async move {
                let event = deserialize_event::<E>(event)?;
                serialize_result(&handler(event).await)
            }
        });
    }

    /// Registers a handler whose error is a Lambda function error (`auth-hooks`: Cognito then
    /// rejects the operation).
    pub fn insert_fallible_handler<E, R, Er, F, Fut>(&mut self, name: impl Into<String>, handler: F)
    where
        E: DeserializeOwned + Send + 'static,
        R: Serialize,
        Er: std::error::Error,
        F: Fn(E) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, Er>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        self.insert(name, move |event: Value| {
            let handler = handler.clone();
            async move {
                let event = deserialize_event::<E>(event)?;
                match handler(event).await {
                    Ok(result) => serialize_result(&result),
                    Err(error) => Err(FunctionError::new(std::any::type_name::<Er>(), error.to_string())),
                }
            }
        });
    }

    /// True when `name` is registered.
    pub fn contains(&self, name: &str) -> bool {
        self.invokers.contains_key(name)
    }

    /// The registered names, in no particular order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.invokers.keys().map(String::as_str)
    }

    /// Invokes `name` with `event` in its own task.
    pub async fn invoke(&self, name: &str, event: Value) -> Result<Value, InvokeError> {
        let invoker = self
            .invokers
            .get(name)
            .cloned()
            .ok_or_else(|| InvokeError::NotFound(name.to_owned()))?;
        let started = std::time::Instant::now();
        let outcome = tokio::spawn(std::panic::AssertUnwindSafe(invoker(event)).catch_unwind()).await;
        let result = match outcome {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(FunctionError::new("Panic", panic_message(panic.as_ref()))),
            Err(join_error) => Err(FunctionError::new("Runtime.ExitError", join_error.to_string())),
        };
        let millis = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        match &result {
            Ok(_) => tracing::debug!(function = name, duration_ms = millis, "invoked"),
            Err(error) => tracing::warn!(
                function = name,
                duration_ms = millis,
                error_type = %error.error_type,
                error_message = %error.error_message,
                "function error"
            ),
        }
        result.map_err(InvokeError::Failed)
    }
}

/// What the local stack gives its functions: the environment variables the CDK stack sets on
/// the Lambda functions (`TABLE_NAME`, `CONNECTIONS_ENDPOINT`, `USER_POOL_ISSUER`,
/// `USER_POOL_JWKS_URL`, `USER_POOL_CLIENT_IDS`, plus `AWS_REGION` and `AWS_ENDPOINT_URL`), and
/// the AWS SDK configuration a function would load from them (moto's endpoint, dummy
/// credentials). Functions read it through `shared::config`'s `from_lookup`, never through the
/// process environment, so several stacks can run in one process.
#[derive(Debug, Clone)]
pub struct FunctionEnv {
    /// Variable name → value.
    pub vars: BTreeMap<String, String>,
    /// SDK configuration for moto.
    pub aws: aws_config::SdkConfig,
}

impl FunctionEnv {
    /// The value of `name`, as `std::env::var` would give it in Lambda.
    pub fn var(&self, name: &str) -> Option<String> {
        self.vars.get(name).cloned()
    }
}

/// An invoker calling `$krate::handle(&state, event)` with one `state` built up front (a cold
/// start): the handler convention of the function crates.
macro_rules! handler {
    ($krate:ident, $state:expr) => {{
        let state = Arc::new($state);
        move |event| {
            let state = state.clone();
            async move { $krate::handle(&state, event).await }
        }
    }};
}

impl Functions {
    /// The Cosmos functions, each with its `State` built from `env` as its `main.rs` builds it
    /// from the process environment. Adding a function crate is one line here.
    pub fn cosmos(env: &FunctionEnv) -> anyhow::Result<Self> {
        let lookup = |name: &str| env.var(name);
        let table = TableConfig::from_lookup(&lookup)?;
        let store = || Store::from_sdk_config(&env.aws, &table);
        let mut functions = Self::new();
        functions.insert_handler("servers", handler!(servers, servers::State { store: store() }));
        functions.insert_handler("messages", handler!(messages, messages::State { store: store() }));
        functions.insert_handler(
            "message-post",
            handler!(message_post, message_post::State { store: store() }),
        );
        let tokens = TokenConfig::from_lookup(&lookup)?;
        let connections = ConnectionsConfig::from_lookup(&lookup)?;
        let connections_client = || ConnectionsClient::new(&env.aws, &connections);
        functions.insert_handler(
            "ws-connect",
            handler!(ws_connect, ws_connect::State::new(store(), TokenVerifier::new(tokens))),
        );
        functions.insert_handler(
            "ws-disconnect",
            handler!(ws_disconnect, ws_disconnect::State::new(store())),
        );
        functions.insert_handler(
            "ws-default",
            handler!(ws_default, ws_default::State::new(store(), connections_client())),
        );
        functions.insert_handler(
            "ws-broadcast",
            handler!(ws_broadcast, ws_broadcast::State::new(store(), connections_client())),
        );
        functions.insert_fallible_handler("auth-hooks", handler!(auth_hooks, auth_hooks::State::new(store())));
        Ok(functions)
    }
}

fn deserialize_event<E: DeserializeOwned>(event: Value) -> Result<E, FunctionError> {
    serde_json::from_value(event).map_err(|error| {
        FunctionError::new(
            "Runtime.UnmarshalError",
            format!("failed to deserialize the incoming data into the function's payload type: {error}"),
        )
    })
}

fn serialize_result<R: Serialize>(result: &R) -> FunctionResult {
    serde_json::to_value(result).map_err(|error| FunctionError::new("Runtime.MarshalError", error.to_string()))
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "the handler panicked".to_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[derive(serde::Deserialize)]
    struct Ping {
        n: u32,
    }

    #[derive(Debug)]
    struct Refused;

    impl fmt::Display for Refused {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("handle is taken")
        }
    }

    impl std::error::Error for Refused {}

    fn registry() -> Functions {
        let mut functions = Functions::new();
        functions.insert_handler("double", |ping: Ping| async move { json!({ "n": ping.n * 2 }) });
        functions.insert_fallible_handler("refuse", |_: Value| async move { Err::<Value, _>(Refused) });
        functions.insert("panic", |_| async move { panic!("boom") });
        functions
    }

    #[tokio::test]
    async fn invokes_a_typed_handler_with_json_in_and_out() {
        let result = registry().invoke("double", json!({ "n": 21 })).await.unwrap();
        assert_eq!(result, json!({ "n": 42 }));
    }

    #[tokio::test]
    async fn reports_an_event_that_does_not_deserialize_as_a_function_error() {
        let error = registry().invoke("double", json!({ "n": "x" })).await.unwrap_err();
        let InvokeError::Failed(error) = error else {
            panic!("{error:?}")
        };
        assert_eq!(error.error_type, "Runtime.UnmarshalError");
    }

    #[tokio::test]
    async fn reports_a_handler_error_with_its_type_name() {
        let error = registry().invoke("refuse", json!({})).await.unwrap_err();
        assert_eq!(
            error,
            InvokeError::Failed(FunctionError::new(std::any::type_name::<Refused>(), "handle is taken"))
        );
    }

    #[tokio::test]
    async fn turns_a_panic_into_a_function_error() {
        let error = registry().invoke("panic", json!({})).await.unwrap_err();
        assert_eq!(error, InvokeError::Failed(FunctionError::new("Panic", "boom")));
    }

    fn env(vars: &[(&str, &str)]) -> FunctionEnv {
        FunctionEnv {
            vars: vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            aws: aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("us-east-1"))
                .build(),
        }
    }

    #[tokio::test]
    async fn wires_the_cosmos_functions_from_the_stack_environment() {
        let functions = Functions::cosmos(&env(&[
            ("TABLE_NAME", "cosmos-local"),
            ("CONNECTIONS_ENDPOINT", "http://127.0.0.1:1/local"),
            ("USER_POOL_ISSUER", "http://127.0.0.1:1/local_pool"),
            (
                "USER_POOL_JWKS_URL",
                "http://127.0.0.1:1/local_pool/.well-known/jwks.json",
            ),
            ("USER_POOL_CLIENT_IDS", "client"),
        ]))
        .unwrap();
        let routes: Value = serde_json::from_str(include_str!("../../shared/contract/routes.json")).unwrap();
        let declared = routes["functions"].as_object().unwrap();
        assert_eq!(functions.names().count(), declared.len());
        for name in declared.keys() {
            assert!(functions.contains(name), "{name}");
        }
    }

    #[test]
    fn names_the_missing_variable_when_wiring_the_cosmos_functions() {
        let error = Functions::cosmos(&env(&[])).unwrap_err();
        assert!(error.to_string().contains("TABLE_NAME"), "{error}");
    }

    #[tokio::test]
    async fn reports_an_unknown_function() {
        let error = registry().invoke("nope", json!({})).await.unwrap_err();
        assert_eq!(error, InvokeError::NotFound("nope".to_owned()));
    }
}
