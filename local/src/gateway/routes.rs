//! The route table (`shared/contract/routes.json`, also read by the CDK app) and API Gateway's
//! HTTP route selection.
//!
//! Selection follows API Gateway HTTP APIs: a route key is `METHOD /path` (or `ANY /path`, or
//! `$default`); `{name}` matches one path segment, `{name+}` the rest of the path. The most
//! specific match wins: no greedy variable over greedy, then literal segments over variables
//! (left to right), then an exact method over `ANY`; `$default` is the last resort.
//! Path parameter values are percent-decoded.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

/// The contract file shared with the CDK app.
pub const COSMOS_ROUTES_JSON: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/contract/routes.json"));

/// Routes by trigger: HTTP route keys, WebSocket route keys, stream consumers, Cognito triggers.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    /// HTTP API routes, in file order.
    pub http_routes: Vec<HttpRoute>,
    /// WebSocket route key (`$connect`, `$default`, an action) → function.
    pub websocket_routes: HashMap<String, String>,
    /// Functions fed by the table's stream.
    pub table_stream_consumers: Vec<String>,
    /// Cognito trigger (`PreSignUp`, ...) → function.
    pub cognito_triggers: BTreeMap<String, String>,
}

/// One HTTP API route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRoute {
    /// The route key as written (`GET /servers/{serverId}`).
    pub route_key: String,
    /// The function that serves it.
    pub function: String,
    method: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Variable(String),
    Greedy(String),
}

/// The route that serves a request, with its path parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'a> {
    /// The selected route.
    pub route: &'a HttpRoute,
    /// `{name}` → decoded value.
    pub path_parameters: BTreeMap<String, String>,
}

/// The route file could not be read.
#[derive(Debug)]
pub struct RouteError(String);

impl std::fmt::Display for RouteError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid route table: {}", self.0)
    }
}

impl std::error::Error for RouteError {}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RoutesFile {
    #[serde(default)]
    http_routes: Vec<RouteEntry>,
    #[serde(default)]
    web_socket_routes: Vec<RouteEntry>,
    #[serde(default)]
    table_stream_consumers: Vec<String>,
    #[serde(default)]
    cognito_triggers: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteEntry {
    route_key: String,
    function: String,
}

impl RouteTable {
    /// The Cosmos routes (`shared/contract/routes.json`, compiled in).
    pub fn cosmos() -> Result<Self, RouteError> {
        Self::from_json(COSMOS_ROUTES_JSON)
    }

    /// Parses a routes file.
    pub fn from_json(json: &str) -> Result<Self, RouteError> {
        let file: RoutesFile = serde_json::from_str(json).map_err(|e| RouteError(e.to_string()))?;
        let http_routes = file
            .http_routes
            .into_iter()
            .map(|entry| HttpRoute::new(&entry.route_key, entry.function))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            http_routes,
            websocket_routes: file
                .web_socket_routes
                .into_iter()
                .map(|entry| (entry.route_key, entry.function))
                .collect(),
            table_stream_consumers: file.table_stream_consumers,
            cognito_triggers: file.cognito_triggers,
        })
    }

    /// Adds an HTTP route (tests build small tables this way).
    pub fn with_http_route(mut self, route_key: &str, function: &str) -> Result<Self, RouteError> {
        self.http_routes.push(HttpRoute::new(route_key, function.to_owned())?);
        Ok(self)
    }

    /// Adds a WebSocket route.
    #[must_use]
    pub fn with_websocket_route(mut self, route_key: &str, function: &str) -> Self {
        self.websocket_routes.insert(route_key.to_owned(), function.to_owned());
        self
    }

    /// Selects the HTTP route for `method` and the raw (still percent-encoded) `path`.
    pub fn match_http(&self, method: &str, path: &str) -> Option<RouteMatch<'_>> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        let mut best: Option<(Specificity, RouteMatch<'_>)> = None;
        for route in &self.http_routes {
            let Some(found) = route.matches(method, &segments) else {
                continue;
            };
            let specificity = route.specificity(method);
            if best.as_ref().is_none_or(|(current, _)| specificity > *current) {
                best = Some((specificity, found));
            }
        }
        best.map(|(_, found)| found)
    }
}

/// Higher is more specific; compared lexicographically.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Specificity {
    not_default: bool,
    no_greedy: bool,
    literal_positions: Vec<bool>,
    exact_method: bool,
}

