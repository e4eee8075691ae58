//! Live WebSocket connections and their per-server subscriptions (the fan-out index).

use super::{Index, Store, StoreError, Stored};
use crate::clock;
use crate::domain::CONNECTION_TTL_SECONDS;
use crate::keys;
use crate::model::{Connection, Member, Subscription};

/// Most sockets of one user subscribed when they join or create a server (the rest of a
/// transaction's 100 actions are the membership writes).
const MAX_SUBSCRIBED_SOCKETS: usize = 90;

/// Where to send a server's event: one subscribed connection.
pub type SubscriptionTarget = Subscription;

impl Store {
    /// Records a new connection and subscribes it to each of the user's servers; returns them.
    ///
    /// The connection is written before memberships are read: a join running at the same time
    /// then either finds this socket (and subscribes it) or is found here. Whatever both miss
    /// (GSI1 lags), `hello` re-subscribes.
    pub async fn put_connection(&self, connection: &Connection) -> Result<Vec<String>, StoreError> {
        let expires_at = clock::now_epoch_seconds() + CONNECTION_TTL_SECONDS;
        self.put_batch(vec![Self::item(
            &Stored::new(keys::connection(&connection.connection_id), connection)
                .with_gsi1(keys::connection_gsi1(&connection.user_id, &connection.connection_id))
                .with_ttl(expires_at),
        )?])
        .await?;
        let memberships: Vec<Member> = self
            .query_prefix(Index::Gsi1, &keys::servers_of(&connection.user_id))
            .await?;
        let server_ids: Vec<String> = memberships.into_iter().map(|member| member.server_id).collect();
        self.subscribe_connection(connection, &server_ids).await?;
        Ok(server_ids)
    }

    /// (Re)subscribes one connection to the given servers; idempotent.
    pub async fn subscribe_connection(&self, connection: &Connection, server_ids: &[String]) -> Result<(), StoreError> {
        let expires_at = clock::now_epoch_seconds() + CONNECTION_TTL_SECONDS;
        let items = server_ids
            .iter()
            .map(|server_id| Self::item(&subscription_item(server_id, connection, expires_at)))
            .collect::<Result<Vec<_>, _>>()?;
        self.put_batch(items).await
    }

    /// Deletes one subscription (a 410 for a connection whose own item may already be gone).
    pub async fn delete_subscription(&self, server_id: &str, connection_id: &str) -> Result<(), StoreError> {
        self.delete_batch(vec![keys::subscription(server_id, connection_id)])
            .await
    }

    /// A live connection by id.
    pub async fn get_connection(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        Ok(self
            .get::<Connection>(&keys::connection(connection_id))
            .await?
            .map(|stored| stored.data))
    }

    /// Deletes a connection and all its subscriptions (on `$disconnect` or a 410 Gone).
    /// Idempotent: deleting a connection that is already gone succeeds.
    pub async fn delete_connection(&self, connection_id: &str) -> Result<(), StoreError> {
        let Some(connection) = self.get_connection_even_expired(connection_id).await? else {
            return Ok(());
        };
        let memberships: Vec<Member> = self
            .query_prefix(Index::Gsi1, &keys::servers_of(&connection.user_id))
            .await?;
        let mut doomed: Vec<keys::Key> = memberships
            .iter()
            .map(|member| keys::subscription(&member.server_id, connection_id))
            .collect();
        doomed.push(keys::connection(connection_id));
        self.delete_batch(doomed).await
    }

    /// The connection item regardless of TTL: cleanup must also remove expired leftovers.
    async fn get_connection_even_expired(&self, connection_id: &str) -> Result<Option<Connection>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key_attributes(&keys::connection(connection_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|error| StoreError::from_sdk(&error))?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(StoreError::from))
            .transpose()
    }

    /// A user's live connections (GSI1; a socket opened a moment ago may be missing).
    pub async fn connections_of_user(&self, user_id: &str) -> Result<Vec<Connection>, StoreError> {
        self.query_prefix(Index::Gsi1, &keys::connections_of(user_id)).await
    }

    /// Subscription puts for every live connection of a user, to go into the same transaction
    /// as the membership: the membership and the subscriptions commit together, so when
    /// `ws-broadcast` reads the server's subscriptions for the `MEMBER_JOIN` (or a later event),
    /// the joiner's own sockets are among them.
    pub(super) async fn subscription_puts(
        &self,
        server_id: &str,
        user_id: &str,
    ) -> Result<Vec<aws_sdk_dynamodb::types::TransactWriteItem>, StoreError> {
        let expires_at = clock::now_epoch_seconds() + CONNECTION_TTL_SECONDS;
        self.connections_of_user(user_id)
            .await?
            .iter()
            // A transaction holds 100 actions; nobody has that many sockets open at once.
            .take(MAX_SUBSCRIBED_SOCKETS)
            .map(|connection| {
                self.transact_put(
                    Self::item(&subscription_item(server_id, connection, expires_at))?,
                    false,
                )
            })
            .collect()
    }

    /// Every live subscription to a server's events: the audience of a fan-out.
    pub async fn subscriptions_of_server(&self, server_id: &str) -> Result<Vec<Subscription>, StoreError> {
        self.query_prefix(Index::Table, &keys::subscriptions_of(server_id))
            .await
    }
}

fn subscription_item(server_id: &str, connection: &Connection, expires_at: i64) -> Stored<Subscription> {
    Stored::new(
        keys::subscription(server_id, &connection.connection_id),
        Subscription {
            server_id: server_id.to_owned(),
            connection_id: connection.connection_id.clone(),
            user_id: connection.user_id.clone(),
        },
    )
    .with_ttl(expires_at)
}
