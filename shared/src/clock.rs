//! Wall-clock time as the API shows it (RFC 3339) and as DynamoDB TTL wants it (epoch seconds).

use time::OffsetDateTime;
use time::format_description::BorrowedFormatItem;
use time::macros::format_description;

/// RFC 3339 in UTC with exactly three fractional digits, so the strings are fixed-width and sort
/// like the instants they name.
const RFC3339_MILLIS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");

/// The current time as an RFC 3339 string with millisecond precision, e.g. `2026-12-03T16:23:42.123Z`.
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

/// Formats a time as RFC 3339 (UTC, milliseconds).
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.to_offset(time::UtcOffset::UTC)
        .format(RFC3339_MILLIS)
        .unwrap_or_default()
}

/// The current time in epoch seconds.
pub fn now_epoch_seconds() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Epoch milliseconds (API Gateway's `connectedAt`, `requestTimeEpoch`) as RFC 3339.
pub fn epoch_millis_to_rfc3339(millis: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
        .map(rfc3339)
        .unwrap_or_default()
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
    fn keeps_trailing_zero_milliseconds_so_strings_sort_by_time() {
        let at =
            OffsetDateTime::from_unix_timestamp_nanos(1_764_779_022_500_000_000).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(rfc3339(at), "2025-12-03T16:23:42.500Z");
        let whole_second = OffsetDateTime::from_unix_timestamp(1_764_779_022).unwrap_or(OffsetDateTime::UNIX_EPOCH);
        assert!(rfc3339(whole_second) < rfc3339(at));
    }

    #[test]
    fn converts_epoch_seconds() {
        assert_eq!(epoch_to_rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(epoch_millis_to_rfc3339(1_796_315_022_123), "2026-12-03T16:23:42.123Z");
    }
}
