#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use crate::gateway::ServerHandle;
use crate::gateway::shape::{ShapeRules, assert_same_shape};
use crate::gateway::test_support::{CLIENT_ID, Recorder, TestPool, USER, sample_events, serve};
use aws_lambda_events::apigw::ApiGatewayV2httpRequest;

const REFERENCE: &str = include_str!("../testdata/http-api-v2-jwt.json");

/// The HTTP functions of the contract, recording their events and answering `reply`.
struct Api {
    server: ServerHandle,
    recorder: Recorder,
    pool: TestPool,
}

impl Api {
    async fn start(reply: Value) -> Self {
        Self::start_with(reply, HttpApiOptions::default(), false).await
    }

    async fn start_with(reply: Value, options: HttpApiOptions, failing: bool) -> Self {
        let pool = TestPool::start().await;
        let recorder = Recorder::default();
        let mut functions = Functions::new();
        for name in ["servers", "messages", "message-post"] {
            if failing {
                recorder.register_failing(&mut functions, name);
            } else {
                recorder.register(&mut functions, name, reply.clone());
            }
        }
        let api = HttpApi::new(
            Arc::new(RouteTable::cosmos().unwrap()),
            Arc::new(functions),
            pool.authorizer(),
            ApiSettings::default(),
            options,
        );
        let server = serve(api.router()).await;
        Self { server, recorder, pool }
    }

    fn url(&self, path_and_query: &str) -> String {
        format!("http://{}{path_and_query}", self.server.addr())
    }
}

fn ok_reply() -> Value {
    json!({ "statusCode": 200, "headers": { "content-type": "application/json" }, "body": "[]" })
}

#[tokio::test]
async fn builds_the_payload_v2_event_with_claims_path_parameters_and_query() {
    let api = Api::start(ok_reply()).await;
    let response = reqwest::Client::new()
        .get(api.url("/channels/01J9Z3/messages?limit=10&before=01J9Z2&limit=20&q=a%20b"))
        .header("authorization", format!("Bearer {}", api.pool.id_token()))
        .header("cookie", "theme=dark; locale=en")
        .header("X-Custom", "one")
        .header("x-custom", "two")
        .header("user-agent", "cosmos-test/1.0")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let request_id = response.headers()["apigw-requestid"].to_str().unwrap().to_owned();
    let event = api.recorder.events("messages").pop().unwrap();
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "GET /channels/{channelId}/messages");
    assert_eq!(event["rawPath"], "/channels/01J9Z3/messages");
    assert_eq!(event["rawQueryString"], "limit=10&before=01J9Z2&limit=20&q=a%20b");
    assert_eq!(
        event["queryStringParameters"],
        json!({ "limit": "10,20", "before": "01J9Z2", "q": "a b" })
    );
    assert_eq!(event["pathParameters"], json!({ "channelId": "01J9Z3" }));
    assert_eq!(event["cookies"], json!(["theme=dark", "locale=en"]));
    assert_eq!(event["headers"]["x-custom"], "one,two");
    assert_eq!(event["headers"]["user-agent"], "cosmos-test/1.0");
    assert_eq!(event["headers"]["x-forwarded-for"], "127.0.0.1");
    assert_eq!(event["headers"]["x-forwarded-proto"], "http");
    assert_eq!(
        event["headers"]["x-forwarded-port"],
        api.server.addr().port().to_string()
    );
    assert!(
        event["headers"]["x-amzn-trace-id"]
            .as_str()
            .unwrap()
            .starts_with("Root=1-")
    );
    assert!(event["headers"].get("cookie").is_none());
    assert!(
        event["headers"]
            .as_object()
            .unwrap()
            .keys()
            .all(|name| *name == name.to_lowercase())
    );
    assert!(event.get("body").is_none());
    assert_eq!(event["isBase64Encoded"], false);

    let context = &event["requestContext"];
    assert_eq!(context["routeKey"], "GET /channels/{channelId}/messages");
    assert_eq!(context["stage"], "$default");
    assert_eq!(context["requestId"], request_id.as_str());
    assert_eq!(context["accountId"], "123456789012");
    assert_eq!(context["apiId"], "cosmoshttp");
    assert_eq!(context["domainName"], api.server.addr().to_string());
    assert_eq!(context["domainPrefix"], "127");
    assert_eq!(
        context["http"],
        json!({
            "method": "GET",
            "path": "/channels/01J9Z3/messages",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "cosmos-test/1.0",
        })
    );
    assert!(context["timeEpoch"].as_i64().unwrap() > 1_700_000_000_000);
    assert!(context["time"].as_str().unwrap().ends_with(" +0000"));
    let claims = &context["authorizer"]["jwt"]["claims"];
    assert_eq!(claims["sub"], USER);
    assert_eq!(claims["aud"], CLIENT_ID);
    assert_eq!(claims["token_use"], "id");
    assert_eq!(claims["email_verified"], "true");
    assert!(claims["exp"].as_str().unwrap().parse::<u64>().is_ok());
    assert_eq!(context["authorizer"]["jwt"]["scopes"], Value::Null);

    let typed: ApiGatewayV2httpRequest = serde_json::from_value(event).unwrap();
    assert_eq!(typed.route_key.as_deref(), Some("GET /channels/{channelId}/messages"));
    assert_eq!(typed.path_parameters["channelId"], "01J9Z3");
    let jwt = typed.request_context.authorizer.unwrap().jwt.unwrap();
    assert_eq!(jwt.claims["sub"], USER);
}

