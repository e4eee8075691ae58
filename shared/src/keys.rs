//! Every key of the single table, formatted here and nowhere else.
//!
//! | entity | PK | SK | GSI1PK / GSI1SK | access pattern |
//! |---|---|---|---|---|
//! | user profile | `USER#<userId>` | `PROFILE` | | get a profile |
//! | handle claim | `HANDLE#<handle>` | `HANDLE` | | unique handles (conditional put) |
//! | server | `SERVER#<serverId>` | `META` | | get a server |
//! | membership | `SERVER#<serverId>` | `MEMBER#<userId>` | `USER#<userId>` / `SERVER#<serverId>` | authorize (base table); a server's members; my servers (GSI1) |
//! | subscription | `SERVER#<serverId>` | `SUB#<connectionId>` | | fan-out: live connections of a server's members |
//! | channel | `CHANNEL#<channelId>` | `META` | `SERVER#<serverId>` / `CHANNEL#<channelId>` | channel → server (base table); a server's channels (GSI1) |
//! | message | `CHANNEL#<channelId>` | `MSG#<messageId>` | | history pages: `SK BETWEEN MSG#a AND MSG#b` |
//! | message nonce | `NONCE#<channelId>#<userId>#<nonce>` | `NONCE` | | idempotent posting (TTL) |
//! | invite | `INVITE#<code>` | `INVITE` | `SERVER#<serverId>` / `INVITE#<code>` | join by code; a server's invites (GSI1) |
//! | connection | `CONN#<connectionId>` | `CONN` | `USER#<userId>` / `CONN#<connectionId>` | a socket's user; a user's live sockets (GSI1) |
//!
//! Message ids are ULIDs, so `MSG#` sort keys order by time and every history page is one
//! bounded key condition. Connections and subscriptions carry a 2 h TTL (API Gateway's limit).

use serde::{Deserialize, Serialize};

/// A base-table primary key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Key {
    /// Partition key value.
    #[serde(rename = "PK")]
    pub pk: String,
    /// Sort key value.
    #[serde(rename = "SK")]
    pub sk: String,
}

/// A GSI1 key pair, stored on the items that appear in the index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gsi1Key {
    /// GSI1 partition key value.
    #[serde(rename = "GSI1PK")]
    pub pk: String,
    /// GSI1 sort key value.
    #[serde(rename = "GSI1SK")]
    pub sk: String,
}

fn key(pk: String, sk: impl Into<String>) -> Key {
    Key { pk, sk: sk.into() }
}

const META: &str = "META";
const MEMBER_PREFIX: &str = "MEMBER#";
const SUBSCRIPTION_PREFIX: &str = "SUB#";
const MESSAGE_PREFIX: &str = "MSG#";
const CHANNEL_PREFIX: &str = "CHANNEL#";
const SERVER_PREFIX: &str = "SERVER#";
const USER_PREFIX: &str = "USER#";
const CONNECTION_PREFIX: &str = "CONN#";
const INVITE_PREFIX: &str = "INVITE#";

/// `USER#<userId>` / `PROFILE`.
pub fn profile(user_id: &str) -> Key {
    key(format!("{USER_PREFIX}{user_id}"), "PROFILE")
}

/// `HANDLE#<handle>` / `HANDLE`.
pub fn handle_claim(handle: &str) -> Key {
    key(format!("HANDLE#{handle}"), "HANDLE")
}

/// `SERVER#<serverId>` / `META`.
pub fn server(server_id: &str) -> Key {
    key(format!("{SERVER_PREFIX}{server_id}"), META)
}

/// `SERVER#<serverId>` / `MEMBER#<userId>`.
pub fn member(server_id: &str, user_id: &str) -> Key {
    key(
        format!("{SERVER_PREFIX}{server_id}"),
        format!("{MEMBER_PREFIX}{user_id}"),
    )
}

/// GSI1 of a membership: `USER#<userId>` / `SERVER#<serverId>` (my servers).
pub fn member_gsi1(user_id: &str, server_id: &str) -> Gsi1Key {
    Gsi1Key {
        pk: format!("{USER_PREFIX}{user_id}"),
        sk: format!("{SERVER_PREFIX}{server_id}"),
    }
}

/// `SERVER#<serverId>` / `SUB#<connectionId>`.
pub fn subscription(server_id: &str, connection_id: &str) -> Key {
    key(
        format!("{SERVER_PREFIX}{server_id}"),
        format!("{SUBSCRIPTION_PREFIX}{connection_id}"),
    )
}

