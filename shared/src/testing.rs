//! Test support (feature `testing`): a fresh, uniquely named table on the local DynamoDB
//! stand-in for every test, reached through the real SDK client.
//!
//! The endpoint comes from `COSMOS_TEST_AWS_ENDPOINT` (`make test` starts moto and sets it).

use aws_sdk_dynamodb::Client;

use crate::config::TableConfig;
use crate::store::{Store, create_table};

/// The variable naming the DynamoDB-compatible endpoint tests use.
pub const ENDPOINT_VARIABLE: &str = "COSMOS_TEST_AWS_ENDPOINT";

/// An SDK client for the local stand-in (dummy credentials, fixed region).
pub fn dynamodb_client(endpoint: &str) -> Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(aws_sdk_dynamodb::config::Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
            "test",
            "test",
            None,
            None,
            "cosmos-tests",
        ))
        .build();
    Client::from_conf(config)
}

/// The local endpoint, or a panic that says how to get one.
pub fn endpoint() -> String {
    std::env::var(ENDPOINT_VARIABLE).unwrap_or_else(|_| {
        panic!("{ENDPOINT_VARIABLE} is not set: run the tests with `make test` (it starts the local DynamoDB)")
    })
}

/// A store over a brand-new table, so tests never see each other's items.
pub async fn fresh_store() -> Store {
    let client = dynamodb_client(&endpoint());
    let table_name = format!("cosmos-test-{}", crate::ids::new_id().to_lowercase());
    if let Err(error) = create_table(&client, &table_name).await {
        panic!("creating test table {table_name} failed: {error}");
    }
    Store::new(client, &TableConfig { table_name })
}

/// A random user id shaped like a Cognito `sub`.
pub fn user_id() -> String {
    let hex = format!("{:032x}", rand::random::<u128>());
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// A sample HTTP API event from `events/` made to come from `user_id`, with the given path
/// parameters and body (`None` keeps the sample's body).
pub fn http_event(
    sample_json: &str,
    user_id: &str,
    path_parameters: &[(&str, &str)],
    body: Option<&str>,
) -> aws_lambda_events::apigw::ApiGatewayV2httpRequest {
    let mut event: serde_json::Value =
        serde_json::from_str(sample_json).unwrap_or_else(|error| panic!("sample event is not JSON: {error}"));
    event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = user_id.into();
    event["requestContext"]["authorizer"]["jwt"]["claims"]["cognito:username"] = user_id.into();
    for (name, value) in path_parameters {
        event["pathParameters"][*name] = (*value).into();
    }
    if let Some(body) = body {
        event["body"] = body.into();
    }
    serde_json::from_value(event).unwrap_or_else(|error| panic!("sample event does not fit the request type: {error}"))
}

/// Sets (or with `None`, removes) query string parameters of an HTTP API event.
pub fn with_query(
    request: aws_lambda_events::apigw::ApiGatewayV2httpRequest,
    pairs: &[(&str, &str)],
) -> aws_lambda_events::apigw::ApiGatewayV2httpRequest {
    let mut event = serde_json::to_value(request).unwrap_or_default();
    let query: serde_json::Map<String, serde_json::Value> = pairs
        .iter()
        .map(|(name, value)| ((*name).to_owned(), (*value).into()))
        .collect();
    event["rawQueryString"] = pairs
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&")
        .into();
    event["queryStringParameters"] = query.into();
    serde_json::from_value(event).unwrap_or_else(|error| panic!("event with query does not fit: {error}"))
}

/// The status and JSON body of a handler's response.
pub fn status_and_json(response: &aws_lambda_events::apigw::ApiGatewayV2httpResponse) -> (i64, serde_json::Value) {
    let body = match &response.body {
        Some(aws_lambda_events::encodings::Body::Text(text)) => serde_json::from_str(text).unwrap_or_default(),
        _ => serde_json::Value::Null,
    };
    (response.status_code, body)
}
