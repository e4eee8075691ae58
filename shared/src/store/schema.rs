//! Creating the single table from its definition (for the local stack and tests; the CDK app
//! creates it in the cloud from the same contract).

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::create_table::CreateTableError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    PointInTimeRecoverySpecification, Projection, ProjectionType, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableDescription, TableStatus, TimeToLiveSpecification, TimeToLiveStatus,
};

use super::StoreError;
use crate::table::{GSI1, GSI1_PARTITION_KEY, GSI1_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

/// What a created table is known by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The table's name.
    pub name: String,
    /// The table's ARN.
    pub arn: String,
    /// The ARN of its stream (new and old images).
    pub stream_arn: String,
}

fn build_error(error: impl std::fmt::Display) -> StoreError {
    StoreError::Sdk(error.to_string())
}

fn key_element(name: &str, key_type: KeyType) -> Result<KeySchemaElement, StoreError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .map_err(build_error)
}

fn string_attribute(name: &str) -> Result<AttributeDefinition, StoreError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(build_error)
}

/// Creates the table if it does not exist (on demand, GSI1, stream with new and old images),
/// waits until it is active, and makes sure TTL on `expiresAt` and point-in-time recovery are on.
pub async fn create_table(client: &Client, table_name: &str) -> Result<TableInfo, StoreError> {
    let created = client
        .create_table()
        .table_name(table_name)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key_element(PARTITION_KEY, KeyType::Hash)?)
        .key_schema(key_element(SORT_KEY, KeyType::Range)?)
        .attribute_definitions(string_attribute(PARTITION_KEY)?)
        .attribute_definitions(string_attribute(SORT_KEY)?)
        .attribute_definitions(string_attribute(GSI1_PARTITION_KEY)?)
        .attribute_definitions(string_attribute(GSI1_SORT_KEY)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(GSI1)
                .key_schema(key_element(GSI1_PARTITION_KEY, KeyType::Hash)?)
                .key_schema(key_element(GSI1_SORT_KEY, KeyType::Range)?)
                .projection(Projection::builder().projection_type(ProjectionType::All).build())
                .build()
                .map_err(build_error)?,
        )
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await;
    match created {
        Ok(_) => {}
        Err(error)
            if error
                .as_service_error()
                .is_some_and(CreateTableError::is_resource_in_use_exception) => {}
        Err(error) => return Err(StoreError::from_sdk(&error)),
    }
    let table = wait_until_active(client, table_name).await?;
    enable_ttl(client, table_name).await?;
    client
        .update_continuous_backups()
        .table_name(table_name)
        .point_in_time_recovery_specification(
            PointInTimeRecoverySpecification::builder()
                .point_in_time_recovery_enabled(true)
                .build()
                .map_err(build_error)?,
        )
        .send()
        .await
        .map_err(|error| StoreError::from_sdk(&error))?;
    Ok(TableInfo {
        name: table_name.to_owned(),
        arn: table.table_arn().unwrap_or_default().to_owned(),
        stream_arn: table
            .latest_stream_arn()
            .ok_or_else(|| StoreError::Sdk(format!("table {table_name} has no stream")))?
            .to_owned(),
    })
}

async fn enable_ttl(client: &Client, table_name: &str) -> Result<(), StoreError> {
    let described = client
        .describe_time_to_live()
        .table_name(table_name)
        .send()
        .await
        .map_err(|error| StoreError::from_sdk(&error))?;
    let enabled = described
        .time_to_live_description()
        .and_then(|description| description.time_to_live_status())
        .is_some_and(|status| matches!(status, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    if !enabled {
        client
            .update_time_to_live()
            .table_name(table_name)
            .time_to_live_specification(
                TimeToLiveSpecification::builder()
                    .enabled(true)
                    .attribute_name(TTL_ATTRIBUTE)
                    .build()
                    .map_err(build_error)?,
            )
            .send()
            .await
            .map_err(|error| StoreError::from_sdk(&error))?;
    }
    Ok(())
}

async fn wait_until_active(client: &Client, table_name: &str) -> Result<TableDescription, StoreError> {
    for _ in 0..100 {
        let described = client
            .describe_table()
            .table_name(table_name)
            .send()
            .await
            .map_err(|error| StoreError::from_sdk(&error))?;
        if let Some(table) = described.table
            && table.table_status() == Some(&TableStatus::Active)
        {
            return Ok(table);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(StoreError::Sdk(format!("table {table_name} did not become active")))
}
