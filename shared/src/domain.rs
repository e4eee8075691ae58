//! Domain rules as plain functions on plain values, tested without any AWS.

use crate::error::ApiError;

/// Longest message, in Unicode characters (Discord's limit).
pub const MAX_MESSAGE_CHARS: usize = 4000;
/// Longest server or channel name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// History page size bounds and default.
pub const MAX_PAGE_LIMIT: u32 = 100;
/// Default history page size.
pub const DEFAULT_PAGE_LIMIT: u32 = 50;
/// Longest client nonce.
pub const MAX_NONCE_CHARS: usize = 64;
/// How long a nonce keeps deduplicating posts.
pub const NONCE_TTL_SECONDS: i64 = 24 * 60 * 60;
/// Default invite lifetime.
pub const INVITE_TTL_SECONDS: i64 = 7 * 24 * 60 * 60;
/// Connections and subscriptions live at most as long as API Gateway keeps a socket open.
pub const CONNECTION_TTL_SECONDS: i64 = 2 * 60 * 60;

/// Shortest handle.
pub const MIN_HANDLE_CHARS: usize = 2;
/// Longest handle.
pub const MAX_HANDLE_CHARS: usize = 32;

/// A handle: 2–32 characters of `a-z 0-9 _ .` (already lowercase; Cognito cannot rewrite it).
pub fn is_valid_handle(handle: &str) -> bool {
    (MIN_HANDLE_CHARS..=MAX_HANDLE_CHARS).contains(&handle.len())
        && handle
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'_' || byte == b'.')
}

/// A server or channel name: trimmed, 1–100 characters.
pub fn validate_name(field: &'static str, name: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    let chars = trimmed.chars().count();
    if chars == 0 {
        return Err(ApiError::unprocessable(
            "name_empty",
            format!("{field} must not be empty"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(ApiError::unprocessable(
            "name_invalid_characters",
            format!("{field} must not contain control characters"),
        ));
    }
    if chars > MAX_NAME_CHARS {
        return Err(ApiError::unprocessable(
            "name_too_long",
            format!("{field} must be at most {MAX_NAME_CHARS} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

/// Characters that show nothing: whitespace and the zero-width format characters.
fn is_invisible(character: char) -> bool {
    character.is_whitespace()
        || matches!(
            character,
            '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}'
        )
}

/// Message content: 1–4000 characters with at least one visible one (whitespace and zero-width
/// characters alone count as empty), and no control characters but tab and line breaks.
/// Stored as sent.
pub fn validate_content(content: &str) -> Result<(), ApiError> {
    if content.chars().all(is_invisible) {
        return Err(ApiError::unprocessable("content_empty", "content must not be empty"));
    }
    if content
        .chars()
        .any(|character| character.is_control() && !matches!(character, '\t' | '\n' | '\r'))
    {
        return Err(ApiError::unprocessable(
            "content_invalid_characters",
            "content must not contain control characters other than tab and line breaks",
        ));
    }
    if content.chars().count() > MAX_MESSAGE_CHARS {
        return Err(ApiError::unprocessable(
            "content_too_long",
            format!("content must be at most {MAX_MESSAGE_CHARS} characters"),
        ));
    }
    Ok(())
}

/// A client nonce: 1–64 of `A-Z a-z 0-9 _ -` (it becomes part of a key).
pub fn validate_nonce(nonce: &str) -> Result<(), ApiError> {
    let valid = !nonce.is_empty()
        && nonce.len() <= MAX_NONCE_CHARS
        && nonce
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-');
    if valid {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_nonce",
            "nonce must be 1-64 characters of A-Z, a-z, 0-9, _ or -",
        ))
    }
}

/// History `limit`: absent means 50; otherwise an integer 1–100.
pub fn parse_limit(raw: Option<&str>) -> Result<u32, ApiError> {
    let Some(raw) = raw else { return Ok(DEFAULT_PAGE_LIMIT) };
    let digits_only = !raw.is_empty() && raw.bytes().all(|byte| byte.is_ascii_digit());
    match raw.parse::<u32>().ok().filter(|_| digits_only) {
        Some(limit) if (1..=MAX_PAGE_LIMIT).contains(&limit) => Ok(limit),
        _ => Err(ApiError::bad_request(
            "invalid_limit",
            format!("limit must be an integer from 1 to {MAX_PAGE_LIMIT}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_bounds_count_characters_not_bytes() {
        assert!(validate_content(&"é".repeat(MAX_MESSAGE_CHARS)).is_ok());
        assert_eq!(
            validate_content(&"x".repeat(MAX_MESSAGE_CHARS + 1))
                .err()
                .map(|e| e.code()),
            Some("content_too_long")
        );
    }

    #[test]
    fn whitespace_only_content_is_empty() {
        assert_eq!(
            validate_content(" \n\t ").err().map(|e| e.code()),
            Some("content_empty")
        );
        assert_eq!(validate_content("").err().map(|e| e.code()), Some("content_empty"));
        assert_eq!(
            validate_content("\u{200B}\u{FEFF}\u{00A0}").err().map(|e| e.code()),
            Some("content_empty")
        );
    }

    #[test]
    fn control_characters_are_refused_but_line_breaks_are_fine() {
        assert_eq!(
            validate_content("a\u{0}b").err().map(|e| e.code()),
            Some("content_invalid_characters")
        );
        assert_eq!(
            validate_content("\u{1b}[31mred").err().map(|e| e.code()),
            Some("content_invalid_characters")
        );
        assert!(validate_content("line one\r\nline two\tend").is_ok());
        assert!(validate_content("emoji 👩‍💻 with a zero-width joiner").is_ok());
    }

    #[test]
    fn names_are_trimmed_and_bounded() {
        assert_eq!(validate_name("name", "  general ").ok().as_deref(), Some("general"));
        assert_eq!(validate_name("name", "   ").err().map(|e| e.code()), Some("name_empty"));
        assert_eq!(
            validate_name("name", "a\u{7}b").err().map(|e| e.code()),
            Some("name_invalid_characters")
        );
        assert_eq!(
            validate_name("name", &"n".repeat(101)).err().map(|e| e.code()),
            Some("name_too_long")
        );
    }

    #[test]
    fn nonces_cannot_smuggle_key_separators() {
        assert!(validate_nonce("client-1_A").is_ok());
        assert!(validate_nonce("a#b").is_err());
        assert!(validate_nonce("").is_err());
        assert!(validate_nonce(&"n".repeat(65)).is_err());
    }

    #[test]
    fn limit_defaults_and_bounds() {
        assert_eq!(parse_limit(None).ok(), Some(50));
        assert_eq!(parse_limit(Some("100")).ok(), Some(100));
        for bad in ["0", "101", "-1", "+5", " 5", "ten", "", "1.5"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }
}
