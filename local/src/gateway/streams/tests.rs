#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use super::*;
use crate::functions::FunctionError;
use crate::gateway::shape::{ShapeRules, shape_differences};
use crate::gateway::test_support::sample_events;
use aws_sdk_dynamodbstreams::primitives::{Blob, DateTime};
use aws_sdk_dynamodbstreams::types::{Identity, OperationType, StreamRecord, StreamViewType};

const REFERENCE: &str = include_str!("../testdata/dynamodb-stream.json");

/// Stream event rules: images and keys are maps of attribute values; `OldImage`/`NewImage`
/// depend on the event name, `userIdentity` appears for TTL deletions only.
const STREAM_EVENT_RULES: ShapeRules<'static> = ShapeRules {
    maps: &[
        "Records[].dynamodb.Keys",
        "Records[].dynamodb.NewImage",
        "Records[].dynamodb.OldImage",
    ],
    optional: &[
        "Records[].dynamodb.NewImage",
        "Records[].dynamodb.OldImage",
        "Records[].userIdentity",
    ],
};

fn modify_record() -> Record {
    let keys = std::collections::HashMap::from([
        ("PK".to_owned(), AttributeValue::S("CHANNEL#01J9".to_owned())),
        ("SK".to_owned(), AttributeValue::S("MSG#01JA".to_owned())),
    ]);
    let mut new_image = keys.clone();
    new_image.extend([
        ("content".to_owned(), AttributeValue::S("edited".to_owned())),
        ("count".to_owned(), AttributeValue::N("2".to_owned())),
        ("raw".to_owned(), AttributeValue::B(Blob::new(vec![0_u8, 1, 2]))),
        ("flag".to_owned(), AttributeValue::Bool(true)),
        ("nothing".to_owned(), AttributeValue::Null(true)),
        ("tags".to_owned(), AttributeValue::Ss(vec!["a".to_owned()])),
        (
            "scores".to_owned(),
            AttributeValue::Ns(vec!["1".to_owned(), "2.5".to_owned()]),
        ),
        ("blobs".to_owned(), AttributeValue::Bs(vec![Blob::new(vec![255_u8])])),
        (
            "list".to_owned(),
            AttributeValue::L(vec![AttributeValue::S("x".to_owned())]),
        ),
        (
            "map".to_owned(),
            AttributeValue::M(std::collections::HashMap::from([(
                "k".to_owned(),
                AttributeValue::N("1".to_owned()),
            )])),
        ),
    ]);
    let mut old_image = keys.clone();
    old_image.insert("content".to_owned(), AttributeValue::S("original".to_owned()));
    Record::builder()
        .event_id("7de3041dd709b024af6f29e4fa13d34c")
        .event_name(OperationType::Modify)
        .event_version("1.1")
        .event_source("aws:dynamodb")
        .aws_region("us-east-1")
        .dynamodb(
            StreamRecord::builder()
                .approximate_creation_date_time(DateTime::from_secs(1_707_588_384))
                .set_keys(Some(keys))
                .set_new_image(Some(new_image))
                .set_old_image(Some(old_image))
                .sequence_number("4421584500000000017450439092")
                .size_bytes(59)
                .stream_view_type(StreamViewType::NewAndOldImages)
                .build(),
        )
        .build()
}

const ARN: &str = "arn:aws:dynamodb:us-east-1:123456789012:table/cosmos/stream/2024-02-10T18:00:00.000";

