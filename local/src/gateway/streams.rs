//! The event source mapping from the table's DynamoDB stream to `ws-broadcast`.
//!
//! Polls the stream on the local DynamoDB (moto) with `aws-sdk-dynamodbstreams`, as Lambda's
//! poller does: ListStreams (the table's latest stream) → DescribeStream (all shards, paged) →
//! GetShardIterator → GetRecords every [`StreamMappingOptions::poll_interval`] (100 ms, so a
//! change reaches the function well within a second). Batches of up to
//! [`StreamMappingOptions::batch_size`] records are delivered as the Lambda DynamoDB event
//! (`{"Records": [...]}` with `eventSourceARN`, `eventVersion` `1.1`, `eventSource`
//! `aws:dynamodb`, the images in DynamoDB JSON and `ApproximateCreationDateTime` in epoch
//! seconds).
//!
//! Shards: the shards open when the mapping starts begin at [`StartingPosition`] (the stack uses
//! `TRIM_HORIZON`, because it creates the table itself just before, so nothing written during
//! start-up is missed); shards that appear later (rollover) begin at `TRIM_HORIZON`, and only
//! once their parent is drained, so changes to an item stay in order. A shard whose GetRecords
//! returns no next iterator is closed and dropped; expired iterators are renewed after the last
//! delivered sequence number.
//!
//! Failures, like an event source mapping with `ReportBatchItemFailures`,
//! `BisectBatchOnFunctionError` and `MaximumRetryAttempts`: `batchItemFailures` redelivers the
//! batch from the first failed sequence number; a function error (or an invalid failure list)
//! fails the whole batch, which is split in two when bisecting is on; retries back off
//! exponentially and stop after `max_retry_attempts`, when the records are logged and skipped.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodbstreams::Client;
use aws_sdk_dynamodbstreams::types::{AttributeValue, OperationType, Record, ShardIteratorType};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::functions::{Functions, InvokeError};

/// Where a mapping starts reading the shards that are open when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartingPosition {
    /// The oldest record still in the stream.
    TrimHorizon,
    /// Only records written after the mapping started.
    Latest,
}

/// How the mapping polls and delivers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamMappingOptions {
    /// The table whose stream is read.
    pub table_name: String,
    /// The function that receives the batches.
    pub function: String,
    /// Records per batch (Lambda's default for DynamoDB: 100).
    pub batch_size: i32,
    /// Pause between two polls of a shard with nothing new.
    pub poll_interval: Duration,
    /// Retries of a failing batch before its records are skipped.
    pub max_retry_attempts: u32,
    /// Split a batch in two on a function error.
    pub bisect_batch_on_function_error: bool,
    /// First retry delay; doubled per retry, capped at 5 s.
    pub retry_backoff: Duration,
    /// Where the shards open at start begin.
    pub starting_position: StartingPosition,
    /// `awsRegion` when a record does not carry one.
    pub region: String,
}

impl StreamMappingOptions {
    /// Options for `table_name` → `function` with the defaults described in the module doc.
    pub fn new(table_name: impl Into<String>, function: impl Into<String>) -> Self {
        Self {
            table_name: table_name.into(),
            function: function.into(),
            batch_size: 100,
            poll_interval: Duration::from_millis(100),
            max_retry_attempts: 3,
            bisect_batch_on_function_error: true,
            retry_backoff: Duration::from_millis(200),
            starting_position: StartingPosition::TrimHorizon,
            region: "us-east-1".to_owned(),
        }
    }
}

/// A running mapping; stops when [`StreamMappingHandle::shutdown`] is called or it is dropped.
#[derive(Debug)]
pub struct StreamMappingHandle {
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl StreamMappingHandle {
    /// Stops polling (a batch being delivered is finished first, up to 5 s).
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task).await.is_err()
        {
            task.abort();
        }
    }
}

impl Drop for StreamMappingHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Polls a table's stream and feeds a function.
#[derive(Debug)]
pub struct StreamMapping {
    client: Client,
    functions: Arc<Functions>,
    options: StreamMappingOptions,
}

#[derive(Debug, Default)]
struct Cursor {
    iterator: Option<String>,
    last_sequence: Option<String>,
}

impl StreamMapping {
    /// A mapping reading with `client` and invoking through `functions`.
    pub fn new(client: Client, functions: Arc<Functions>, options: StreamMappingOptions) -> Self {
        Self {
            client,
            functions,
            options,
        }
    }

