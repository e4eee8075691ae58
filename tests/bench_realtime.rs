//! `make bench`: how fast the real-time path is on the local stack (debug build, moto).
//!
//! Starts a whole stack, signs two users up, and measures, over `COSMOS_BENCH_MESSAGES`
//! messages (default 200): the HTTP latency of `POST /channels/{id}/messages`, and the time from
//! sending that request to the `MESSAGE_CREATE` arriving on the other user's socket (through
//! the table, its stream, `ws-broadcast` and `@connections`). Prints percentiles; asserts nothing.

use std::io::Write as _;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use integration_tests::World;

fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index]
}

fn summary(name: &str, mut samples: Vec<Duration>) -> String {
    samples.sort();
    format!(
        "{name:<34} p50 {:>7.1} ms   p95 {:>7.1} ms   p99 {:>7.1} ms   max {:>7.1} ms",
        percentile(&samples, 0.50).as_secs_f64() * 1000.0,
        percentile(&samples, 0.95).as_secs_f64() * 1000.0,
        percentile(&samples, 0.99).as_secs_f64() * 1000.0,
        samples.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<()> {
    let count: usize = std::env::var("COSMOS_BENCH_MESSAGES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(200);
    let started = Instant::now();
    let world = World::start().await?;
    let stack_ready = started.elapsed();
    let ada = world.sign_up("ada").await?;
    let bob = world.sign_up("bob").await?;
    let (server_id, general) = world.create_server(&ada, "Bench").await?;
    world.invite_and_join(&ada, &bob, &server_id).await?;
    let (mut bob_socket, _) = world.connect_ready(&bob).await?;

    let path = format!("/channels/{general}/messages");
    let mut post_latency = Vec::with_capacity(count);
    let mut delivery_latency = Vec::with_capacity(count);
    let all = Instant::now();
    for index in 0..count {
        let body = serde_json::json!({ "content": format!("message {index}") }).to_string();
        let sent = Instant::now();
        let (status, posted) = world.as_user(&ada, "POST", &path, Some(&body)).await?;
        post_latency.push(sent.elapsed());
        if status != 201 {
            bail!("post {index}: {status} {posted}");
        }
        let delivered = bob_socket.expect("MESSAGE_CREATE").await?;
        delivery_latency.push(sent.elapsed());
        if delivered["id"] != posted["id"] {
            bail!("out of order: expected {} got {}", posted["id"], delivered["id"]);
        }
    }
    let total = all.elapsed();

    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "local stack ready in {:.2} s (stand-ins, bootstrap, gateway)",
        stack_ready.as_secs_f64()
    )?;
    writeln!(out, "{count} messages, one at a time, in {:.2} s", total.as_secs_f64())?;
    writeln!(out, "{}", summary("POST /channels/{id}/messages", post_latency))?;
    writeln!(
        out,
        "{}",
        summary("post sent → MESSAGE_CREATE received", delivery_latency)
    )?;
    world.stop().await;
    Ok(())
}
