//! The single table's attribute and index names, defined once for the Rust code.
//!
//! `shared/contract/table.json` holds the same shape for the CDK app and the local stack; a test
//! below holds the two together.

/// Partition key attribute.
pub const PARTITION_KEY: &str = "PK";
/// Sort key attribute.
pub const SORT_KEY: &str = "SK";
/// The one global secondary index (inverted lookups: my servers, a server's channels, ...).
pub const GSI1: &str = "GSI1";
/// GSI1 partition key attribute.
pub const GSI1_PARTITION_KEY: &str = "GSI1PK";
/// GSI1 sort key attribute.
pub const GSI1_SORT_KEY: &str = "GSI1SK";
/// TTL attribute (epoch seconds). DynamoDB deletes late, so reads also filter expired items.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// The contract file shared with the CDK app and the local stack.
pub const CONTRACT_JSON: &str = include_str!("../contract/table.json");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constants_match_the_contract_file() {
        let contract: serde_json::Value = serde_json::from_str(CONTRACT_JSON).unwrap_or_default();
        assert_eq!(contract["partitionKey"], PARTITION_KEY);
        assert_eq!(contract["sortKey"], SORT_KEY);
        assert_eq!(contract["indexes"][0]["indexName"], GSI1);
        assert_eq!(contract["indexes"][0]["partitionKey"], GSI1_PARTITION_KEY);
        assert_eq!(contract["indexes"][0]["sortKey"], GSI1_SORT_KEY);
        assert_eq!(contract["timeToLiveAttribute"], TTL_ATTRIBUTE);
        assert_eq!(contract["streamView"], "NEW_AND_OLD_IMAGES");
    }
}