impl HttpRoute {
    fn new(route_key: &str, function: String) -> Result<Self, RouteError> {
        if route_key == "$default" {
            return Ok(Self {
                route_key: route_key.to_owned(),
                function,
                method: "$default".to_owned(),
                segments: Vec::new(),
            });
        }
        let (method, path) = route_key
            .split_once(' ')
            .ok_or_else(|| RouteError(format!("route key without a method: {route_key}")))?;
        let path = path
            .strip_prefix('/')
            .ok_or_else(|| RouteError(format!("route path must start with '/': {route_key}")))?;
        let segments = if path.is_empty() {
            vec![Segment::Literal(String::new())]
        } else {
            path.split('/')
                .map(
                    |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => match name.strip_suffix('+') {
                            Some(name) => Segment::Greedy(name.to_owned()),
                            None => Segment::Variable(name.to_owned()),
                        },
                        None => Segment::Literal(segment.to_owned()),
                    },
                )
                .collect()
        };
        Ok(Self {
            route_key: route_key.to_owned(),
            function,
            method: method.to_owned(),
            segments,
        })
    }

    fn matches<'a>(&'a self, method: &str, path: &[&str]) -> Option<RouteMatch<'a>> {
        let route = self;
        if self.method == "$default" {
            return Some(RouteMatch {
                route,
                path_parameters: BTreeMap::new(),
            });
        }
        if self.method != method && self.method != "ANY" {
            return None;
        }
        let mut path_parameters = BTreeMap::new();
        for (index, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Greedy(name) => {
                    let rest = path.get(index..).filter(|rest| !rest.is_empty())?.join("/");
                    if rest.is_empty() {
                        return None;
                    }
                    path_parameters.insert(name.clone(), decode(&rest));
                    return Some(RouteMatch { route, path_parameters });
                }
                Segment::Literal(literal) => {
                    if path.get(index)? != literal {
                        return None;
                    }
                }
                Segment::Variable(name) => {
                    let value = path.get(index).filter(|value| !value.is_empty())?;
                    path_parameters.insert(name.clone(), decode(value));
                }
            }
        }
        (path.len() == self.segments.len()).then_some(RouteMatch { route, path_parameters })
    }

    fn specificity(&self, method: &str) -> Specificity {
        Specificity {
            not_default: self.method != "$default",
            no_greedy: !self.segments.iter().any(|s| matches!(s, Segment::Greedy(_))),
            literal_positions: self.segments.iter().map(|s| matches!(s, Segment::Literal(_))).collect(),
            exact_method: self.method == method,
        }
    }
}

fn decode(raw: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", raw.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn table() -> RouteTable {
        RouteTable::default()
            .with_http_route("GET /servers/{serverId}", "by-id")
            .unwrap()
            .with_http_route("GET /servers/@me", "mine")
            .unwrap()
            .with_http_route("ANY /files/{path+}", "files")
            .unwrap()
            .with_http_route("DELETE /files/{path+}", "delete-files")
            .unwrap()
            .with_http_route("GET /", "root")
            .unwrap()
    }

    #[test]
    fn reads_the_cosmos_contract() {
        let routes = RouteTable::cosmos().unwrap();
        let found = routes.match_http("POST", "/channels/01J0/messages").unwrap();
        assert_eq!(found.route.function, "message-post");
        assert_eq!(found.route.route_key, "POST /channels/{channelId}/messages");
        assert_eq!(found.path_parameters["channelId"], "01J0");
        assert_eq!(routes.websocket_routes["$connect"], "ws-connect");
        assert_eq!(routes.table_stream_consumers, vec!["ws-broadcast".to_owned()]);
    }

    #[test]
    fn prefers_literal_segments_over_variables() {
        assert_eq!(
            table().match_http("GET", "/servers/@me").unwrap().route.function,
            "mine"
        );
        assert_eq!(
            table().match_http("GET", "/servers/42").unwrap().route.function,
            "by-id"
        );
    }

    #[test]
    fn matches_greedy_variables_and_prefers_exact_methods() {
        let routes = table();
        let found = routes.match_http("PUT", "/files/a/b%20c").unwrap();
        assert_eq!(found.route.function, "files");
        assert_eq!(found.path_parameters["path"], "a/b c");
        assert_eq!(
            routes.match_http("DELETE", "/files/a").unwrap().route.function,
            "delete-files"
        );
    }

    #[test]
    fn does_not_match_other_methods_lengths_or_empty_segments() {
        let routes = table();
        assert!(routes.match_http("POST", "/servers/42").is_none());
        assert!(routes.match_http("GET", "/servers/42/extra").is_none());
        assert!(routes.match_http("GET", "/servers/").is_none());
        assert!(routes.match_http("GET", "/files").is_none());
        assert_eq!(routes.match_http("GET", "/").unwrap().route.function, "root");
    }

    #[test]
    fn decodes_path_parameters_but_keeps_plus_signs() {
        let routes = table();
        let found = routes.match_http("GET", "/servers/a%2Fb+c").unwrap();
        assert_eq!(found.path_parameters["serverId"], "a/b+c");
    }

    #[test]
    fn falls_back_to_the_default_route() {
        let routes = table().with_http_route("$default", "fallback").unwrap();
        assert_eq!(
            routes.match_http("PATCH", "/nowhere").unwrap().route.function,
            "fallback"
        );
        assert_eq!(routes.match_http("GET", "/servers/1").unwrap().route.function, "by-id");
    }
}
