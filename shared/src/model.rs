//! The domain's items as clients see them (camelCase JSON) and as the table stores them (the same
//! fields plus keys, see `store::Stored`).

use serde::{Deserialize, Serialize};

/// A server (a "guild"): a named group of members and channels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Server {
    /// ULID.
    pub id: String,
    /// Display name, 1–100 characters.
    pub name: String,
    /// The creator; always a member with the `owner` role.
    pub owner_id: String,
    /// RFC 3339.
    pub created_at: String,
}

/// What a channel is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// Text chat with message history.
    Text,
    /// Video meetings (Agora tokens).
    Video,
}

/// A channel of a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Channel {
    /// ULID.
    pub id: String,
    /// The server it belongs to.
    pub server_id: String,
    /// Display name, 1–100 characters.
    pub name: String,
    /// Text or video.
    pub kind: ChannelKind,
    /// RFC 3339.
    pub created_at: String,
}

/// A member's role in a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Created the server; manages everything.
    Owner,
    /// Manages the server and its channels.
    Admin,
    /// Reads, posts and invites.
    Member,
}

impl Role {
    /// Owners and admins manage the server and its channels.
    pub fn can_manage(self) -> bool {
        matches!(self, Self::Owner | Self::Admin)
    }
}

/// A user's membership of a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Member {
    /// The server.
    pub server_id: String,
    /// The member (Cognito `sub`).
    pub user_id: String,
    /// What the member may do.
    pub role: Role,
    /// RFC 3339.
    pub joined_at: String,
}

/// An invite code to join a server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Invite {
    /// The code (a bearer secret).
    pub code: String,
    /// The server it joins.
    pub server_id: String,
    /// Who created it.
    pub inviter_id: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339; the item's TTL is the same instant.
    pub expires_at: String,
    /// How many joins it allows, if limited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_uses: Option<u32>,
    /// How many joins it has had.
    pub uses: u32,
}

/// A chat message in a text channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    /// ULID (sorts by creation time).
    pub id: String,
    /// The channel.
    pub channel_id: String,
    /// The channel's server.
    pub server_id: String,
    /// The author (Cognito `sub`).
    pub author_id: String,
    /// 1–4000 characters.
    pub content: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, when edited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited_at: Option<String>,
}

/// A live WebSocket connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection {
    /// API Gateway's connection id.
    pub connection_id: String,
    /// Whose socket it is.
    pub user_id: String,
    /// RFC 3339.
    pub connected_at: String,
}

/// A connection's subscription to a server's events (an item under the server's partition).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The server whose events the connection receives.
    pub server_id: String,
    /// The connection.
    pub connection_id: String,
    /// The connection's user (so a kick can drop exactly their subscriptions).
    pub user_id: String,
}

/// A user's public profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    /// Cognito `sub`.
    pub id: String,
    /// Unique lowercase handle.
    pub handle: String,
    /// RFC 3339.
    pub created_at: String,
}
