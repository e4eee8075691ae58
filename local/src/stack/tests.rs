#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Instant;

use serde_json::{Value, json};

use super::*;
use crate::cognito::CognitoClient;
use crate::gateway::test_support::Recorder;
use crate::services::CONFIRMATION_CODE;
use crate::services::test_support::TestDir;

const PASSWORD: &str = "Correct-Horse-9";

/// Stand-in functions: `auth-hooks` returns the trigger event, `ws-connect` verifies the token
/// like the real one, `ws-broadcast` reports no failures, the rest answer 200; all record.
fn functions(recorder: Recorder) -> FunctionsFactory {
    functions_factory(move |env: FunctionEnv| async move {
        let mut functions = Functions::new();
        for name in ["servers", "messages", "message-post", "ws-default", "ws-disconnect"] {
            recorder.register(&mut functions, name, json!({ "statusCode": 200, "body": "{}" }));
        }
        let hooks = recorder.clone();
        functions.insert("auth-hooks", move |event: Value| {
            hooks.record("auth-hooks", event.clone());
            async move { Ok(event) }
        });
        recorder.register(&mut functions, "ws-broadcast", json!({ "batchItemFailures": [] }));
        let token = shared::config::TokenConfig::from_lookup(&|name: &str| env.var(name))?;
        let verifier = Arc::new(TokenVerifier::new(token));
        let connects = recorder.clone();
        functions.insert("ws-connect", move |event: Value| {
            connects.record("ws-connect", event.clone());
            let verifier = verifier.clone();
            async move {
                let token = event["queryStringParameters"]["token"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                let status = if verifier.verify(&token).await.is_ok() {
                    200
                } else {
                    401
                };
                Ok(json!({ "statusCode": status }))
            }
        });
        Ok(functions)
    })
}

#[tokio::test]
async fn runs_the_whole_stack_with_real_clients() {
    let dir = TestDir::new("stack");
    let recorder = Recorder::default();
    let stack = Stack::start(StackOptions::new(dir.path(), functions(recorder.clone())))
        .await
        .unwrap();
    let config = stack.client_config().clone();

    let path = dir.path().join("out/local.json");
    stack.write_client_config(&path).unwrap();
    let written: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut keys: Vec<&String> = written.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "bucket",
            "cognitoEndpoint",
            "httpApiUrl",
            "region",
            "userPoolClientId",
            "userPoolId",
            "webSocketUrl"
        ]
    );
    assert_eq!(serde_json::from_value::<ClientConfig>(written).unwrap(), config);
    assert!(config.web_socket_url.starts_with("ws://127.0.0.1:") && config.web_socket_url.ends_with("/local"));

    let cognito = CognitoClient::new(&config.cognito_endpoint);
    let user = cognito
        .sign_up(&config.user_pool_client_id, "ada@example.com", PASSWORD, "ada")
        .await
        .unwrap();
    cognito
        .confirm_sign_up(&config.user_pool_client_id, "ada@example.com", CONFIRMATION_CODE)
        .await
        .unwrap();
    let tokens = cognito
        .initiate_auth(&config.user_pool_client_id, "ada@example.com", PASSWORD)
        .await
        .unwrap();
    let triggers: Vec<String> = recorder
        .events("auth-hooks")
        .iter()
        .map(|event| event["triggerSource"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert!(triggers.iter().any(|t| t == "PreSignUp_SignUp"), "{triggers:?}");

    let http = reqwest::Client::new();
    let refused = http
        .get(format!("{}/servers", config.http_api_url))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    for token in [&tokens.id_token, &tokens.access_token] {
        let response = http
            .get(format!("{}/servers", config.http_api_url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
    }
    let event = recorder.events("servers").pop().unwrap();
    assert_eq!(
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"],
        user.user_sub.as_str()
    );

    let forged = tokio_tungstenite::connect_async(format!("{}?token=nope", config.web_socket_url)).await;
    assert!(forged.is_err());
    let (_socket, _) = tokio_tungstenite::connect_async(format!("{}?token={}", config.web_socket_url, tokens.id_token))
        .await
        .unwrap();
    assert_eq!(stack.connections().len(), 1);

    let dynamodb = aws_sdk_dynamodb::Client::new(&stack.function_env().aws);
    let table = stack.function_env().var("TABLE_NAME").unwrap();
    let written_at = Instant::now();
    dynamodb
        .put_item()
        .table_name(&table)
        .item(
            "PK",
            aws_sdk_dynamodb::types::AttributeValue::S("CHANNEL#01J9".to_owned()),
        )
        .item("SK", aws_sdk_dynamodb::types::AttributeValue::S("MSG#01JA".to_owned()))
        .item(
            "content",
            aws_sdk_dynamodb::types::AttributeValue::S("hello".to_owned()),
        )
        .send()
        .await
        .unwrap();
    let batches = recorder.wait_for("ws-broadcast", 1).await;
    let elapsed = written_at.elapsed();
    let records = batches
        .iter()
        .flat_map(|b| b["Records"].as_array().unwrap().clone())
        .collect::<Vec<_>>();
    let record = records
        .iter()
        .find(|r| r["dynamodb"]["Keys"]["SK"]["S"] == "MSG#01JA")
        .expect("the insert reaches ws-broadcast");
    assert_eq!(record["eventName"], "INSERT");
    assert_eq!(record["dynamodb"]["NewImage"]["content"], json!({ "S": "hello" }));
    assert!(record["eventSourceARN"].as_str().unwrap().contains(&table));
    assert!(elapsed < Duration::from_secs(1), "stream delivery took {elapsed:?}");

    stack.shutdown().await;
    let disconnects = recorder.wait_for("ws-disconnect", 1).await;
    assert_eq!(disconnects[0]["requestContext"]["disconnectStatusCode"], 1001);
}
