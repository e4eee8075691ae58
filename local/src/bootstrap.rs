//! Creates the local stack's resources on the stand-ins, as the CDK stack does in the cloud:
//!
//! - the table on moto (key schema, GSI, TTL attribute and stream view from
//!   `shared/contract/table.json`; on-demand billing; stream `NEW_AND_OLD_IMAGES`; TTL on;
//!   point-in-time recovery on);
//! - the media bucket on moto (path-style `PUT /<bucket>`);
//! - on cognito-local: a user pool signing in by email (`UsernameAttributes: ["email"]`, the handle
//!   in `preferred_username`, email auto-verified) and a public app client allowing
//!   `USER_PASSWORD_AUTH`, `USER_SRP_AUTH` and refresh, with AWS's default token lifetimes
//!   (id/access 60 min, refresh 30 days).
//!
//! Every step is idempotent: an existing table, bucket, pool (by name) or app client (by name)
//! is reused, so calling [`bootstrap`] twice gives the same ids.

use std::time::Duration;

use anyhow::{Context as _, bail};
use aws_sdk_dynamodb::Client as DynamoDb;
use aws_sdk_dynamodb::config::{Credentials, Region};
use serde_json::{Value, json};

use crate::cognito::CognitoClient;

/// Names of the resources to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BootstrapOptions {
    /// Region the SDK clients sign for (moto keeps state per region).
    pub region: String,
    /// The table's name (`TABLE_NAME` for the functions).
    pub table_name: String,
    /// The media bucket's name.
    pub bucket: String,
    /// The user pool's name.
    pub user_pool_name: String,
    /// The app client's name.
    pub user_pool_client_name: String,
}

impl Default for BootstrapOptions {
    fn default() -> Self {
        Self {
            region: "us-east-1".to_owned(),
            table_name: "cosmos-local".to_owned(),
            bucket: "cosmos-local-media".to_owned(),
            user_pool_name: "cosmos-local".to_owned(),
            user_pool_client_name: "cosmos-local-web".to_owned(),
        }
    }
}

pub use shared::store::TableInfo;

/// What [`bootstrap`] created (or found).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resources {
    /// The table.
    pub table: TableInfo,
    /// The media bucket's name.
    pub bucket: String,
    /// The user pool id (`local_...`).
    pub user_pool_id: String,
    /// The app client id.
    pub user_pool_client_id: String,
}

/// Creates (or finds) the table, the bucket, the user pool and its app client.
pub async fn bootstrap(
    moto_endpoint: &str,
    cognito_endpoint: &str,
    opts: &BootstrapOptions,
) -> anyhow::Result<Resources> {
    let dynamodb = dynamodb_client(moto_endpoint, &opts.region);
    let cognito = CognitoClient::new(cognito_endpoint);
    let (table, (), (user_pool_id, user_pool_client_id)) = tokio::try_join!(
        ensure_table(&dynamodb, &opts.table_name),
        ensure_bucket(moto_endpoint, &opts.region, &opts.bucket),
        ensure_user_pool(&cognito, &opts.user_pool_name, &opts.user_pool_client_name),
    )?;
    Ok(Resources {
        table,
        bucket: opts.bucket.clone(),
        user_pool_id,
        user_pool_client_id,
    })
}

/// A DynamoDB client for moto (static dummy credentials; moto does not check them).
pub fn dynamodb_client(moto_endpoint: &str, region: &str) -> DynamoDb {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(aws_sdk_dynamodb::config::BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(moto_endpoint)
        .credentials_provider(Credentials::new("local", "local", None, None, "cosmos-local"))
        .build();
    DynamoDb::from_conf(config)
}

/// Creates the table if it does not exist (from the shared table definition), with its
/// stream, TTL and point-in-time recovery.
pub async fn ensure_table(client: &DynamoDb, name: &str) -> anyhow::Result<TableInfo> {
    let table = shared::store::create_table(client, name)
        .await
        .with_context(|| format!("creating table {name}"))?;
    tracing::info!(table = name, "table ready");
    Ok(table)
}

/// Creates the bucket with a path-style `PUT /<bucket>` (unsigned: moto does not check).
/// An existing bucket of ours is fine.
pub async fn ensure_bucket(moto_endpoint: &str, region: &str, bucket: &str) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let mut request = http.put(format!("{}/{bucket}", moto_endpoint.trim_end_matches('/')));
    if region != "us-east-1" {
        request = request.body(format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{region}</LocationConstraint></CreateBucketConfiguration>"
        ));
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("creating bucket {bucket}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() || body.contains("BucketAlreadyOwnedByYou") {
        return Ok(());
    }
    bail!("creating bucket {bucket}: {status}: {body}")
}

/// The `CreateUserPool` request for the Cosmos pool.
pub fn user_pool_request(pool_name: &str) -> Value {
    json!({
        "PoolName": pool_name,
        "UsernameAttributes": ["email"],
        "AutoVerifiedAttributes": ["email"],
        "UsernameConfiguration": { "CaseSensitive": false },
        "Schema": [
            { "Name": "email", "AttributeDataType": "String", "Required": true, "Mutable": true },
            { "Name": "preferred_username", "AttributeDataType": "String", "Mutable": true },
        ],
        "Policies": { "PasswordPolicy": {
            "MinimumLength": 8,
            "RequireLowercase": true,
            "RequireUppercase": true,
            "RequireNumbers": true,
            "RequireSymbols": false,
        } },
        "AdminCreateUserConfig": { "AllowAdminCreateUserOnly": false },
    })
}

