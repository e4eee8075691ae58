//! Configuration, read from the environment once per cold start. Nothing else reads the
//! environment. Each function reads only the groups it needs; a missing variable is named.

use std::env;

/// A required variable is missing or empty.
#[derive(Debug, thiserror::Error)]
#[error("environment variable {0} is not set")]
pub struct ConfigError(pub &'static str);

fn required(lookup: &impl Fn(&str) -> Option<String>, name: &'static str) -> Result<String, ConfigError> {
    lookup(name)
        .filter(|value| !value.trim().is_empty())
        .ok_or(ConfigError(name))
}

fn from_process_env(name: &str) -> Option<String> {
    env::var(name).ok()
}

/// Where the single table is: `TABLE_NAME`.
#[derive(Debug, Clone)]
pub struct TableConfig {
    /// The table's name.
    pub table_name: String,
}

impl TableConfig {
    /// Reads `TABLE_NAME`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&from_process_env)
    }

    /// Reads from any lookup (tests pass a map instead of mutating the process environment).
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            table_name: required(lookup, "TABLE_NAME")?,
        })
    }
}

/// The WebSocket API's `@connections` endpoint: `CONNECTIONS_ENDPOINT`
/// (`https://<api>.execute-api.<region>.amazonaws.com/<stage>`, or the local gateway's URL).
#[derive(Debug, Clone)]
pub struct ConnectionsConfig {
    /// Base URL the management API client calls `@connections/<id>` under.
    pub endpoint: String,
}

impl ConnectionsConfig {
    /// Reads `CONNECTIONS_ENDPOINT`.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&from_process_env)
    }

    /// Reads from any lookup.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Ok(Self {
            endpoint: required(lookup, "CONNECTIONS_ENDPOINT")?,
        })
    }
}

/// Which tokens the WebSocket API accepts: `USER_POOL_ISSUER`, `USER_POOL_JWKS_URL` and
/// `USER_POOL_CLIENT_IDS` (comma separated). Issuer and JWKS URL are separate settings because
/// local stand-ins serve the JWKS from another host than the issuer names.
#[derive(Debug, Clone)]
pub struct TokenConfig {
    /// Expected `iss`.
    pub issuer: String,
    /// Where the signing keys are published.
    pub jwks_url: String,
    /// App clients whose tokens are accepted (`aud` of id tokens, `client_id` of access tokens).
    pub client_ids: Vec<String>,
}

impl TokenConfig {
    /// Reads the three user-pool variables.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(&from_process_env)
    }

    /// Reads from any lookup.
    pub fn from_lookup(lookup: &impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let client_ids: Vec<String> = required(lookup, "USER_POOL_CLIENT_IDS")?
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .collect();
        if client_ids.is_empty() {
            return Err(ConfigError("USER_POOL_CLIENT_IDS"));
        }
        Ok(Self {
            issuer: required(lookup, "USER_POOL_ISSUER")?,
            jwks_url: required(lookup, "USER_POOL_JWKS_URL")?,
            client_ids,
        })
    }
}

/// Loads the AWS SDK configuration (region, credentials, `AWS_ENDPOINT_URL` for local stand-ins).
pub async fn load_aws_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn names_the_missing_variable() {
        let error = TableConfig::from_lookup(&lookup(&[])).err().map(|e| e.to_string());
        assert_eq!(error.as_deref(), Some("environment variable TABLE_NAME is not set"));
    }

    #[test]
    fn splits_client_ids() {
        let config = TokenConfig::from_lookup(&lookup(&[
            ("USER_POOL_ISSUER", "https://issuer"),
            ("USER_POOL_JWKS_URL", "https://issuer/.well-known/jwks.json"),
            ("USER_POOL_CLIENT_IDS", "a, b,,"),
        ]));
        assert_eq!(
            config.map(|c| c.client_ids).ok(),
            Some(vec!["a".to_owned(), "b".to_owned()])
        );
    }

    #[test]
    fn rejects_blank_values() {
        assert!(ConnectionsConfig::from_lookup(&lookup(&[("CONNECTIONS_ENDPOINT", " ")])).is_err());
    }
}