    /// Starts polling in the background.
    pub fn spawn(self) -> StreamMappingHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        StreamMappingHandle { stop, task: Some(task) }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        let table = self.options.table_name.clone();
        let Some(stream_arn) = self.wait_for_stream(&mut stopped).await else {
            return;
        };
        tracing::info!(
            table,
            stream_arn,
            function = self.options.function,
            "stream mapping started"
        );
        let mut cursors: BTreeMap<String, Cursor> = BTreeMap::new();
        let mut finished: HashSet<String> = HashSet::new();
        let mut first_discovery = true;
        let mut last_discovery: Option<tokio::time::Instant> = None;
        let mut failing = false;
        loop {
            if *stopped.borrow() {
                return;
            }
            let due = last_discovery.is_none_or(|at| at.elapsed() >= Duration::from_secs(1));
            if due {
                match self
                    .discover(&stream_arn, &mut cursors, &finished, first_discovery)
                    .await
                {
                    Ok(()) => {
                        first_discovery = false;
                        last_discovery = Some(tokio::time::Instant::now());
                    }
                    Err(error) => warn_once(&mut failing, &error),
                }
            }
            let mut delivered_any = false;
            let shard_ids: Vec<String> = cursors.keys().cloned().collect();
            for shard_id in shard_ids {
                let Some(cursor) = cursors.get_mut(&shard_id) else {
                    continue;
                };
                match self.poll_shard(&stream_arn, &shard_id, cursor).await {
                    Ok(PollOutcome { delivered, closed }) => {
                        failing = false;
                        delivered_any |= delivered;
                        if closed {
                            cursors.remove(&shard_id);
                            finished.insert(shard_id);
                            last_discovery = None;
                        }
                    }
                    Err(error) => warn_once(&mut failing, &error),
                }
            }
            if !delivered_any {
                tokio::select! {
                    () = tokio::time::sleep(self.options.poll_interval) => {}
                    _ = stopped.changed() => return,
                }
            }
        }
    }

    async fn wait_for_stream(&self, stopped: &mut watch::Receiver<bool>) -> Option<String> {
        let mut failing = false;
        loop {
            match self
                .client
                .list_streams()
                .table_name(&self.options.table_name)
                .send()
                .await
            {
                Ok(output) => {
                    if let Some(arn) = output
                        .streams()
                        .iter()
                        .rev()
                        .find_map(|s| s.stream_arn().map(str::to_owned))
                    {
                        return Some(arn);
                    }
                    warn_once(
                        &mut failing,
                        &format!("table {} has no stream yet", self.options.table_name),
                    );
                }
                Err(error) => warn_once(
                    &mut failing,
                    &aws_sdk_dynamodbstreams::error::DisplayErrorContext(error).to_string(),
                ),
            }
            tokio::select! {
                () = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = stopped.changed() => return None,
            }
        }
    }

    async fn discover(
        &self,
        stream_arn: &str,
        cursors: &mut BTreeMap<String, Cursor>,
        finished: &HashSet<String>,
        first_discovery: bool,
    ) -> Result<(), String> {
        let mut shards = Vec::new();
        let mut start: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_stream()
                .stream_arn(stream_arn)
                .set_exclusive_start_shard_id(start.clone())
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?;
            let Some(description) = output.stream_description else {
                break;
            };
            shards.extend(description.shards.unwrap_or_default());
            start = description.last_evaluated_shard_id;
            if start.is_none() {
                break;
            }
        }
        let known: HashSet<&str> = shards.iter().filter_map(|s| s.shard_id()).collect();
        for shard in &shards {
            let Some(shard_id) = shard.shard_id() else { continue };
            if cursors.contains_key(shard_id) || finished.contains(shard_id) {
                continue;
            }
            let parent_pending = shard.parent_shard_id().is_some_and(|parent| {
                cursors.contains_key(parent)
                    || (known.contains(parent) && !finished.contains(parent) && !first_discovery)
            });
            if parent_pending {
                continue;
            }
            let closed = shard
                .sequence_number_range()
                .and_then(|r| r.ending_sequence_number())
                .is_some();
            let iterator_type = match (first_discovery, self.options.starting_position) {
                (true, StartingPosition::Latest) if closed => continue,
                (true, StartingPosition::Latest) => ShardIteratorType::Latest,
                _ => ShardIteratorType::TrimHorizon,
            };
            let iterator = self
                .client
                .get_shard_iterator()
                .stream_arn(stream_arn)
                .shard_id(shard_id)
                .shard_iterator_type(iterator_type)
                .send()
                .await
                .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?
                .shard_iterator;
            tracing::debug!(shard_id, "reading shard");
            cursors.insert(
                shard_id.to_owned(),
                Cursor {
                    iterator,
                    last_sequence: None,
                },
            );
        }
        Ok(())
    }

    async fn poll_shard(&self, stream_arn: &str, shard_id: &str, cursor: &mut Cursor) -> Result<PollOutcome, String> {
        let Some(iterator) = cursor.iterator.clone() else {
            return Ok(PollOutcome {
                delivered: false,
                closed: true,
            });
        };
        let output = match self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(self.options.batch_size)
            .send()
            .await
        {
            Ok(output) => output,
            Err(error)
                if error.as_service_error().is_some_and(
                    aws_sdk_dynamodbstreams::operation::get_records::GetRecordsError::is_expired_iterator_exception,
                ) =>
            {
                let (iterator_type, sequence) = match &cursor.last_sequence {
                    Some(sequence) => (ShardIteratorType::AfterSequenceNumber, Some(sequence.clone())),
                    None => (ShardIteratorType::TrimHorizon, None),
                };
                cursor.iterator = self
                    .client
                    .get_shard_iterator()
                    .stream_arn(stream_arn)
                    .shard_id(shard_id)
                    .shard_iterator_type(iterator_type)
                    .set_sequence_number(sequence)
                    .send()
                    .await
                    .map_err(|e| aws_sdk_dynamodbstreams::error::DisplayErrorContext(e).to_string())?
                    .shard_iterator;
                return Ok(PollOutcome {
                    delivered: false,
                    closed: false,
                });
            }
            Err(error) => return Err(aws_sdk_dynamodbstreams::error::DisplayErrorContext(error).to_string()),
        };
        let records = output.records.unwrap_or_default();
        let delivered = !records.is_empty();
        if delivered {
            let events: Vec<Value> = records
                .iter()
                .map(|record| lambda_record(record, stream_arn, &self.options.region))
                .collect();
            deliver(&self.functions, &self.options, &events).await;
            cursor.last_sequence = records
                .last()
                .and_then(|r| r.dynamodb())
                .and_then(|d| d.sequence_number())
                .map(str::to_owned)
                .or(cursor.last_sequence.take());
        }
        cursor.iterator = output.next_shard_iterator;
        Ok(PollOutcome {
            delivered,
            closed: cursor.iterator.is_none(),
        })
    }
}

