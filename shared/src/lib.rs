//! What every Cosmos function shares: configuration, ids, keys, the single-table store,
//! token verification, the `@connections` client, errors and responses.
//!
//! Function crates stay thin (authenticate → parse → authorize → call this crate → render);
//! domain rules, key formats and SDK calls live here, once.

pub mod access;
pub mod clock;
pub mod config;
pub mod connections;
pub mod domain;
pub mod error;
pub mod frames;
pub mod http;
pub mod ids;
pub mod jwt;
pub mod keys;
pub mod logging;
pub mod model;
pub mod store;
pub mod table;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
