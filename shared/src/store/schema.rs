//! Creating the single table from its definition (for the local stack and tests; the CDK app
//! creates it in the cloud from the same contract).

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, StreamSpecification, StreamViewType, TimeToLiveSpecification,
};

use aws_sdk_dynamodb::error::ProvideErrorMetadata as _;

use super::StoreError;
use crate::table::{GSI1, GSI1_PARTITION_KEY, GSI1_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

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

/// Creates the table (on-demand, GSI1, stream with new and old images, TTL on `expiresAt`)
/// and returns its stream ARN. An existing table is left as it is.
pub async fn create_table(client: &Client, table_name: &str) -> Result<Option<String>, StoreError> {
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
            if error.as_service_error().is_some_and(
                aws_sdk_dynamodb::operation::create_table::CreateTableError::is_resource_in_use_exception,
            ) => {}
        Err(error) => return Err(StoreError::from_sdk(&error)),
    }
    let ttl = client
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
        .await;
    // Re-enabling TTL on an existing table is refused: the setting is already there.
    if let Err(error) = ttl {
        let already_enabled = error
            .as_service_error()
            .and_then(|e| e.message())
            .is_some_and(|m| m.contains("already enabled"));
        if !already_enabled {
            return Err(StoreError::from_sdk(&error));
        }
    }
    let described = client
        .describe_table()
        .table_name(table_name)
        .send()
        .await
        .map_err(|error| StoreError::from_sdk(&error))?;
    Ok(described.table.and_then(|table| table.latest_stream_arn))
}
