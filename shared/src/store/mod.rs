//! The single-table store over `aws-sdk-dynamodb` and `serde_dynamo`. This module is the only
//! one that names SDK types; SDK errors are mapped once, in `StoreError::from_sdk`.
//!
//! Split by capability (servers, messages, connections, profiles) so each function touches only
//! what it needs. Reads that authorize use the base table with consistent reads, never GSI1.

mod connections;
mod messages;
mod profiles;
mod schema;
mod servers;

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::AttributeValue;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::config::TableConfig;
use crate::error::ApiError;
use crate::keys::{Gsi1Key, Key, PrefixQuery, RangeQuery};
use crate::table::{GSI1, GSI1_PARTITION_KEY, GSI1_SORT_KEY, PARTITION_KEY, SORT_KEY, TTL_ATTRIBUTE};

pub use connections::SubscriptionTarget;
pub use messages::PostOutcome;
pub use schema::{TableInfo, create_table};
pub use servers::JoinOutcome;

/// A DynamoDB item as raw attribute values (what stream records and the SDK carry).
pub type RawItem = HashMap<String, AttributeValue>;

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A condition failed: the item exists already, or no longer matches.
    #[error("conditional write failed")]
    Conflict,
    /// DynamoDB is throttling this table.
    #[error("throttled by DynamoDB")]
    Throttled,
    /// An item did not match its Rust shape.
    #[error("item has an unexpected shape: {0}")]
    Shape(#[from] serde_dynamo::Error),
    /// Anything else from the SDK (network, permissions, validation).
    #[error("DynamoDB request failed: {0}")]
    Sdk(String),
}

impl StoreError {
    /// Maps any SDK error once: condition failures, throttling, the rest.
    fn from_sdk<E, R>(error: &SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
        R: std::fmt::Debug,
    {
        match error.code() {
            Some("ConditionalCheckFailedException") => Self::Conflict,
            Some("ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded") => {
                Self::Throttled
            }
            _ => Self::Sdk(format!("{}", aws_sdk_dynamodb::error::DisplayErrorContext(error))),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict => ApiError::Conflict("the request conflicts with the current state".to_owned()),
            StoreError::Throttled => ApiError::TooManyRequests { retry_after_seconds: 1 },
            other => ApiError::internal(other),
        }
    }
}

/// An item as stored: the entity's fields plus its keys and optional TTL.
#[derive(Debug, Serialize, Deserialize)]
struct Stored<T> {
    #[serde(flatten)]
    key: Key,
    #[serde(flatten, default, skip_serializing_if = "Option::is_none")]
    gsi1: Option<Gsi1Key>,
    #[serde(rename = "expiresAt", default, skip_serializing_if = "Option::is_none")]
    ttl: Option<i64>,
    #[serde(flatten)]
    data: T,
}

impl<T> Stored<T> {
    fn new(key: Key, data: T) -> Self {
        Self {
            key,
            gsi1: None,
            ttl: None,
            data,
        }
    }

    fn with_gsi1(mut self, gsi1: Gsi1Key) -> Self {
        self.gsi1 = Some(gsi1);
        self
    }

    fn with_ttl(mut self, expires_at: i64) -> Self {
        self.ttl = Some(expires_at);
        self
    }

    /// DynamoDB deletes expired items late (or, locally, never): reads treat them as gone.
    fn is_live(&self, now: i64) -> bool {
        self.ttl.is_none_or(|expires_at| expires_at > now)
    }
}

/// Converts a raw stream image into an entity (fields other than `T`'s are ignored).
pub fn from_raw<T: DeserializeOwned>(item: RawItem) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// Why DynamoDB cancelled a transaction, from its per-action reason codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cancellation {
    /// A condition failed: the state is not what the write expects.
    Condition,
    /// Another transaction or throttling got in the way: worth retrying.
    Contention,
    /// Anything else (validation, size): not worth retrying.
    Other,
}