struct PollOutcome {
    delivered: bool,
    closed: bool,
}

fn warn_once(failing: &mut bool, error: &str) {
    if !*failing {
        tracing::warn!(error, "stream mapping cannot read the stream (retrying)");
    }
    *failing = true;
}

/// Delivers `records` (Lambda stream records) to the mapping's function, with the retry,
/// redelivery and bisect rules of the module doc.
pub async fn deliver(functions: &Functions, options: &StreamMappingOptions, records: &[Value]) {
    process(functions, options, records).await;
}

fn process<'a>(
    functions: &'a Functions,
    options: &'a StreamMappingOptions,
    records: &'a [Value],
) -> futures::future::BoxFuture<'a, ()> {
    Box::pin(async move {
        let mut start = 0;
        let mut attempts = 0_u32;
        while start < records.len() {
            let batch = &records[start..];
            let event = json!({ "Records": batch });
            let first_failed = match functions.invoke(&options.function, event).await {
                Ok(response) => match first_failed(&response, batch) {
                    Ok(None) => return,
                    Ok(Some(index)) => index,
                    Err(problem) => {
                        tracing::warn!(
                            function = options.function,
                            problem,
                            "invalid batch response: the whole batch failed"
                        );
                        0
                    }
                },
                Err(InvokeError::NotFound(name)) => {
                    tracing::error!(
                        function = name,
                        records = batch.len(),
                        "stream consumer is not registered: records skipped"
                    );
                    return;
                }
                Err(InvokeError::Failed(_)) => {
                    if options.bisect_batch_on_function_error && batch.len() > 1 {
                        let (left, right) = batch.split_at(batch.len() / 2);
                        process(functions, options, left).await;
                        process(functions, options, right).await;
                        return;
                    }
                    0
                }
            };
            attempts += 1;
            if attempts > options.max_retry_attempts {
                let skipped = &batch[first_failed..];
                tracing::error!(
                    function = options.function,
                    records = skipped.len(),
                    first_sequence_number = sequence_number(&skipped[0]).unwrap_or_default(),
                    "retries exhausted: records skipped"
                );
                return;
            }
            start += first_failed;
            let factor = 2_u32.saturating_pow(attempts - 1);
            let delay = options.retry_backoff.saturating_mul(factor).min(Duration::from_secs(5));
            tokio::time::sleep(delay).await;
        }
    })
}

