//! Servers, channels, memberships and invites.

use serde::{Deserialize, Serialize};

use super::{Index, Store, StoreError, Stored};
use crate::clock;
use crate::ids;
use crate::keys;
use crate::model::{Channel, ChannelKind, Invite, Member, Role, Server};

/// The channel every new server starts with.
pub const DEFAULT_CHANNEL_NAME: &str = "general";

/// What joining through an invite did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinOutcome {
    /// The caller is now a member.
    Joined(Server),
    /// The caller was a member already; nothing changed (the invite was not used up).
    AlreadyMember(Server),
    /// No such live invite (unknown, expired, used up, or its server is gone).
    InviteNotFound,
}

/// An invite as stored: its TTL attribute is the expiry, shown to clients as RFC 3339.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InviteItem {
    code: String,
    server_id: String,
    inviter_id: String,
    created_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    max_uses: Option<u32>,
    uses: u32,
}

fn invite_view(stored: Stored<InviteItem>) -> Invite {
    let item = stored.data;
    Invite {
        code: item.code,
        server_id: item.server_id,
        inviter_id: item.inviter_id,
        created_at: item.created_at,
        expires_at: clock::epoch_to_rfc3339(stored.ttl.unwrap_or_default()),
        max_uses: item.max_uses,
        uses: item.uses,
    }
}

impl Store {
    /// Creates a server with its owner's membership, a "general" text channel and the owner's
    /// live connections' subscriptions, atomically.
    pub async fn create_server(&self, owner_id: &str, name: String) -> Result<(Server, Channel), StoreError> {
        let now = clock::now_rfc3339();
        let server = Server {
            id: ids::new_id(),
            name,
            owner_id: owner_id.to_owned(),
            created_at: now.clone(),
        };
        let owner = Member {
            server_id: server.id.clone(),
            user_id: owner_id.to_owned(),
            role: Role::Owner,
            joined_at: now.clone(),
        };
        let general = Channel {
            id: ids::new_id(),
            server_id: server.id.clone(),
            name: DEFAULT_CHANNEL_NAME.to_owned(),
            kind: ChannelKind::Text,
            created_at: now,
        };
        let mut writes = self.subscription_puts(&server.id, owner_id).await?;
        writes.extend([
            self.transact_put(Self::item(&Stored::new(keys::server(&server.id), &server))?, true)?,
            self.transact_put(Self::item(&member_item(&owner))?, true)?,
            self.transact_put(Self::item(&channel_item(&general))?, true)?,
        ]);
        self.transact(writes).await?;
        Ok((server, general))
    }

    /// A server by id.
    pub async fn get_server(&self, server_id: &str) -> Result<Option<Server>, StoreError> {
        Ok(self
            .get::<Server>(&keys::server(server_id))
            .await?
            .map(|stored| stored.data))
    }

    /// A membership, read from the base table (authorization never reads GSI1).
    pub async fn get_member(&self, server_id: &str, user_id: &str) -> Result<Option<Member>, StoreError> {
        Ok(self
            .get::<Member>(&keys::member(server_id, user_id))
            .await?
            .map(|stored| stored.data))
    }

    /// The servers a user belongs to, oldest first.
    pub async fn servers_of_user(&self, user_id: &str) -> Result<Vec<Server>, StoreError> {
        let memberships: Vec<Member> = self.query_prefix(Index::Gsi1, &keys::servers_of(user_id)).await?;
        let server_keys: Vec<_> = memberships
            .iter()
            .map(|member| keys::server(&member.server_id))
            .collect();
        let mut servers: Vec<Server> = self.batch_get(&server_keys).await?;
        servers.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(servers)
    }

    /// Creates a channel in a server.
    pub async fn create_channel(
        &self,
        server_id: &str,
        name: String,
        kind: ChannelKind,
    ) -> Result<Channel, StoreError> {
        let channel = Channel {
            id: ids::new_id(),
            server_id: server_id.to_owned(),
            name,
            kind,
            created_at: clock::now_rfc3339(),
        };
        self.put_new(&channel_item(&channel)).await?;
        Ok(channel)
    }

    /// A channel by id (base table: holds its server id).
    pub async fn get_channel(&self, channel_id: &str) -> Result<Option<Channel>, StoreError> {
        Ok(self
            .get::<Channel>(&keys::channel(channel_id))
            .await?
            .map(|stored| stored.data))
    }

    /// A server's channels, oldest first.
    pub async fn channels_of_server(&self, server_id: &str) -> Result<Vec<Channel>, StoreError> {
        let mut channels: Vec<Channel> = self.query_prefix(Index::Gsi1, &keys::channels_of(server_id)).await?;
        channels.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(channels)
    }