fn classify_cancellation(codes: &[Option<&str>]) -> Cancellation {
    let any = |wanted: &[&str]| codes.iter().flatten().any(|code| wanted.contains(code));
    if any(&["ConditionalCheckFailed"]) {
        Cancellation::Condition
    } else if any(&[
        "TransactionConflict",
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ]) {
        Cancellation::Contention
    } else {
        Cancellation::Other
    }
}

/// Waits before resending the items a batch left unprocessed (DynamoDB throttled part of it);
/// gives up as `Throttled` after five tries.
async fn back_off_unprocessed(attempt: &mut u32) -> Result<(), StoreError> {
    *attempt += 1;
    if *attempt > 5 {
        return Err(StoreError::Throttled);
    }
    tokio::time::sleep(std::time::Duration::from_millis(25 << *attempt)).await;
    Ok(())
}

/// Which key set a query runs on.
#[derive(Debug, Clone, Copy)]
enum Index {
    Table,
    Gsi1,
}

/// "No such item": absent, or past its TTL but not yet deleted (DynamoDB deletes late; an item
/// without the TTL attribute never matches the second half).
const NEW_ITEM_CONDITION: &str = "attribute_not_exists(#pk) OR #ttl < :now";

/// Most DynamoDB batch writes take 25 items.
const BATCH_WRITE_LIMIT: usize = 25;

/// The single table.
#[derive(Debug, Clone)]
pub struct Store {
    client: Client,
    table: String,
}

impl Store {
    /// A store over `client` for the configured table.
    pub fn new(client: Client, config: &TableConfig) -> Self {
        Self {
            client,
            table: config.table_name.clone(),
        }
    }

    /// A store with a client built from the shared SDK configuration (once per cold start).
    pub fn from_sdk_config(aws: &aws_config::SdkConfig, config: &TableConfig) -> Self {
        Self::new(Client::new(aws), config)
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    fn item<T: Serialize>(stored: &Stored<T>) -> Result<RawItem, StoreError> {
        Ok(serde_dynamo::to_item(stored)?)
    }

    fn key_attributes(key: &Key) -> RawItem {
        HashMap::from([
            (PARTITION_KEY.to_owned(), AttributeValue::S(key.pk.clone())),
            (SORT_KEY.to_owned(), AttributeValue::S(key.sk.clone())),
        ])
    }

    /// Strongly consistent get of a live item.
    async fn get<T: DeserializeOwned>(&self, key: &Key) -> Result<Option<Stored<T>>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attributes(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| StoreError::from_sdk(&error))?;
        let now = crate::clock::now_epoch_seconds();
        match output.item {
            Some(item) => Ok(Some(serde_dynamo::from_item::<_, Stored<T>>(item)?).filter(|stored| stored.is_live(now))),
            None => Ok(None),
        }
    }