#[tokio::test]
async fn accepts_an_access_token_as_a_bare_authorization_header_and_passes_its_scopes() {
    let api = Api::start(ok_reply()).await;
    let response = reqwest::Client::new()
        .get(api.url("/servers"))
        .header("authorization", api.pool.access_token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let event = api.recorder.events("servers").pop().unwrap();
    let jwt = &event["requestContext"]["authorizer"]["jwt"];
    assert_eq!(jwt["claims"]["client_id"], CLIENT_ID);
    assert_eq!(jwt["claims"]["token_use"], "access");
    assert_eq!(jwt["scopes"], json!(["aws.cognito.signin.user.admin"]));
    assert!(event.get("pathParameters").is_none());
    assert!(event.get("queryStringParameters").is_none());
    assert!(event.get("cookies").is_none());
}

#[tokio::test]
async fn passes_json_bodies_as_text_and_binary_bodies_as_base64() {
    let api = Api::start(ok_reply()).await;
    let client = reqwest::Client::new();
    let token = format!("Bearer {}", api.pool.id_token());
    client
        .post(api.url("/channels/01J9Z3/messages"))
        .header("authorization", &token)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"content":"héllo"}"#)
        .send()
        .await
        .unwrap();
    client
        .post(api.url("/servers"))
        .header("authorization", &token)
        .header("content-type", "image/png")
        .body(vec![0x89_u8, b'P', b'N', b'G', 0, 255])
        .send()
        .await
        .unwrap();

    let text = api.recorder.events("message-post").pop().unwrap();
    assert_eq!(text["body"], r#"{"content":"héllo"}"#);
    assert_eq!(text["isBase64Encoded"], false);
    let binary = api.recorder.events("servers").pop().unwrap();
    assert_eq!(binary["body"], STANDARD.encode([0x89_u8, b'P', b'N', b'G', 0, 255]));
    assert_eq!(binary["isBase64Encoded"], true);
}

async fn assert_refused(api: &Api, authorization: Option<String>) {
    let mut request = reqwest::Client::new().post(api.url("/servers")).body("{}");
    if let Some(authorization) = authorization {
        request = request.header("authorization", authorization);
    }
    let response = request.send().await.unwrap();

    assert_eq!(response.status(), 401);
    let challenge = response.headers()["www-authenticate"].to_str().unwrap().to_owned();
    assert!(challenge.starts_with("Bearer"), "{challenge}");
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Unauthorized" })
    );
    assert_eq!(api.recorder.count(), 0, "no function may run");
}

#[tokio::test]
async fn rejects_a_missing_token_with_401_before_any_function_runs() {
    let api = Api::start(ok_reply()).await;
    assert_refused(&api, None).await;
    assert_refused(&api, Some("Bearer ".to_owned())).await;
}

#[tokio::test]
async fn rejects_a_forged_token_with_401() {
    let api = Api::start(ok_reply()).await;
    assert_refused(&api, Some(format!("Bearer {}", TestPool::forge(&api.pool.id_claims())))).await;
}

#[tokio::test]
async fn rejects_an_expired_token_with_401() {
    let api = Api::start(ok_reply()).await;
    let mut claims = api.pool.id_claims();
    claims["exp"] = json!(1_000_000_000);
    assert_refused(&api, Some(format!("Bearer {}", TestPool::sign(&claims)))).await;
}

