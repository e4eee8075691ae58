//! `ws-connect`: the WebSocket API's `$connect` route.
//!
//! - **Route:** `$connect`, from `wss://<api>/<stage>?token=<Cognito id or access token>`.
//! - **Auth:** the `token` query parameter, verified here with `shared::jwt` (API Gateway's
//!   WebSocket API has no JWT authorizer): RS256 against the pool's JWKS, issuer, expiry,
//!   `token_use`, allowed app client. A refused token answers 401 and writes nothing; API
//!   Gateway then refuses the handshake. Unreachable signing keys answer 500. The token is never
//!   logged.
//! - **Access pattern:** the user's memberships (GSI1 `USER#<sub>` / `SERVER#...`), then one
//!   batch write: `CONN#<connectionId>` / `CONN` (GSI1 `USER#<sub>` / `CONN#<connectionId>`) and
//!   `SERVER#<serverId>` / `SUB#<connectionId>` per server, all with a 2 h TTL.
//! - **Env:** `TABLE_NAME`, `USER_POOL_ISSUER`, `USER_POOL_JWKS_URL`, `USER_POOL_CLIENT_IDS`.

use aws_lambda_events::apigw::{ApiGatewayProxyResponse, ApiGatewayWebsocketProxyRequest};
use http::StatusCode;
use shared::error::ApiError;
use shared::frames::{connection_id, route_error, route_response};
use shared::jwt::TokenVerifier;
use shared::model::Connection;
use shared::store::Store;

/// What `$connect` needs, built once per cold start.
#[derive(Debug)]
pub struct State {
    /// The single table.
    pub store: Store,
    /// The user pool's token verifier (caches the JWKS across invocations).
    pub verifier: TokenVerifier,
}

impl State {
    /// The state from its parts.
    pub fn new(store: Store, verifier: TokenVerifier) -> Self {
        Self { store, verifier }
    }
}

/// Handles `$connect`: 200 once the connection and its subscriptions are stored, 401 for a
/// missing or refused token (nothing written), 500 when keys or the table are unavailable.
pub async fn handle(state: &State, request: ApiGatewayWebsocketProxyRequest) -> ApiGatewayProxyResponse {
    match connect(state, &request).await {
        Ok(()) => route_response(StatusCode::OK),
        Err(error) => route_error(&error),
    }
}

async fn connect(state: &State, request: &ApiGatewayWebsocketProxyRequest) -> Result<(), ApiError> {
    let connection_id = connection_id(request)?;
    let token = match request.query_string_parameters.all("token").as_deref() {
        Some([token]) if !token.is_empty() => *token,
        _ => {
            tracing::info!(connection_id, "refused a connection without exactly one token");
            return Err(ApiError::Unauthorized);
        }
    };
    let verified = state.verifier.verify(token).await.map_err(|error| {
        if error.is_unauthorized() {
            tracing::info!(connection_id, reason = %error, "refused a connection");
            ApiError::Unauthorized
        } else {
            ApiError::internal(error)
        }
    })?;
    if !shared::ids::is_user_id(&verified.sub) {
        tracing::info!(connection_id, "refused a token whose sub is not a user id");
        return Err(ApiError::Unauthorized);
    }
    let connection = Connection {
        connection_id: connection_id.to_owned(),
        user_id: verified.sub,
        connected_at: connected_at(request),
    };
    let servers = match state.store.put_connection(&connection).await {
        Ok(servers) => servers,
        Err(error) => {
            // A refused `$connect` leaves nothing behind: undo whatever part was written.
            if let Err(cleanup) = state.store.delete_connection(connection_id).await {
                tracing::warn!(connection_id, error = %cleanup, "cleaning up a failed connect failed");
            }
            return Err(error.into());
        }
    };
    tracing::info!(connection_id, user_id = %connection.user_id, servers = servers.len(), "connected");
    Ok(())
}