    /// Put that fails with `Conflict` if the item exists.
    async fn put_new<T: Serialize>(&self, stored: &Stored<T>) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(Self::item(stored)?))
            .condition_expression(NEW_ITEM_CONDITION)
            .expression_attribute_names("#pk", PARTITION_KEY)
            .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
            .expression_attribute_values(":now", AttributeValue::N(crate::clock::now_epoch_seconds().to_string()))
            .send()
            .await
            .map_err(|error| StoreError::from_sdk(&error))?;
        Ok(())
    }

    /// Every live item of one partition whose sort key starts with a prefix, following pages.
    async fn query_prefix<T: DeserializeOwned>(&self, index: Index, query: &PrefixQuery) -> Result<Vec<T>, StoreError> {
        let (pk_name, sk_name) = match index {
            Index::Table => (PARTITION_KEY, SORT_KEY),
            Index::Gsi1 => (GSI1_PARTITION_KEY, GSI1_SORT_KEY),
        };
        let mut items = Vec::new();
        let mut start_key = None;
        let now = crate::clock::now_epoch_seconds();
        loop {
            let mut request = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
                .expression_attribute_names("#pk", pk_name)
                .expression_attribute_names("#sk", sk_name)
                .expression_attribute_values(":pk", AttributeValue::S(query.pk.clone()))
                .expression_attribute_values(":prefix", AttributeValue::S(query.sk_prefix.clone()))
                .set_exclusive_start_key(start_key);
            request = match index {
                Index::Table => request.consistent_read(true),
                Index::Gsi1 => request.index_name(GSI1),
            };
            let output = request.send().await.map_err(|error| StoreError::from_sdk(&error))?;
            for item in output.items.unwrap_or_default() {
                let stored: Stored<T> = serde_dynamo::from_item(item)?;
                if stored.is_live(now) {
                    items.push(stored.data);
                }
            }
            // An empty page may still carry a LastEvaluatedKey: keep going until it is absent.
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start_key = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Up to `limit` items of a bounded sort-key range, in either order, following pages
    /// (a page stops at 1 MB, so one request may return fewer than asked).
    async fn query_range<T: DeserializeOwned>(
        &self,
        query: &RangeQuery,
        limit: u32,
        ascending: bool,
    ) -> Result<Vec<T>, StoreError> {
        let wanted = usize::try_from(limit).unwrap_or(usize::MAX);
        let mut items = Vec::with_capacity(wanted.min(100));
        let mut start_key = None;
        loop {
            let remaining = i32::try_from(wanted.saturating_sub(items.len())).unwrap_or(i32::MAX);
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("#pk = :pk AND #sk BETWEEN :from AND :to")
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#sk", SORT_KEY)
                .expression_attribute_values(":pk", AttributeValue::S(query.pk.clone()))
                .expression_attribute_values(":from", AttributeValue::S(query.sk_from.clone()))
                .expression_attribute_values(":to", AttributeValue::S(query.sk_to.clone()))
                .scan_index_forward(ascending)
                .limit(remaining)
                .consistent_read(true)
                .set_exclusive_start_key(start_key)
                .send()
                .await
                .map_err(|error| StoreError::from_sdk(&error))?;
            for item in output.items.unwrap_or_default() {
                items.push(serde_dynamo::from_item::<_, Stored<T>>(item)?.data);
            }
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() && items.len() < wanted => start_key = Some(key),
                _ => return Ok(items),
            }
        }
    }

    /// Writes items in batches of 25, retrying unprocessed ones.
    async fn put_batch(&self, items: Vec<RawItem>) -> Result<(), StoreError> {
        self.write_batch(items.into_iter().map(|item| {
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .put_request(
                    aws_sdk_dynamodb::types::PutRequest::builder()
                        .set_item(Some(item))
                        .build()
                        .ok()?,
                )
                .build()
                .into()
        }))
        .await
    }

    /// Deletes items by key in batches of 25, retrying unprocessed ones.
    async fn delete_batch(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        self.write_batch(keys.iter().map(|key| {
            aws_sdk_dynamodb::types::WriteRequest::builder()
                .delete_request(
                    aws_sdk_dynamodb::types::DeleteRequest::builder()
                        .set_key(Some(Self::key_attributes(key)))
                        .build()
                        .ok()?,
                )
                .build()
                .into()
        }))
        .await
    }

    async fn write_batch(
        &self,
        requests: impl Iterator<Item = Option<aws_sdk_dynamodb::types::WriteRequest>>,
    ) -> Result<(), StoreError> {
        let requests: Vec<_> = requests
            .collect::<Option<_>>()
            .ok_or_else(|| StoreError::Sdk("invalid batch request".to_owned()))?;
        for chunk in requests.chunks(BATCH_WRITE_LIMIT) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(|error| StoreError::from_sdk(&error))?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    back_off_unprocessed(&mut attempt).await?;
                }
            }
        }
        Ok(())
    }
}

