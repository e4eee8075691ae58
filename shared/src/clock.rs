//! Wall-clock time as the API shows it (RFC 3339) and as DynamoDB TTL wants it (epoch seconds).

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The current time as an RFC 3339 string with millisecond precision, e.g. `2026-12-03T16:23:42.123Z`.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// Formats a time as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(at: OffsetDateTime) -> String {
    let millis = at
        .replace_nanosecond(u32::from(at.millisecond()) * 1_000_000)
        .unwrap_or(at);
    millis
        .to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_default()
}

/// The current time in epoch seconds.
pub fn now_epoch_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Epoch seconds as RFC 3339 (for TTL attributes shown to clients).
pub fn epoch_to_rfc3339(seconds: i64) -> String {
    OffsetDateTime::from_unix_timestamp(seconds)
        .map(rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_utc_with_milliseconds() {
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(1_764_779_022_123_456_789).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(rfc3339(at), "2025-12-03T16:23:42.123Z");
    }

    #[test]
    fn converts_epoch_seconds() {
        assert_eq!(epoch_to_rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
