#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::gateway::ServerHandle;
use crate::gateway::shape::{ShapeRules, shape_differences};
use crate::gateway::test_support::{Recorder, TestPool, sample_events, serve};
use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequest;
use aws_sdk_apigatewaymanagement::config::{BehaviorVersion, Credentials, Region};
use aws_sdk_apigatewaymanagement::operation::delete_connection::DeleteConnectionError;
use aws_sdk_apigatewaymanagement::operation::post_to_connection::PostToConnectionError;
use aws_sdk_apigatewaymanagement::primitives::Blob;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

type Client = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

const CONNECT_REFERENCE: &str = include_str!("../testdata/websocket-connect.json");
const MESSAGE_REFERENCE: &str = include_str!("../testdata/websocket-message.json");
const DISCONNECT_REFERENCE: &str = include_str!("../testdata/websocket-disconnect.json");

/// A WebSocket API whose `$connect` verifies `token=` with the test pool (as ws-connect does),
/// and whose other routes record their events.
struct Ws {
    server: ServerHandle,
    recorder: Recorder,
    pool: TestPool,
    connections: ConnectionRegistry,
}

impl Ws {
    async fn start() -> Self {
        Self::start_with(WebSocketOptions::default(), |_, _| {}).await
    }

    async fn start_with(options: WebSocketOptions, extra: impl FnOnce(&mut Functions, &Recorder)) -> Self {
        let pool = TestPool::start().await;
        let recorder = Recorder::default();
        let mut functions = Functions::new();
        let verifier = pool.verifier();
        let connects = recorder.clone();
        recorder.register(&mut functions, "ws-disconnect", json!({ "statusCode": 200 }));
        recorder.register(&mut functions, "ws-default", json!({ "statusCode": 200 }));
        extra(&mut functions, &recorder);
        functions.insert("ws-connect", move |event: Value| {
            let verifier = verifier.clone();
            let connects = connects.clone();
            async move {
                connects.record("ws-connect", event.clone());
                let token = event["queryStringParameters"]["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                Ok(match verifier.verify(&token).await {
                    Ok(_) => json!({ "statusCode": 200 }),
                    Err(_) => json!({ "statusCode": 401, "body": "{\"error\":{\"code\":\"unauthorized\"}}" }),
                })
            }
        });
        let routes = RouteTable::cosmos()
            .unwrap()
            .with_websocket_route("custom-action", "custom-fn");
        let api = WebSocketApi::new(Arc::new(routes), Arc::new(functions), ApiSettings::default(), options);
        let connections = api.connections();
        let server = serve(api.router()).await;
        Self {
            server,
            recorder,
            pool,
            connections,
        }
    }

    fn url(&self, token: &str) -> String {
        format!("ws://{}/local?token={token}", self.server.addr())
    }

    async fn connect(&self) -> (Client, String) {
        let (client, _) = tokio_tungstenite::connect_async(self.url(&self.pool.id_token()))
            .await
            .unwrap();
        let connect = self.recorder.wait_for("ws-connect", 1).await.pop().unwrap();
        let id = connect["requestContext"]["connectionId"].as_str().unwrap().to_owned();
        (client, id)
    }

    fn management(&self) -> aws_sdk_apigatewaymanagement::Client {
        let config = aws_sdk_apigatewaymanagement::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(format!("http://{}/local", self.server.addr()))
            .credentials_provider(Credentials::new("local", "local", None, None, "test"))
            .build();
        aws_sdk_apigatewaymanagement::Client::from_conf(config)
    }
}

async fn next_text(client: &mut Client) -> String {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), client.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let tungstenite::Message::Text(text) = message {
            return text.as_str().to_owned();
        }
    }
}

async fn next_close(client: &mut Client) -> Option<tungstenite::protocol::CloseFrame> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), client.next())
            .await
            .unwrap()
        {
            Some(Ok(tungstenite::Message::Close(frame))) => return frame,
            Some(Ok(_)) => {}
            Some(Err(error)) => panic!("connection failed without a close frame: {error}"),
            None => panic!("connection ended without a close frame"),
        }
    }
}