    /// Creates an invite to a server that lives `ttl_seconds` and allows `max_uses` joins.
    pub async fn create_invite(
        &self,
        server_id: &str,
        inviter_id: &str,
        max_uses: Option<u32>,
        ttl_seconds: i64,
    ) -> Result<Invite, StoreError> {
        let code = ids::new_invite_code();
        let item = InviteItem {
            code: code.clone(),
            server_id: server_id.to_owned(),
            inviter_id: inviter_id.to_owned(),
            created_at: clock::now_rfc3339(),
            max_uses,
            uses: 0,
        };
        let stored = Stored::new(keys::invite(&code), item)
            .with_gsi1(keys::invite_gsi1(server_id, &code))
            .with_ttl(clock::now_epoch_seconds() + ttl_seconds);
        self.put_new(&stored).await?;
        Ok(invite_view(stored))
    }

    /// A live invite by code.
    pub async fn get_invite(&self, code: &str) -> Result<Option<Invite>, StoreError> {
        Ok(self.get::<InviteItem>(&keys::invite(code)).await?.map(invite_view))
    }

    /// Joins `user_id` to the invite's server: idempotent for members, atomic with the invite's
    /// use count and with the subscriptions of the user's live connections.
    pub async fn join_with_invite(&self, code: &str, user_id: &str) -> Result<JoinOutcome, StoreError> {
        let Some(invite) = self.get::<InviteItem>(&keys::invite(code)).await? else {
            return Ok(JoinOutcome::InviteNotFound);
        };
        let server_id = invite.data.server_id.clone();
        let Some(server) = self.get_server(&server_id).await? else {
            return Ok(JoinOutcome::InviteNotFound);
        };
        if self.get_member(&server_id, user_id).await?.is_some() {
            return Ok(JoinOutcome::AlreadyMember(server));
        }
        let member = Member {
            server_id: server_id.clone(),
            user_id: user_id.to_owned(),
            role: Role::Member,
            joined_at: clock::now_rfc3339(),
        };
        let mut writes = self.subscription_puts(&server_id, user_id).await?;
        writes.push(self.use_invite_action(code, invite.ttl.unwrap_or_default())?);
        writes.push(self.transact_put(Self::item(&member_item(&member))?, true)?);
        match self.transact(writes).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => {
                // Either a concurrent join of the same user won, or the invite ran out meanwhile.
                return Ok(if self.get_member(&server_id, user_id).await?.is_some() {
                    JoinOutcome::AlreadyMember(server)
                } else {
                    JoinOutcome::InviteNotFound
                });
            }
            Err(other) => return Err(other),
        }
        Ok(JoinOutcome::Joined(server))
    }

    /// Counts one use of a live invite, failing the transaction if it expired or is used up.
    fn use_invite_action(
        &self,
        code: &str,
        expires_at: i64,
    ) -> Result<aws_sdk_dynamodb::types::TransactWriteItem, StoreError> {
        use aws_sdk_dynamodb::types::AttributeValue;
        let key = keys::invite(code);
        let update = aws_sdk_dynamodb::types::Update::builder()
            .table_name(&self.table)
            .set_key(Some(Self::key_attributes(&key)))
            .update_expression("SET #uses = #uses + :one")
            .condition_expression(
                "attribute_exists(#pk) AND #expires = :expires AND #expires > :now AND (attribute_not_exists(#max) OR #uses < #max)",
            )
            .expression_attribute_names("#pk", crate::table::PARTITION_KEY)
            .expression_attribute_names("#uses", "uses")
            .expression_attribute_names("#max", "maxUses")
            .expression_attribute_names("#expires", crate::table::TTL_ATTRIBUTE)
            .expression_attribute_values(":one", AttributeValue::N("1".to_owned()))
            .expression_attribute_values(":expires", AttributeValue::N(expires_at.to_string()))
            .expression_attribute_values(":now", AttributeValue::N(clock::now_epoch_seconds().to_string()))
            .build()
            .map_err(|error| StoreError::Sdk(error.to_string()))?;
        Ok(aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .update(update)
            .build())
    }
}

fn member_item(member: &Member) -> Stored<&Member> {
    Stored::new(keys::member(&member.server_id, &member.user_id), member)
        .with_gsi1(keys::member_gsi1(&member.user_id, &member.server_id))
}

fn channel_item(channel: &Channel) -> Stored<&Channel> {
    Stored::new(keys::channel(&channel.id), channel).with_gsi1(keys::channel_gsi1(&channel.server_id, &channel.id))
}