fn sequence_number(record: &Value) -> Option<&str> {
    record.get("dynamodb")?.get("SequenceNumber")?.as_str()
}

/// The index in `batch` to redeliver from, per `batchItemFailures` (`None`: all succeeded).
fn first_failed(response: &Value, batch: &[Value]) -> Result<Option<usize>, &'static str> {
    let failures = match response.get("batchItemFailures") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Array(failures)) => failures,
        Some(_) => return Err("batchItemFailures is not a list"),
    };
    let mut first: Option<usize> = None;
    for failure in failures {
        let identifier = failure
            .get("itemIdentifier")
            .and_then(Value::as_str)
            .filter(|id| !id.is_empty())
            .ok_or("a failure has no itemIdentifier")?;
        let index = batch
            .iter()
            .position(|record| sequence_number(record) == Some(identifier))
            .ok_or("an itemIdentifier is not in the batch")?;
        first = Some(first.map_or(index, |current: usize| current.min(index)));
    }
    Ok(first)
}

/// One stream record as Lambda delivers it.
pub fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> Value {
    let mut event = Map::new();
    event.insert("eventID".into(), json!(record.event_id().unwrap_or_default()));
    event.insert(
        "eventName".into(),
        json!(record.event_name().map(OperationType::as_str).unwrap_or_default()),
    );
    event.insert("eventVersion".into(), json!(record.event_version().unwrap_or("1.1")));
    event.insert(
        "eventSource".into(),
        json!(record.event_source().unwrap_or("aws:dynamodb")),
    );
    event.insert("awsRegion".into(), json!(record.aws_region().unwrap_or(region)));
    if let Some(identity) = record.user_identity() {
        event.insert(
            "userIdentity".into(),
            json!({ "type": identity.r#type, "principalId": identity.principal_id }),
        );
    }
    let mut dynamodb = Map::new();
    if let Some(change) = record.dynamodb() {
        if let Some(at) = change.approximate_creation_date_time() {
            dynamodb.insert("ApproximateCreationDateTime".into(), json!(at.secs()));
        }
        for (name, image) in [
            ("Keys", change.keys.as_ref()),
            ("NewImage", change.new_image.as_ref()),
            ("OldImage", change.old_image.as_ref()),
        ] {
            if let Some(image) = image {
                dynamodb.insert(name.into(), item_json(image));
            }
        }
        if let Some(sequence) = change.sequence_number() {
            dynamodb.insert("SequenceNumber".into(), json!(sequence));
        }
        if let Some(size) = change.size_bytes() {
            dynamodb.insert("SizeBytes".into(), json!(size));
        }
        if let Some(view) = change.stream_view_type() {
            dynamodb.insert("StreamViewType".into(), json!(view.as_str()));
        }
    }
    event.insert("dynamodb".into(), Value::Object(dynamodb));
    event.insert("eventSourceARN".into(), json!(stream_arn));
    Value::Object(event)
}

fn item_json(item: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(name, value)| (name.clone(), attribute_json(value)))
            .collect(),
    )
}

/// A DynamoDB JSON attribute value (`{"S": "x"}`, `{"N": "1"}`, `{"B": "<base64>"}`, ...).
pub fn attribute_json(value: &AttributeValue) -> Value {
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": STANDARD.encode(b.as_ref()) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(n) => json!({ "NULL": n }),
        AttributeValue::Ss(values) => json!({ "SS": values }),
        AttributeValue::Ns(values) => json!({ "NS": values }),
        AttributeValue::Bs(values) => {
            json!({ "BS": values.iter().map(|b| STANDARD.encode(b.as_ref())).collect::<Vec<_>>() })
        }
        AttributeValue::L(values) => json!({ "L": values.iter().map(attribute_json).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({ "M": item_json(map) }),
        _ => Value::Null,
    }
}

#[cfg(test)]
mod tests;