/// `CHANNEL#<channelId>` / `META`.
pub fn channel(channel_id: &str) -> Key {
    key(format!("{CHANNEL_PREFIX}{channel_id}"), META)
}

/// GSI1 of a channel: `SERVER#<serverId>` / `CHANNEL#<channelId>` (a server's channels).
pub fn channel_gsi1(server_id: &str, channel_id: &str) -> Gsi1Key {
    Gsi1Key {
        pk: format!("{SERVER_PREFIX}{server_id}"),
        sk: format!("{CHANNEL_PREFIX}{channel_id}"),
    }
}

/// `CHANNEL#<channelId>` / `MSG#<messageId>`.
pub fn message(channel_id: &str, message_id: &str) -> Key {
    key(
        format!("{CHANNEL_PREFIX}{channel_id}"),
        format!("{MESSAGE_PREFIX}{message_id}"),
    )
}

/// `NONCE#<channelId>#<userId>#<nonce>` / `NONCE`. Nonces are validated to exclude `#`.
pub fn message_nonce(channel_id: &str, user_id: &str, nonce: &str) -> Key {
    key(format!("NONCE#{channel_id}#{user_id}#{nonce}"), "NONCE")
}

/// `INVITE#<code>` / `INVITE`.
pub fn invite(code: &str) -> Key {
    key(format!("{INVITE_PREFIX}{code}"), "INVITE")
}

/// GSI1 of an invite: `SERVER#<serverId>` / `INVITE#<code>` (a server's invites).
pub fn invite_gsi1(server_id: &str, code: &str) -> Gsi1Key {
    Gsi1Key {
        pk: format!("{SERVER_PREFIX}{server_id}"),
        sk: format!("{INVITE_PREFIX}{code}"),
    }
}

/// `CONN#<connectionId>` / `CONN`.
pub fn connection(connection_id: &str) -> Key {
    key(format!("{CONNECTION_PREFIX}{connection_id}"), "CONN")
}

/// GSI1 of a connection: `USER#<userId>` / `CONN#<connectionId>` (a user's live sockets).
pub fn connection_gsi1(user_id: &str, connection_id: &str) -> Gsi1Key {
    Gsi1Key {
        pk: format!("{USER_PREFIX}{user_id}"),
        sk: format!("{CONNECTION_PREFIX}{connection_id}"),
    }
}

/// A key condition on one partition: exact partition, sort key starting with a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrefixQuery {
    /// Partition key value (of the base table or of GSI1).
    pub pk: String,
    /// Sort key prefix.
    pub sk_prefix: String,
}

/// A key condition on one partition: exact partition, sort key between two inclusive bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeQuery {
    /// Partition key value.
    pub pk: String,
    /// Inclusive lower sort key bound.
    pub sk_from: String,
    /// Inclusive upper sort key bound.
    pub sk_to: String,
}

/// A server's subscribed connections (base table).
pub fn subscriptions_of(server_id: &str) -> PrefixQuery {
    PrefixQuery {
        pk: format!("{SERVER_PREFIX}{server_id}"),
        sk_prefix: SUBSCRIPTION_PREFIX.to_owned(),
    }
}

/// A user's memberships (GSI1).
pub fn servers_of(user_id: &str) -> PrefixQuery {
    PrefixQuery {
        pk: format!("{USER_PREFIX}{user_id}"),
        sk_prefix: SERVER_PREFIX.to_owned(),
    }
}

/// A user's live connections (GSI1).
pub fn connections_of(user_id: &str) -> PrefixQuery {
    PrefixQuery {
        pk: format!("{USER_PREFIX}{user_id}"),
        sk_prefix: CONNECTION_PREFIX.to_owned(),
    }
}

/// A server's channels (GSI1).
pub fn channels_of(server_id: &str) -> PrefixQuery {
    PrefixQuery {
        pk: format!("{SERVER_PREFIX}{server_id}"),
        sk_prefix: CHANNEL_PREFIX.to_owned(),
    }
}

/// Messages of a channel with ids strictly between `after` and `before` (either end open).
///
/// Both ends are always bounded inside the `MSG#` range so other items of the partition (the
/// channel's `META`) can never leak into a page. ULIDs are 26 Crockford characters, all below
/// `~`, so `MSG#~` bounds the range from above.
pub fn messages_between(channel_id: &str, after: Option<&str>, before: Option<&str>) -> RangeQuery {
    // Exclusive bounds: append the lowest character after `after`, and cut `before` by one step.
    let sk_from = after.map_or_else(|| MESSAGE_PREFIX.to_owned(), |id| format!("{MESSAGE_PREFIX}{id}\u{0}"));
    let sk_to = before.map_or_else(
        || format!("{MESSAGE_PREFIX}~"),
        |id| format!("{MESSAGE_PREFIX}{}", exclusive_upper_bound(id)),
    );
    RangeQuery {
        pk: format!("{CHANNEL_PREFIX}{channel_id}"),
        sk_from,
        sk_to,
    }
}