#[tokio::test]
async fn rejects_a_token_for_another_client_with_401() {
    let api = Api::start(ok_reply()).await;
    let mut id = api.pool.id_claims();
    id["aud"] = json!("someone-elses-client");
    let mut access = api.pool.access_claims();
    access["client_id"] = json!("someone-elses-client");
    assert_refused(&api, Some(format!("Bearer {}", TestPool::sign(&id)))).await;
    assert_refused(&api, Some(format!("Bearer {}", TestPool::sign(&access)))).await;
}

#[tokio::test]
async fn rejects_garbage_with_401() {
    let api = Api::start(ok_reply()).await;
    assert_refused(&api, Some("Bearer not-a-jwt".to_owned())).await;
    assert_refused(&api, Some("Basic dXNlcjpwYXNz".to_owned())).await;
}

#[tokio::test]
async fn answers_404_for_an_unknown_route_before_checking_the_token() {
    let api = Api::start(ok_reply()).await;
    let client = reqwest::Client::new();
    let unknown = client.get(api.url("/nowhere")).send().await.unwrap();
    let wrong_method = client
        .delete(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .send()
        .await
        .unwrap();

    for response in [unknown, wrong_method] {
        assert_eq!(response.status(), 404);
        assert!(response.headers().contains_key("apigw-requestid"));
        assert_eq!(
            response.json::<Value>().await.unwrap(),
            json!({ "message": "Not Found" })
        );
    }
    assert_eq!(api.recorder.count(), 0);
}

#[tokio::test]
async fn answers_413_for_a_body_over_the_cap() {
    let options = HttpApiOptions {
        body_limit: 1024,
        ..HttpApiOptions::default()
    };
    let api = Api::start_with(ok_reply(), options, false).await;
    let response = reqwest::Client::new()
        .post(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .body(vec![b'x'; 1025])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 413);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Request Entity Too Large" })
    );
    assert_eq!(api.recorder.count(), 0);
    assert_eq!(DEFAULT_BODY_LIMIT, 10 * 1024 * 1024);
}

#[tokio::test]
async fn answers_408_when_the_body_never_arrives() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let options = HttpApiOptions {
        body_timeout: Duration::from_millis(200),
        ..HttpApiOptions::default()
    };
    let api = Api::start_with(ok_reply(), options, false).await;
    let mut stream = tokio::net::TcpStream::connect(api.server.addr()).await.unwrap();
    let head = format!(
        "POST /servers HTTP/1.1\r\nhost: localhost\r\nauthorization: {}\r\ncontent-length: 100\r\n\r\n{{\"name\"",
        api.pool.id_token()
    );
    stream.write_all(head.as_bytes()).await.unwrap();

    let mut answer = vec![0; 1024];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut answer))
        .await
        .unwrap()
        .unwrap();

    let answer = String::from_utf8_lossy(&answer[..read]).to_string();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(api.recorder.count(), 0);
}

#[tokio::test]
async fn maps_the_function_result_to_the_response() {
    let reply = json!({
        "statusCode": 201,
        "headers": { "content-type": "application/json", "x-one": "1", "location": "/servers/1" },
        "multiValueHeaders": { "x-many": ["a", "b"] },
        "cookies": ["session=1; HttpOnly", "theme=dark"],
        "body": "{\"id\":\"1\"}",
        "isBase64Encoded": false,
    });
    let api = Api::start(reply).await;
    let response = reqwest::Client::new()
        .post(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .body("{}")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.headers()["x-one"], "1");
    assert_eq!(response.headers()["location"], "/servers/1");
    let many: Vec<&str> = response
        .headers()
        .get_all("x-many")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(many, ["a", "b"]);
    let cookies: Vec<&str> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["session=1; HttpOnly", "theme=dark"]);
    assert_eq!(response.text().await.unwrap(), r#"{"id":"1"}"#);
}

#[tokio::test]
async fn decodes_a_base64_result_body() {
    let reply = json!({ "statusCode": 200, "body": STANDARD.encode([0_u8, 1, 2]), "isBase64Encoded": true });
    let api = Api::start(reply).await;
    let response = reqwest::Client::new()
        .get(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), [0_u8, 1, 2]);
}