/// Transactions and batch reads.
impl Store {
    /// A conditional put for a transaction (`attribute_not_exists` when `new_only`).
    fn transact_put(
        &self,
        item: RawItem,
        new_only: bool,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        let mut put = aws_sdk_dynamodb::types::Put::builder()
            .table_name(&self.table)
            .set_item(Some(item));
        if new_only {
            put = put
                .condition_expression(NEW_ITEM_CONDITION)
                .expression_attribute_names("#pk", PARTITION_KEY)
                .expression_attribute_names("#ttl", TTL_ATTRIBUTE)
                .expression_attribute_values(":now", AttributeValue::N(crate::clock::now_epoch_seconds().to_string()));
        }
        let put = put.build().map_err(|error| StoreError::Sdk(error.to_string()))?;
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder().put(put).build())
    }

    /// All-or-nothing write. A failed condition is a `Conflict`; contention (another
    /// transaction on the same item, throttling) is retried a few times with jitter, then
    /// reported as `Throttled` (429 with `Retry-After`).
    async fn transact(&self, items: Vec<aws_sdk_dynamodb::types::TransactWriteItem>) -> Result<(), StoreError> {
        use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
        const ATTEMPTS: u32 = 4;
        for attempt in 1..=ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let Err(error) = result else { return Ok(()) };
            let cancellation = match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let codes: Vec<Option<&str>> = cancelled
                        .cancellation_reasons()
                        .iter()
                        .map(|reason| reason.code())
                        .collect();
                    classify_cancellation(&codes)
                }
                _ => return Err(StoreError::from_sdk(&error)),
            };
            match cancellation {
                Cancellation::Condition => return Err(StoreError::Conflict),
                Cancellation::Contention if attempt < ATTEMPTS => {
                    let jitter = u64::from(rand::random::<u8>() % 50);
                    tokio::time::sleep(std::time::Duration::from_millis((20 << attempt) + jitter)).await;
                }
                Cancellation::Contention => return Err(StoreError::Throttled),
                Cancellation::Other => return Err(StoreError::from_sdk(&error)),
            }
        }
        Err(StoreError::Throttled)
    }

    /// Strongly consistent batch get of live items by key (100 keys a request; unprocessed
    /// keys are retried). Order is not preserved.
    async fn batch_get<T: DeserializeOwned>(&self, keys: &[Key]) -> Result<Vec<T>, StoreError> {
        let now = crate::clock::now_epoch_seconds();
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut pending: Vec<RawItem> = chunk.iter().map(Self::key_attributes).collect();
            let mut attempt = 0u32;
            while !pending.is_empty() {
                let request = aws_sdk_dynamodb::types::KeysAndAttributes::builder()
                    .set_keys(Some(pending))
                    .consistent_read(true)
                    .build()
                    .map_err(|error| StoreError::Sdk(error.to_string()))?;
                let output = self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(|error| StoreError::from_sdk(&error))?;
                for item in output
                    .responses
                    .and_then(|mut tables| tables.remove(&self.table))
                    .unwrap_or_default()
                {
                    let stored: Stored<T> = serde_dynamo::from_item(item)?;
                    if stored.is_live(now) {
                        found.push(stored.data);
                    }
                }
                pending = output
                    .unprocessed_keys
                    .and_then(|mut tables| tables.remove(&self.table))
                    .map(|keys| keys.keys)
                    .unwrap_or_default();
                if !pending.is_empty() {
                    back_off_unprocessed(&mut attempt).await?;
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::{Cancellation, classify_cancellation};

    #[test]
    fn a_failed_condition_wins_over_contention() {
        let codes = [
            Some("None"),
            Some("ConditionalCheckFailed"),
            Some("TransactionConflict"),
        ];
        assert_eq!(classify_cancellation(&codes), Cancellation::Condition);
    }

    #[test]
    fn conflicts_and_throttling_are_contention() {
        assert_eq!(
            classify_cancellation(&[Some("None"), Some("TransactionConflict")]),
            Cancellation::Contention
        );
        assert_eq!(
            classify_cancellation(&[Some("ThrottlingError"), None]),
            Cancellation::Contention
        );
    }

    #[test]
    fn other_reasons_are_not_retried() {
        assert_eq!(
            classify_cancellation(&[Some("ValidationError"), Some("None")]),
            Cancellation::Other
        );
        assert_eq!(classify_cancellation(&[]), Cancellation::Other);
    }
}