/// When API Gateway accepted the socket (`requestContext.connectedAt`, epoch milliseconds).
fn connected_at(request: &ApiGatewayWebsocketProxyRequest) -> String {
    match request.request_context.connected_at {
        millis if millis > 0 => shared::clock::epoch_millis_to_rfc3339(millis),
        _ => shared::clock::now_rfc3339(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_lambda_events::encodings::Body;
    use jsonwebtoken::jwk::Jwk;
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    use serde_json::{Value, json};
    use shared::config::TokenConfig;
    use shared::connections::testing::FakeEndpoint;

    const CONNECT: &str = include_str!("../../../events/ws-connect/connect.json");
    const CONNECT_WITHOUT_TOKEN: &str = include_str!("../../../events/ws-connect/connect-without-token.json");
    const SIGNING_KEY: &str = include_str!("../../../shared/tests/fixtures/jwt-signing-key.pem");
    const FORGER_KEY: &str = include_str!("../../../shared/tests/fixtures/jwt-forger-key.pem");
    const KID: &str = "CognitoLocal";
    const CLIENT: &str = "8sqan3w34mrdqwu75lr6oj1b5";
    const ISSUER: &str = "http://127.0.0.1:9229/local_16qrfKFW";
    const JWKS_PATH: &str = "/local_16qrfKFW/.well-known/jwks.json";
    const CONNECTION_ID: &str = "TWegAcC4EowCHnA=";

    struct Fixture {
        state: State,
        _jwks: FakeEndpoint,
        user_id: String,
        server_id: String,
    }

    /// A fresh table with one server the user owns, and a user pool publishing `SIGNING_KEY`.
    async fn fixture() -> Fixture {
        let store = shared::testing::fresh_store().await;
        let user_id = shared::testing::user_id();
        let (server, _) = store.create_server(&user_id, "lovelace".to_owned()).await.unwrap();
        let jwks = FakeEndpoint::start().await;
        jwks.serve_document(JWKS_PATH, &json!({ "keys": [jwk(SIGNING_KEY)] }).to_string());
        let verifier = TokenVerifier::new(TokenConfig {
            issuer: ISSUER.to_owned(),
            jwks_url: format!("{}{JWKS_PATH}", jwks.url()),
            client_ids: vec![CLIENT.to_owned()],
        });
        Fixture {
            state: State::new(store, verifier),
            _jwks: jwks,
            user_id,
            server_id: server.id,
        }
    }

    fn jwk(pem: &str) -> Value {
        let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap();
        let mut jwk = serde_json::to_value(Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap()).unwrap();
        jwk["kid"] = json!(KID);
        jwk["use"] = json!("sig");
        jwk
    }

    fn now() -> i64 {
        i64::try_from(jsonwebtoken::get_current_timestamp()).unwrap()
    }

    fn id_claims(sub: &str) -> Value {
        json!({
            "sub": sub, "aud": CLIENT, "token_use": "id", "iss": ISSUER, "email": "ada@example.com",
            "cognito:username": sub, "auth_time": now(), "iat": now(), "exp": now() + 3600,
        })
    }

    fn access_claims(sub: &str) -> Value {
        json!({
            "sub": sub, "client_id": CLIENT, "token_use": "access", "iss": ISSUER, "username": sub,
            "scope": "aws.cognito.signin.user.admin", "auth_time": now(), "iat": now(), "exp": now() + 3600,
        })
    }

    fn sign_with(pem: &str, claims: &Value) -> String {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(KID.to_owned());
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap()).unwrap()
    }

    fn with(mut claims: Value, key: &str, value: Value) -> Value {
        claims[key] = value;
        claims
    }

    /// The sample `$connect` event carrying `token`.
    fn connect_with(token: &str) -> ApiGatewayWebsocketProxyRequest {
        let mut event: Value = serde_json::from_str(CONNECT).unwrap();
        event["queryStringParameters"]["token"] = json!(token);
        event["multiValueQueryStringParameters"]["token"] = json!([token]);
        serde_json::from_value(event).unwrap()
    }

    async fn item_count(store: &Store) -> i32 {
        shared::testing::dynamodb_client(&shared::testing::endpoint())
            .scan()
            .table_name(store.table_name())
            .select(aws_sdk_dynamodb::types::Select::Count)
            .send()
            .await
            .unwrap()
            .count()
    }

    fn error_code(response: &ApiGatewayProxyResponse) -> Value {
        match &response.body {
            Some(Body::Text(text)) => serde_json::from_str::<Value>(text).unwrap()["error"]["code"].clone(),
            other => panic!("unexpected body {other:?}"),
        }
    }

    #[test]
    fn sample_events_deserialize_into_the_websocket_request_type() {
        for sample in [CONNECT, CONNECT_WITHOUT_TOKEN] {
            let request: ApiGatewayWebsocketProxyRequest = serde_json::from_str(sample).unwrap();
            assert_eq!(request.request_context.route_key.as_deref(), Some("$connect"));
            assert!(request.request_context.connection_id.is_some());
        }
        let request: ApiGatewayWebsocketProxyRequest = serde_json::from_str(CONNECT).unwrap();
        assert!(request.query_string_parameters.first("token").is_some());
    }

    #[tokio::test]
    async fn a_good_id_token_stores_the_connection_and_subscribes_it_to_the_users_servers() {
        let fixture = fixture().await;
        let token = sign_with(SIGNING_KEY, &id_claims(&fixture.user_id));

        let response = handle(&fixture.state, connect_with(&token)).await;

        assert_eq!(response.status_code, 200);
        let connection = fixture
            .state
            .store
            .get_connection(CONNECTION_ID)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(connection.user_id, fixture.user_id);
        assert_eq!(connection.connected_at, "2026-12-03T16:23:42.123Z");
        let subscribers: Vec<String> = fixture
            .state
            .store
            .subscriptions_of_server(&fixture.server_id)
            .await
            .unwrap()
            .into_iter()
            .map(|subscription| subscription.connection_id)
            .collect();
        assert_eq!(subscribers, vec![CONNECTION_ID.to_owned()]);
    }

    #[tokio::test]
    async fn a_good_access_token_is_accepted_too() {
        let fixture = fixture().await;
        let token = sign_with(SIGNING_KEY, &access_claims(&fixture.user_id));

        let response = handle(&fixture.state, connect_with(&token)).await;

        assert_eq!(response.status_code, 200);
        assert!(
            fixture
                .state
                .store
                .get_connection(CONNECTION_ID)
                .await
                .unwrap()
                .is_some()
        );
    }

    #[tokio::test]
    async fn a_missing_token_is_refused_with_401_and_nothing_is_written() {
        let fixture = fixture().await;
        let before = item_count(&fixture.state.store).await;

        let response = handle(&fixture.state, serde_json::from_str(CONNECT_WITHOUT_TOKEN).unwrap()).await;

        assert_eq!(response.status_code, 401);
        assert_eq!(error_code(&response), "unauthorized");
        assert_eq!(item_count(&fixture.state.store).await, before);
    }

    #[tokio::test]
    async fn bad_tokens_are_refused_with_401_and_nothing_is_written() {
        let fixture = fixture().await;
        let user = fixture.user_id.clone();
        let before = item_count(&fixture.state.store).await;
        let sample_token = serde_json::from_str::<Value>(CONNECT).unwrap()["queryStringParameters"]["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let refused = [
            ("the sample's unsigned token", sample_token),
            (
                "expired",
                sign_with(SIGNING_KEY, &with(id_claims(&user), "exp", json!(now() - 600))),
            ),
            ("forged", sign_with(FORGER_KEY, &id_claims(&user))),
            (
                "another app client",
                sign_with(SIGNING_KEY, &with(id_claims(&user), "aud", json!("other-client"))),
            ),
            (
                "another pool",
                sign_with(
                    SIGNING_KEY,
                    &with(id_claims(&user), "iss", json!("http://127.0.0.1:9229/local_other")),
                ),
            ),
            (
                "a refresh token",
                sign_with(SIGNING_KEY, &with(id_claims(&user), "token_use", json!("refresh"))),
            ),
            ("a sub that is no user id", sign_with(SIGNING_KEY, &id_claims("admin"))),
            ("garbage", "not-a-jwt".to_owned()),
            ("empty", String::new()),
        ];

        for (case, token) in refused {
            let response = handle(&fixture.state, connect_with(&token)).await;
            assert_eq!(response.status_code, 401, "{case}");
        }

        assert_eq!(item_count(&fixture.state.store).await, before);
        assert!(
            fixture
                .state
                .store
                .get_connection(CONNECTION_ID)
                .await
                .unwrap()
                .is_none()
        );
    }

    #[tokio::test]
    async fn unreachable_signing_keys_are_a_500_and_nothing_is_written() {
        let fixture = fixture().await;
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let closed = format!("http://{}/jwks.json", listener.local_addr().unwrap());
        drop(listener);
        let state = State::new(
            fixture.state.store.clone(),
            TokenVerifier::new(TokenConfig {
                issuer: ISSUER.to_owned(),
                jwks_url: closed,
                client_ids: vec![CLIENT.to_owned()],
            }),
        );
        let before = item_count(&state.store).await;

        let response = handle(
            &state,
            connect_with(&sign_with(SIGNING_KEY, &id_claims(&fixture.user_id))),
        )
        .await;

        assert_eq!(response.status_code, 500);
        assert_eq!(error_code(&response), "internal_error");
        assert_eq!(item_count(&state.store).await, before);
    }
}
