//! Authorization: who may see or change what. Always reads the base table (consistent reads),
//! never GSI1, so a membership written a moment ago counts.
//!
//! Unknown server or channel → 404; known but the caller is not a member → 403.

use crate::error::ApiError;
use crate::model::{Channel, Member, Server};
use crate::store::Store;

/// The server and the caller's membership, or 404 / 403.
pub async fn server_member(store: &Store, server_id: &str, user_id: &str) -> Result<(Server, Member), ApiError> {
    let (server, member) = tokio::try_join!(store.get_server(server_id), store.get_member(server_id, user_id))?;
    let server = server.ok_or_else(|| ApiError::NotFound("unknown server".to_owned()))?;
    let member = member.ok_or_else(|| ApiError::Forbidden("you are not a member of this server".to_owned()))?;
    Ok((server, member))
}

/// The channel and the caller's membership of its server, or 404 / 403.
pub async fn channel_member(store: &Store, channel_id: &str, user_id: &str) -> Result<(Channel, Member), ApiError> {
    let channel = store
        .get_channel(channel_id)
        .await?
        .ok_or_else(|| ApiError::NotFound("unknown channel".to_owned()))?;
    let member = store
        .get_member(&channel.server_id, user_id)
        .await?
        .ok_or_else(|| ApiError::Forbidden("you are not a member of this channel's server".to_owned()))?;
    Ok((channel, member))
}