#[test]
fn builds_the_lambda_dynamodb_record() {
    let record = lambda_record(&modify_record(), ARN, "eu-west-1");

    assert_eq!(record["eventID"], "7de3041dd709b024af6f29e4fa13d34c");
    assert_eq!(record["eventName"], "MODIFY");
    assert_eq!(record["eventVersion"], "1.1");
    assert_eq!(record["eventSource"], "aws:dynamodb");
    assert_eq!(record["awsRegion"], "us-east-1");
    assert_eq!(record["eventSourceARN"], ARN);
    let change = &record["dynamodb"];
    assert_eq!(change["ApproximateCreationDateTime"], 1_707_588_384);
    assert_eq!(change["SequenceNumber"], "4421584500000000017450439092");
    assert_eq!(change["SizeBytes"], 59);
    assert_eq!(change["StreamViewType"], "NEW_AND_OLD_IMAGES");
    assert_eq!(
        change["Keys"],
        json!({ "PK": { "S": "CHANNEL#01J9" }, "SK": { "S": "MSG#01JA" } })
    );
    assert_eq!(change["OldImage"]["content"], json!({ "S": "original" }));
    let image = &change["NewImage"];
    assert_eq!(image["count"], json!({ "N": "2" }));
    assert_eq!(image["raw"], json!({ "B": "AAEC" }));
    assert_eq!(image["flag"], json!({ "BOOL": true }));
    assert_eq!(image["nothing"], json!({ "NULL": true }));
    assert_eq!(image["tags"], json!({ "SS": ["a"] }));
    assert_eq!(image["scores"], json!({ "NS": ["1", "2.5"] }));
    assert_eq!(image["blobs"], json!({ "BS": ["/w=="] }));
    assert_eq!(image["list"], json!({ "L": [{ "S": "x" }] }));
    assert_eq!(image["map"], json!({ "M": { "k": { "N": "1" } } }));
    assert!(record.get("userIdentity").is_none());

    let event: aws_lambda_events::dynamodb::Event = serde_json::from_value(json!({ "Records": [record] })).unwrap();
    assert_eq!(
        event.records[0].change.sequence_number.as_deref(),
        Some("4421584500000000017450439092")
    );
}

#[test]
fn marks_ttl_deletions_with_the_service_identity() {
    let record = Record::builder()
        .event_name(OperationType::Remove)
        .user_identity(
            Identity::builder()
                .principal_id("dynamodb.amazonaws.com")
                .r#type("Service")
                .build(),
        )
        .build();
    let record = lambda_record(&record, ARN, "eu-west-1");
    assert_eq!(
        record["userIdentity"],
        json!({ "type": "Service", "principalId": "dynamodb.amazonaws.com" })
    );
    assert_eq!(record["awsRegion"], "eu-west-1");
    assert_eq!(record["eventVersion"], "1.1");
}

#[test]
fn builds_events_shaped_like_the_reference_and_sample_events() {
    let built = json!({ "Records": [lambda_record(&modify_record(), ARN, "us-east-1")] });
    let mut samples = vec![(
        "reference".to_owned(),
        serde_json::from_str::<Value>(REFERENCE).unwrap(),
    )];
    samples.extend(sample_events("ws-broadcast"));
    for (file, sample) in samples {
        let differences = shape_differences(&built, &sample, &STREAM_EVENT_RULES);
        assert!(differences.is_empty(), "{file}:\n  {}", differences.join("\n  "));
    }
}

fn records(sequence_numbers: &[&str]) -> Vec<Value> {
    sequence_numbers
        .iter()
        .map(|sequence| json!({ "eventName": "INSERT", "dynamodb": { "SequenceNumber": sequence } }))
        .collect()
}