#[tokio::test]
async fn refuses_a_connect_with_401_and_never_fires_disconnect() {
    let ws = Ws::start().await;
    let forged = TestPool::forge(&ws.pool.id_claims());

    let error = tokio_tungstenite::connect_async(ws.url(&forged)).await.unwrap_err();

    let tungstenite::Error::Http(response) = error else {
        panic!("{error:?}")
    };
    assert_eq!(response.status(), 401);
    assert_eq!(ws.recorder.events("ws-connect").len(), 1);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(ws.recorder.events("ws-disconnect").is_empty());
    assert!(ws.connections.is_empty());
}

#[tokio::test]
async fn builds_the_connect_event_and_gives_an_api_gateway_like_connection_id() {
    let ws = Ws::start().await;
    let token = ws.pool.id_token();
    let (_client, id) = ws.connect().await;

    let event = ws.recorder.events("ws-connect").pop().unwrap();
    assert_eq!(id.len(), 16);
    assert!(id.ends_with('='));
    assert_eq!(event["queryStringParameters"]["token"], token.as_str());
    assert_eq!(event["multiValueQueryStringParameters"]["token"], json!([token]));
    assert_eq!(event["headers"]["Host"], ws.server.addr().to_string());
    assert_eq!(event["headers"]["Sec-WebSocket-Version"], "13");
    assert!(event["headers"].get("Sec-WebSocket-Key").is_some());
    assert!(event["headers"].get("Upgrade").is_none());
    assert_eq!(event["headers"]["X-Forwarded-For"], "127.0.0.1");
    assert_eq!(event["multiValueHeaders"]["Sec-WebSocket-Version"], json!(["13"]));
    assert_eq!(event["isBase64Encoded"], false);
    let context = &event["requestContext"];
    assert_eq!(context["routeKey"], "$connect");
    assert_eq!(context["eventType"], "CONNECT");
    assert_eq!(context["messageDirection"], "IN");
    assert_eq!(context["stage"], "local");
    assert_eq!(context["apiId"], "cosmoswebs");
    assert_eq!(context["connectionId"], id.as_str());
    assert_eq!(context["domainName"], ws.server.addr().to_string());
    assert_eq!(context["identity"]["sourceIp"], "127.0.0.1");
    assert!(context["identity"].get("userAgent").is_some());
    assert!(context["connectedAt"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(context["requestTime"].as_str().unwrap().ends_with(" +0000"));
    let typed: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).unwrap();
    assert_eq!(typed.request_context.connection_id.as_deref(), Some(id.as_str()));
    assert_eq!(ws.connections.ids(), vec![id]);
}

#[tokio::test]
async fn sends_each_text_frame_to_the_default_route_with_its_body() {
    let ws = Ws::start().await;
    let (mut client, id) = ws.connect().await;

    client
        .send(tungstenite::Message::text(r#"{"action":"heartbeat"}"#))
        .await
        .unwrap();
    client.send(tungstenite::Message::text("not json")).await.unwrap();

    let events = ws.recorder.wait_for("ws-default", 2).await;
    let mut bodies: Vec<&str> = events.iter().map(|e| e["body"].as_str().unwrap()).collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["not json", r#"{"action":"heartbeat"}"#]);
    for event in &events {
        let context = &event["requestContext"];
        assert_eq!(context["routeKey"], "$default");
        assert_eq!(context["eventType"], "MESSAGE");
        assert_eq!(context["connectionId"], id.as_str());
        assert_eq!(context["messageId"].as_str().unwrap().len(), 16);
        assert_eq!(event["isBase64Encoded"], false);
        let typed: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event.clone()).unwrap();
        assert_eq!(typed.request_context.event_type.as_deref(), Some("MESSAGE"));
    }
    assert_ne!(
        events[0]["requestContext"]["messageId"],
        events[1]["requestContext"]["messageId"]
    );
}

#[tokio::test]
async fn selects_a_route_by_the_body_action() {
    let ws = Ws::start_with(WebSocketOptions::default(), |functions, recorder| {
        recorder.register(functions, "custom-fn", json!({ "statusCode": 200 }));
    })
    .await;
    let (mut client, _) = ws.connect().await;

    client
        .send(tungstenite::Message::text(r#"{"action":"custom-action"}"#))
        .await
        .unwrap();

    let event = ws.recorder.wait_for("custom-fn", 1).await.pop().unwrap();
    assert_eq!(event["requestContext"]["routeKey"], "custom-action");
    assert!(ws.recorder.events("ws-default").is_empty());
}

#[tokio::test]
async fn tells_the_client_when_the_default_route_fails() {
    let ws = Ws::start_with(WebSocketOptions::default(), |functions, recorder| {
        recorder.register_failing(functions, "ws-default");
    })
    .await;
    let (mut client, id) = ws.connect().await;

    client
        .send(tungstenite::Message::text(r#"{"action":"heartbeat"}"#))
        .await
        .unwrap();

    let frame: Value = serde_json::from_str(&next_text(&mut client).await).unwrap();
    assert_eq!(frame["message"], "Internal server error");
    assert_eq!(frame["connectionId"], id.as_str());
    assert!(frame["requestId"].is_string());
}

#[tokio::test]
async fn fires_disconnect_with_the_client_close_code_and_reason() {
    let ws = Ws::start().await;
    let (mut client, id) = ws.connect().await;

    client
        .close(Some(tungstenite::protocol::CloseFrame {
            code: CloseCode::Normal,
            reason: "bye".into(),
        }))
        .await
        .unwrap();

    let event = ws.recorder.wait_for("ws-disconnect", 1).await.pop().unwrap();
    let context = &event["requestContext"];
    assert_eq!(context["routeKey"], "$disconnect");
    assert_eq!(context["eventType"], "DISCONNECT");
    assert_eq!(context["connectionId"], id.as_str());
    assert_eq!(context["disconnectStatusCode"], 1000);
    assert_eq!(context["disconnectReason"], "bye");
    let typed: ApiGatewayWebsocketProxyRequest = serde_json::from_value(event).unwrap();
    assert_eq!(typed.request_context.disconnect_status_code, Some(1000));
    assert!(ws.connections.is_empty());
}

#[tokio::test]
async fn fires_disconnect_when_the_client_vanishes() {
    let ws = Ws::start().await;
    let (client, _) = ws.connect().await;

    drop(client);

    let event = ws.recorder.wait_for("ws-disconnect", 1).await.pop().unwrap();
    assert_eq!(event["requestContext"]["disconnectStatusCode"], 1006);
}

#[tokio::test]
async fn posts_to_a_connection_through_the_management_api() {
    let ws = Ws::start().await;
    let (mut client, id) = ws.connect().await;
    let encoded: String = url::form_urlencoded::byte_serialize(id.as_bytes()).collect();

    let plain = reqwest::Client::new()
        .post(format!("http://{}/@connections/{encoded}", ws.server.addr()))
        .body(r#"{"type":"HEARTBEAT_ACK"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), 200);
    assert_eq!(next_text(&mut client).await, r#"{"type":"HEARTBEAT_ACK"}"#);

    ws.management()
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new(r#"{"type":"READY","data":{}}"#))
        .send()
        .await
        .unwrap();
    assert_eq!(next_text(&mut client).await, r#"{"type":"READY","data":{}}"#);
}

#[tokio::test]
async fn reports_connection_info_through_the_sdk() {
    let ws = Ws::start().await;
    let (_client, id) = ws.connect().await;

    let info = ws
        .management()
        .get_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();

    assert!(info.connected_at().is_some());
    assert!(info.last_active_at().is_some());
    let identity = info.identity().unwrap();
    assert_eq!(identity.source_ip(), Some("127.0.0.1"));
}

#[tokio::test]
async fn closes_a_connection_deleted_through_the_sdk_and_fires_disconnect() {
    let ws = Ws::start().await;
    let (mut client, id) = ws.connect().await;

    ws.management()
        .delete_connection()
        .connection_id(&id)
        .send()
        .await
        .unwrap();

    let frame = next_close(&mut client).await.unwrap();
    assert_eq!(frame.code, CloseCode::Normal);
    let event = ws.recorder.wait_for("ws-disconnect", 1).await.pop().unwrap();
    assert_eq!(event["requestContext"]["connectionId"], id.as_str());
}

#[tokio::test]
async fn answers_gone_for_a_closed_connection_so_the_sdk_reports_gone_exception() {
    let ws = Ws::start().await;
    let (mut client, id) = ws.connect().await;
    client.close(None).await.unwrap();
    ws.recorder.wait_for("ws-disconnect", 1).await;

    let error = ws
        .management()
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new("late"))
        .send()
        .await
        .unwrap_err();

    assert!(
        error
            .as_service_error()
            .is_some_and(PostToConnectionError::is_gone_exception),
        "{error:?}"
    );
    let raw = reqwest::Client::new()
        .get(format!("http://{}/local/@connections/{id}", ws.server.addr()))
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), 410);
    assert_eq!(raw.headers()["x-amzn-errortype"], "GoneException");
    assert_eq!(raw.json::<Value>().await.unwrap(), json!({ "message": null }));
}

#[tokio::test]
async fn answers_gone_for_an_unknown_connection() {
    let ws = Ws::start().await;
    let error = ws
        .management()
        .delete_connection()
        .connection_id("AAAAAAAAAAAAAAA=")
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .is_some_and(DeleteConnectionError::is_gone_exception),
        "{error:?}"
    );
}

#[tokio::test]
async fn answers_413_for_a_post_over_128_kb() {
    let ws = Ws::start().await;
    let (_client, id) = ws.connect().await;
    let error = ws
        .management()
        .post_to_connection()
        .connection_id(&id)
        .data(Blob::new(vec![b'x'; 128 * 1024 + 1]))
        .send()
        .await
        .unwrap_err();
    assert!(
        error
            .as_service_error()
            .is_some_and(PostToConnectionError::is_payload_too_large_exception),
        "{error:?}"
    );
}

#[tokio::test]
async fn closes_with_1009_when_a_client_message_is_over_32_kb() {
    let ws = Ws::start().await;
    let (mut client, _) = ws.connect().await;

    client
        .send(tungstenite::Message::text("x".repeat(32 * 1024 + 1)))
        .await
        .unwrap();

    let frame = next_close(&mut client).await.unwrap();
    assert_eq!(u16::from(frame.code), 1009);
    assert_eq!(frame.reason.as_str(), "Message too big");
    let event = ws.recorder.wait_for("ws-disconnect", 1).await.pop().unwrap();
    assert_eq!(event["requestContext"]["disconnectStatusCode"], 1009);
    assert!(ws.recorder.events("ws-default").is_empty());
}

#[tokio::test]
async fn closes_idle_connections_with_1001() {
    let options = WebSocketOptions {
        idle_timeout: Duration::from_millis(300),
        ..WebSocketOptions::default()
    };
    let ws = Ws::start_with(options, |_, _| {}).await;
    let (mut client, _) = ws.connect().await;

    let frame = next_close(&mut client).await.unwrap();

    assert_eq!(frame.code, CloseCode::Away);
    let event = ws.recorder.wait_for("ws-disconnect", 1).await.pop().unwrap();
    assert_eq!(event["requestContext"]["disconnectStatusCode"], 1001);
    assert_eq!(event["requestContext"]["disconnectReason"], "Going away");
}

#[tokio::test]
async fn closes_connections_at_the_maximum_lifetime_even_when_busy() {
    let options = WebSocketOptions {
        idle_timeout: Duration::from_millis(500),
        max_lifetime: Duration::from_secs(1),
        ..WebSocketOptions::default()
    };
    let ws = Ws::start_with(options, |_, _| {}).await;
    let (mut client, _) = ws.connect().await;
    let started = std::time::Instant::now();

    let frame = loop {
        tokio::select! {
            frame = next_close(&mut client) => break frame,
            () = tokio::time::sleep(Duration::from_millis(50)) => {}
        }
        let _ = client
            .send(tungstenite::Message::text("{\"action\":\"heartbeat\"}"))
            .await;
    };

    assert_eq!(frame.unwrap().code, CloseCode::Away);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn refuses_an_unknown_stage_with_403() {
    let ws = Ws::start().await;
    let url = format!("ws://{}/prod?token={}", ws.server.addr(), ws.pool.id_token());
    let error = tokio_tungstenite::connect_async(url).await.unwrap_err();
    let tungstenite::Error::Http(response) = error else {
        panic!("{error:?}")
    };
    assert_eq!(response.status(), 403);
    assert_eq!(ws.recorder.count(), 0);
}

/// WebSocket event rules for the shape comparison: header and query maps hold data; identity
/// fields vary by event type and API key use.
const WS_EVENT_RULES: ShapeRules<'static> = ShapeRules {
    maps: &[
        "headers",
        "multiValueHeaders",
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "requestContext.identity",
        "stageVariables",
    ],
    optional: &["stageVariables"],
};

/// One connection's three events: `$connect` (with `query`), a message, `$disconnect`.
async fn session_events(ws: &Ws, query: &str, body: &str) -> (Value, Value, Value) {
    let before = ws.recorder.events("ws-connect").len();
    let url = format!("ws://{}/local?{query}", ws.server.addr());
    let mut request = tungstenite::client::IntoClientRequest::into_client_request(url).unwrap();
    request
        .headers_mut()
        .insert("user-agent", "Mozilla/5.0".parse().unwrap());
    let connected = tokio_tungstenite::connect_async(request).await;
    let connect = ws.recorder.wait_for("ws-connect", before + 1).await.pop().unwrap();
    let Ok((mut client, _)) = connected else {
        return (connect, Value::Null, Value::Null);
    };
    let messages = ws.recorder.events("ws-default").len();
    client.send(tungstenite::Message::text(body)).await.unwrap();
    let message = ws.recorder.wait_for("ws-default", messages + 1).await.pop().unwrap();
    let disconnects = ws.recorder.events("ws-disconnect").len();
    client.close(None).await.unwrap();
    let disconnect = ws
        .recorder
        .wait_for("ws-disconnect", disconnects + 1)
        .await
        .pop()
        .unwrap();
    (connect, message, disconnect)
}

#[tokio::test]
async fn builds_events_shaped_like_the_reference_events() {
    let ws = Ws::start().await;
    let query = format!("token={}", ws.pool.id_token());
    let (connect, message, disconnect) = session_events(&ws, &query, r#"{"action":"hello-not-routed"}"#).await;

    for (built, reference) in [
        (connect, CONNECT_REFERENCE),
        (message, MESSAGE_REFERENCE),
        (disconnect, DISCONNECT_REFERENCE),
    ] {
        let reference: Value = serde_json::from_str(reference).unwrap();
        let differences = shape_differences(&built, &reference, &WS_EVENT_RULES);
        assert!(
            differences.is_empty(),
            "{}:\n  {}",
            reference["requestContext"]["eventType"],
            differences.join("\n  ")
        );
    }
}

/// The query string a sample `$connect` describes, with a valid token in place of its token.
fn sample_query(ws: &Ws, sample: &Value) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in sample["queryStringParameters"].as_object().into_iter().flatten() {
        if name == "token" {
            query.append_pair(name, &ws.pool.id_token());
        } else {
            query.append_pair(name, value.as_str().unwrap_or_default());
        }
    }
    query.finish()
}

#[tokio::test]
async fn builds_events_shaped_like_the_sample_events() {
    let ws = Ws::start().await;
    let token = format!("token={}", ws.pool.id_token());
    let mut compared: Vec<(String, Value, Value)> = Vec::new();
    for (file, sample) in sample_events("ws-connect") {
        let (connect, _, _) = session_events(&ws, &sample_query(&ws, &sample), "{}").await;
        compared.push((file, connect, sample));
    }
    for (file, sample) in sample_events("ws-default") {
        let body = sample["body"].as_str().unwrap_or_default().to_owned();
        let (_, message, _) = session_events(&ws, &token, &body).await;
        compared.push((file, message, sample));
    }
    for (file, sample) in sample_events("ws-disconnect") {
        let (_, _, disconnect) = session_events(&ws, &token, "{}").await;
        compared.push((file, disconnect, sample));
    }
    for (file, built, sample) in compared {
        let differences = shape_differences(&built, &sample, &WS_EVENT_RULES);
        assert!(differences.is_empty(), "{file}:\n  {}", differences.join("\n  "));
    }
}

#[tokio::test]
async fn closes_every_connection_on_shutdown_and_waits_for_disconnect() {
    let ws = Ws::start().await;
    let (mut client, _) = ws.connect().await;
    let closed = tokio::spawn(async move { next_close(&mut client).await });

    ws.connections.close_all(Duration::from_secs(5)).await;

    assert_eq!(
        ws.recorder.events("ws-disconnect").len(),
        1,
        "close_all returns after $disconnect ran"
    );
    assert_eq!(closed.await.unwrap().unwrap().code, CloseCode::Away);
    assert!(ws.connections.is_empty());
}
