//! Messages of text channels: idempotent posting and bounded history pages.

use serde::{Deserialize, Serialize};

use super::{Store, StoreError, Stored};
use crate::clock;
use crate::domain::NONCE_TTL_SECONDS;
use crate::keys;
use crate::model::Message;

/// What posting did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// A new message was stored.
    Created(Message),
    /// The author's nonce was seen before: this is the message it created.
    Duplicate(Message),
}

/// Remembers which message a nonce created, for a day.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NonceItem {
    message_id: String,
}

impl Store {
    /// Stores a message; with a nonce, atomically with the nonce so a retried post returns the
    /// first message instead of creating a second one.
    pub async fn post_message(&self, message: Message, nonce: Option<&str>) -> Result<PostOutcome, StoreError> {
        let message_item = Stored::new(keys::message(&message.channel_id, &message.id), &message);
        let Some(nonce) = nonce else {
            self.put_new(&message_item).await?;
            return Ok(PostOutcome::Created(message));
        };
        let nonce_key = keys::message_nonce(&message.channel_id, &message.author_id, nonce);
        let nonce_item = Stored::new(
            nonce_key.clone(),
            NonceItem {
                message_id: message.id.clone(),
            },
        )
        .with_ttl(clock::now_epoch_seconds() + NONCE_TTL_SECONDS);
        let written = self
            .transact(vec![
                self.transact_put(Self::item(&nonce_item)?, true)?,
                self.transact_put(Self::item(&message_item)?, true)?,
            ])
            .await;
        match written {
            Ok(()) => Ok(PostOutcome::Created(message)),
            Err(StoreError::Conflict) => {
                let first = match self.get::<NonceItem>(&nonce_key).await? {
                    Some(seen) => self.get_message(&message.channel_id, &seen.data.message_id).await?,
                    None => None,
                };
                // The nonce expired between the write and this read, or its message was deleted.
                first.map(PostOutcome::Duplicate).ok_or(StoreError::Conflict)
            }
            Err(other) => Err(other),
        }
    }

    /// One message.
    pub async fn get_message(&self, channel_id: &str, message_id: &str) -> Result<Option<Message>, StoreError> {
        Ok(self
            .get::<Message>(&keys::message(channel_id, message_id))
            .await?
            .map(|stored| stored.data))
    }

    /// Up to `limit` messages strictly between `after` and `before`, newest first.
    ///
    /// With only `after`, the page is the `limit` messages immediately after it (read oldest
    /// first, then reversed), so catch-up pages forward without gaps.
    pub async fn list_messages(
        &self,
        channel_id: &str,
        after: Option<&str>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<Message>, StoreError> {
        let range = keys::messages_between(channel_id, after, before);
        let forward = after.is_some() && before.is_none();
        let mut messages: Vec<Message> = self.query_range(&range, limit, forward).await?;
        if forward {
            messages.reverse();
        }
        Ok(messages)
    }
}
