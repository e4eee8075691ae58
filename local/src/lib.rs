//! The local stack: the whole Cosmos backend on one machine, with no AWS account.
//!
//! - [`services`]: the AWS stand-ins we run as child processes (moto for DynamoDB + Streams and
//!   S3; cognito-local for Cognito with triggers).
//! - [`bootstrap`]: the table, bucket, user pool and app client the functions expect.
//! - [`gateway`]: what AWS does not ship locally (HTTP API with the JWT authorizer, WebSocket API
//!   with `@connections`, the stream → `ws-broadcast` mapping, the Lambda Invoke API).
//! - [`functions`]: the real function crates' handlers, invoked in process with real event JSON.
//! - [`stack`]: all of the above started together; `make dev` runs it, the end-to-end tests too.
//! - [`cognito`]: a small client for the Cognito API (bootstrap, tests and the walkthrough).

pub mod bootstrap;
pub mod cognito;
pub mod functions;
pub mod gateway;
pub mod services;
pub mod stack;