#[tokio::test]
async fn treats_a_result_without_status_code_as_a_200_json_body() {
    let api = Api::start(json!({ "servers": [] })).await;
    let response = reqwest::Client::new()
        .get(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "servers": [] }));
}

#[tokio::test]
async fn answers_500_like_api_gateway_when_the_function_fails() {
    let api = Api::start_with(Value::Null, HttpApiOptions::default(), true).await;
    let response = reqwest::Client::new()
        .get(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 500);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({ "message": "Internal Server Error" })
    );
    assert_eq!(api.recorder.count(), 1);
}

#[tokio::test]
async fn answers_500_for_a_malformed_result() {
    let api = Api::start(json!({ "statusCode": "two hundred" })).await;
    let response = reqwest::Client::new()
        .get(api.url("/servers"))
        .header("authorization", api.pool.id_token())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 500);
}

#[tokio::test]
async fn answers_cors_preflights_without_a_token() {
    let api = Api::start(ok_reply()).await;
    let response = reqwest::Client::new()
        .request(http::Method::OPTIONS, api.url("/servers"))
        .header("origin", "http://localhost:5173")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization,content-type")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 204);
    assert_eq!(response.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        response.headers()["access-control-allow-headers"],
        "authorization,content-type"
    );
    assert_eq!(api.recorder.count(), 0);
}

/// The HTTP API rules for [`assert_same_shape`]: maps whose keys are data, keys API Gateway only
/// sends for features we do not use (stage variables, mutual TLS).
pub(crate) const HTTP_EVENT_RULES: ShapeRules<'static> = ShapeRules {
    maps: &[
        "headers",
        "queryStringParameters",
        "pathParameters",
        "stageVariables",
        "requestContext.authorizer.jwt.claims",
    ],
    optional: &["stageVariables", "requestContext.authentication"],
};

/// Sends the request a sample event describes through the gateway and returns the built event.
async fn replay(api: &Api, sample: &Value) -> Value {
    let http = &sample["requestContext"]["http"];
    let method = http::Method::from_bytes(http["method"].as_str().unwrap().as_bytes()).unwrap();
    let raw_query = sample["rawQueryString"].as_str().unwrap_or_default();
    let path = sample["rawPath"].as_str().unwrap();
    let url = if raw_query.is_empty() {
        api.url(path)
    } else {
        api.url(&format!("{path}?{raw_query}"))
    };
    let mut request = reqwest::Client::new()
        .request(method, url)
        .header("authorization", format!("Bearer {}", api.pool.id_token()));
    if let Some(content_type) = sample["headers"].get("content-type").and_then(Value::as_str) {
        request = request.header("content-type", content_type);
    }
    if let Some(cookies) = sample["cookies"].as_array() {
        let joined: Vec<&str> = cookies.iter().filter_map(Value::as_str).collect();
        request = request.header("cookie", joined.join("; "));
    }
    if let Some(body) = sample["body"].as_str() {
        request = if sample["isBase64Encoded"] == true {
            request.body(STANDARD.decode(body).unwrap())
        } else {
            request.body(body.to_owned())
        };
    }
    let before = api.recorder.count();
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "replaying {}", sample["routeKey"]);
    assert_eq!(api.recorder.count(), before + 1);
    let function = RouteTable::cosmos()
        .unwrap()
        .match_http(http["method"].as_str().unwrap(), path)
        .unwrap()
        .route
        .function
        .clone();
    api.recorder.events(&function).pop().unwrap()
}

#[tokio::test]
async fn builds_events_shaped_like_the_reference_event() {
    let api = Api::start(ok_reply()).await;
    let reference: Value = serde_json::from_str(REFERENCE).unwrap();
    let built = replay(&api, &reference).await;
    assert_same_shape(&built, &reference, &HTTP_EVENT_RULES);
}

#[tokio::test]
async fn builds_events_shaped_like_the_sample_events() {
    let api = Api::start(ok_reply()).await;
    for function in ["servers", "messages", "message-post"] {
        for (file, sample) in sample_events(function) {
            if sample.get("version") != Some(&json!("2.0")) {
                continue;
            }
            let built = replay(&api, &sample).await;
            let differences = crate::gateway::shape::shape_differences(&built, &sample, &HTTP_EVENT_RULES);
            assert!(differences.is_empty(), "{file}:\n  {}", differences.join("\n  "));
        }
    }
}