/// A stream consumer answering with `respond(call index, sequence numbers of the batch)`, and
/// the batches it received.
fn consumer(
    respond: impl Fn(usize, &[String]) -> Result<Value, FunctionError> + Send + Sync + 'static,
) -> (Functions, Arc<Mutex<Vec<Vec<String>>>>) {
    let calls: Arc<Mutex<Vec<Vec<String>>>> = Arc::default();
    let seen = calls.clone();
    let mut functions = Functions::new();
    functions.insert("ws-broadcast", move |event: Value| {
        let batch: Vec<String> = event["Records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["dynamodb"]["SequenceNumber"].as_str().unwrap().to_owned())
            .collect();
        let index = {
            let mut calls = seen.lock().unwrap();
            calls.push(batch.clone());
            calls.len() - 1
        };
        let answer = respond(index, &batch);
        async move { answer }
    });
    (functions, calls)
}

fn options(max_retry_attempts: u32, bisect: bool) -> StreamMappingOptions {
    StreamMappingOptions {
        max_retry_attempts,
        bisect_batch_on_function_error: bisect,
        retry_backoff: Duration::from_millis(1),
        ..StreamMappingOptions::new("cosmos", "ws-broadcast")
    }
}

fn batches(calls: &Arc<Mutex<Vec<Vec<String>>>>) -> Vec<Vec<String>> {
    calls.lock().unwrap().clone()
}

fn expected(batches: &[&[&str]]) -> Vec<Vec<String>> {
    batches
        .iter()
        .map(|batch| batch.iter().map(|s| (*s).to_owned()).collect())
        .collect()
}

#[tokio::test]
async fn delivers_a_batch_once_when_no_item_fails() {
    let (functions, calls) = consumer(|_, _| Ok(json!({ "batchItemFailures": [] })));
    deliver(&functions, &options(3, true), &records(&["1", "2"])).await;
    assert_eq!(batches(&calls), expected(&[&["1", "2"]]));
}

#[tokio::test]
async fn redelivers_from_the_first_failed_sequence_number() {
    let (functions, calls) = consumer(|call, _| {
        Ok(if call == 0 {
            json!({ "batchItemFailures": [{ "itemIdentifier": "3" }, { "itemIdentifier": "2" }] })
        } else {
            json!({ "batchItemFailures": [] })
        })
    });

    deliver(&functions, &options(3, true), &records(&["1", "2", "3", "4"])).await;

    assert_eq!(batches(&calls), expected(&[&["1", "2", "3", "4"], &["2", "3", "4"]]));
}

#[tokio::test]
async fn fails_the_whole_batch_on_an_item_identifier_not_in_the_batch() {
    let (functions, calls) = consumer(|call, _| {
        Ok(if call == 0 {
            json!({ "batchItemFailures": [{ "itemIdentifier": "99" }] })
        } else {
            json!({ "batchItemFailures": null })
        })
    });

    deliver(&functions, &options(3, true), &records(&["1", "2"])).await;

    assert_eq!(batches(&calls), expected(&[&["1", "2"], &["1", "2"]]));
}

#[tokio::test]
async fn skips_records_after_max_retry_attempts() {
    let (functions, calls) = consumer(|_, _| Ok(json!({ "batchItemFailures": [{ "itemIdentifier": "2" }] })));

    deliver(&functions, &options(2, true), &records(&["1", "2", "3"])).await;

    assert_eq!(batches(&calls), expected(&[&["1", "2", "3"], &["2", "3"], &["2", "3"]]));
}

#[tokio::test]
async fn bisects_a_batch_on_function_error_and_skips_the_poison_record() {
    let (functions, calls) = consumer(|_, batch| {
        if batch.iter().any(|s| s == "3") {
            Err(FunctionError::new("Boom", "poison record"))
        } else {
            Ok(json!({}))
        }
    });

    deliver(&functions, &options(2, true), &records(&["1", "2", "3", "4"])).await;

    assert_eq!(
        batches(&calls),
        expected(&[
            &["1", "2", "3", "4"],
            &["1", "2"],
            &["3", "4"],
            &["3"],
            &["3"],
            &["3"],
            &["4"]
        ])
    );
}

#[tokio::test]
async fn retries_the_whole_batch_on_function_error_without_bisect() {
    let (functions, calls) = consumer(|call, _| {
        if call < 2 {
            Err(FunctionError::new("Boom", "transient"))
        } else {
            Ok(json!({}))
        }
    });

    deliver(&functions, &options(3, false), &records(&["1", "2"])).await;

    assert_eq!(batches(&calls), expected(&[&["1", "2"], &["1", "2"], &["1", "2"]]));
}