/// The `CreateUserPoolClient` request for the Cosmos web/app client (public: no secret).
pub fn user_pool_client_request(user_pool_id: &str, client_name: &str) -> Value {
    json!({
        "UserPoolId": user_pool_id,
        "ClientName": client_name,
        "GenerateSecret": false,
        "ExplicitAuthFlows": [
            "ALLOW_USER_PASSWORD_AUTH",
            "ALLOW_USER_SRP_AUTH",
            "ALLOW_REFRESH_TOKEN_AUTH",
        ],
        "PreventUserExistenceErrors": "ENABLED",
        "IdTokenValidity": 60,
        "AccessTokenValidity": 60,
        "RefreshTokenValidity": 30,
        "TokenValidityUnits": { "IdToken": "minutes", "AccessToken": "minutes", "RefreshToken": "days" },
    })
}

/// Finds the pool and app client by name, or creates them. Returns `(pool id, client id)`.
pub async fn ensure_user_pool(
    cognito: &CognitoClient,
    pool_name: &str,
    client_name: &str,
) -> anyhow::Result<(String, String)> {
    let existing = cognito
        .list_user_pools()
        .await
        .context("listing user pools")?
        .into_iter()
        .find(|p| p.name == pool_name);
    let pool_id = match existing {
        Some(pool) => pool.id,
        None => {
            cognito
                .create_user_pool(&user_pool_request(pool_name))
                .await
                .context("creating the user pool")?
                .id
        }
    };
    let existing = cognito
        .list_user_pool_clients(&pool_id)
        .await
        .context("listing app clients")?
        .into_iter()
        .find(|c| c.client_name == client_name);
    let client_id = match existing {
        Some(client) => client.client_id,
        None => {
            cognito
                .create_user_pool_client(&user_pool_client_request(&pool_id, client_name))
                .await
                .context("creating the app client")?
                .client_id
        }
    };
    Ok((pool_id, client_id))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::services::test_support::{LambdaStub, TestDir, start_services};
    use aws_sdk_dynamodb::types::{BillingMode, KeySchemaElement, KeyType, StreamViewType, TimeToLiveStatus};

    #[tokio::test]
    async fn creates_table_bucket_and_pool_and_is_idempotent() {
        let dir = TestDir::new("bootstrap");
        let lambda = LambdaStub::start().await;
        let services = start_services(&dir, &lambda.url).await;
        let opts = BootstrapOptions::default();

        let first = bootstrap(&services.moto_endpoint, &services.cognito_endpoint, &opts)
            .await
            .unwrap();
        let second = bootstrap(&services.moto_endpoint, &services.cognito_endpoint, &opts)
            .await
            .unwrap();

        assert_eq!(first, second);
        assert!(first.user_pool_id.starts_with("local_"), "{}", first.user_pool_id);
        assert!(!first.user_pool_client_id.is_empty());
        assert!(
            first.table.stream_arn.contains(":table/cosmos-local/stream/"),
            "{}",
            first.table.stream_arn
        );

        let dynamodb = dynamodb_client(&services.moto_endpoint, &opts.region);
        let table = dynamodb
            .describe_table()
            .table_name(&opts.table_name)
            .send()
            .await
            .unwrap()
            .table
            .unwrap();
        let keys: Vec<(&str, &KeyType)> = table
            .key_schema()
            .iter()
            .map(|k| (k.attribute_name(), k.key_type()))
            .collect();
        assert_eq!(keys, [("PK", &KeyType::Hash), ("SK", &KeyType::Range)]);
        let gsi = &table.global_secondary_indexes()[0];
        assert_eq!(gsi.index_name(), Some("GSI1"));
        let gsi_keys: Vec<&str> = gsi.key_schema().iter().map(KeySchemaElement::attribute_name).collect();
        assert_eq!(gsi_keys, ["GSI1PK", "GSI1SK"]);
        let stream = table.stream_specification().unwrap();
        assert!(stream.stream_enabled());
        assert_eq!(stream.stream_view_type(), Some(&StreamViewType::NewAndOldImages));
        assert_eq!(table.latest_stream_arn(), Some(first.table.stream_arn.as_str()));
        assert_eq!(
            table.billing_mode_summary().and_then(|b| b.billing_mode()),
            Some(&BillingMode::PayPerRequest)
        );
        let ttl = dynamodb
            .describe_time_to_live()
            .table_name(&opts.table_name)
            .send()
            .await
            .unwrap()
            .time_to_live_description
            .unwrap();
        assert_eq!(ttl.attribute_name(), Some("expiresAt"));
        assert_eq!(ttl.time_to_live_status(), Some(&TimeToLiveStatus::Enabled));

        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let head = http
            .head(format!("{}/{}", services.moto_endpoint, opts.bucket))
            .send()
            .await
            .unwrap();
        assert_eq!(head.status(), 200);
        let missing = http
            .head(format!("{}/no-such-bucket", services.moto_endpoint))
            .send()
            .await
            .unwrap();
        assert_eq!(missing.status(), 404);

        let cognito = CognitoClient::new(&services.cognito_endpoint);
        let pools = cognito.list_user_pools().await.unwrap();
        assert_eq!(pools.len(), 1);
        services.shutdown().await;
    }
}