/// The greatest string below `id` that every id smaller than `id` still sorts under: `id` with its
/// last character replaced by its predecessor and followed by `~` (ids never contain `~`).
fn exclusive_upper_bound(id: &str) -> String {
    let mut chars: Vec<char> = id.chars().collect();
    match chars.pop() {
        Some(last) => {
            let previous = char::from_u32(u32::from(last).saturating_sub(1)).unwrap_or(last);
            chars.push(previous);
            chars.push('~');
            chars.into_iter().collect()
        }
        None => String::new(),
    }
}

/// What kind of item a key names: used to route stream records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    /// `USER#` / `PROFILE`.
    Profile,
    /// `SERVER#` / `META`.
    Server,
    /// `SERVER#` / `MEMBER#`.
    Member,
    /// `SERVER#` / `SUB#`.
    Subscription,
    /// `CHANNEL#` / `META`.
    Channel,
    /// `CHANNEL#` / `MSG#`.
    Message,
    /// `INVITE#` / `INVITE`.
    Invite,
    /// `CONN#` / `CONN`.
    Connection,
    /// Anything else (nonces, handle claims).
    Other,
}

/// Classifies a base-table key.
pub fn classify(pk: &str, sk: &str) -> ItemKind {
    if pk.starts_with(SERVER_PREFIX) {
        if sk == META {
            ItemKind::Server
        } else if sk.starts_with(MEMBER_PREFIX) {
            ItemKind::Member
        } else if sk.starts_with(SUBSCRIPTION_PREFIX) {
            ItemKind::Subscription
        } else {
            ItemKind::Other
        }
    } else if pk.starts_with(CHANNEL_PREFIX) {
        if sk == META {
            ItemKind::Channel
        } else if sk.starts_with(MESSAGE_PREFIX) {
            ItemKind::Message
        } else {
            ItemKind::Other
        }
    } else if pk.starts_with(USER_PREFIX) && sk == "PROFILE" {
        ItemKind::Profile
    } else if pk.starts_with(INVITE_PREFIX) {
        ItemKind::Invite
    } else if pk.starts_with(CONNECTION_PREFIX) {
        ItemKind::Connection
    } else {
        ItemKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "01JE000000000000000000000A";
    const B: &str = "01JE000000000000000000000B";
    const C: &str = "01JE000000000000000000000C";

    fn within(query: &RangeQuery, sk: &str) -> bool {
        query.sk_from.as_str() <= sk && sk <= query.sk_to.as_str()
    }

    #[test]
    fn open_message_range_covers_messages_but_not_metadata() {
        let query = messages_between("CH", None, None);
        assert_eq!(query.pk, "CHANNEL#CH");
        assert!(within(&query, &message("CH", A).sk));
        assert!(!within(&query, &channel("CH").sk));
    }

    #[test]
    fn after_and_before_bounds_are_exclusive() {
        let after_a = messages_between("CH", Some(A), None);
        assert!(!within(&after_a, &message("CH", A).sk));
        assert!(within(&after_a, &message("CH", B).sk));

        let before_c = messages_between("CH", None, Some(C));
        assert!(within(&before_c, &message("CH", B).sk));
        assert!(!within(&before_c, &message("CH", C).sk));

        let between = messages_between("CH", Some(A), Some(C));
        assert!(within(&between, &message("CH", B).sk));
        assert!(!within(&between, &message("CH", A).sk));
        assert!(!within(&between, &message("CH", C).sk));
    }

    #[test]
    fn classifies_every_entity() {
        let cases = [
            (profile("u"), ItemKind::Profile),
            (server("s"), ItemKind::Server),
            (member("s", "u"), ItemKind::Member),
            (subscription("s", "c"), ItemKind::Subscription),
            (channel("c"), ItemKind::Channel),
            (message("c", A), ItemKind::Message),
            (invite("code"), ItemKind::Invite),
            (connection("c"), ItemKind::Connection),
            (message_nonce("c", "u", "n"), ItemKind::Other),
            (handle_claim("h"), ItemKind::Other),
        ];
        for (key, kind) in cases {
            assert_eq!(classify(&key.pk, &key.sk), kind, "{key:?}");
        }
    }
}
