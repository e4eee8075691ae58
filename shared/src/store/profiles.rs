//! User profiles (created on sign-up confirmation).

use super::{Store, StoreError, Stored};
use crate::keys;
use crate::model::Profile;

impl Store {
    /// Creates a profile unless it exists; returns whether it was created (idempotent).
    pub async fn create_profile(&self, profile: &Profile) -> Result<bool, StoreError> {
        match self.put_new(&Stored::new(keys::profile(&profile.id), profile)).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// A profile by user id.
    pub async fn get_profile(&self, user_id: &str) -> Result<Option<Profile>, StoreError> {
        Ok(self
            .get::<Profile>(&keys::profile(user_id))
            .await?
            .map(|stored| stored.data))
    }
}
