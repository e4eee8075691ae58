//! `cosmos-local`: the whole Cosmos backend on this machine (`make dev`).
//!
//! Fixed default ports on 127.0.0.1 (override with flags; 0 picks a free port):
//!
//! | what                               | port | flag             |
//! |------------------------------------|------|------------------|
//! | HTTP API                           | 4010 | `--http-port`    |
//! | WebSocket API + `@connections`     | 4011 | `--ws-port`      |
//! | Lambda Invoke API (Cognito triggers)| 4012 | `--invoke-port`  |
//! | moto (DynamoDB + Streams, S3, ...) | 4013 | `--moto-port`    |
//! | cognito-local                      | 4014 | `--cognito-port` |
//!
//! Writes the client configuration to `<repo>/.cosmos/local.json` (`--config <path>`); keeps
//! stand-in logs and cognito-local's data under `<repo>/.cosmos/local/` (`--data-dir <dir>`).
//! Ctrl-C (or SIGTERM) stops everything. Logs: `RUST_LOG` (default `info`).

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use cosmos_local::stack::{Stack, StackOptions, cosmos_functions};

const USAGE: &str = "usage: cosmos-local [--http-port N] [--ws-port N] [--invoke-port N] \
[--moto-port N] [--cognito-port N] [--data-dir DIR] [--config PATH]";

#[derive(Debug)]
struct Args {
    http_port: u16,
    websocket_port: u16,
    invoke_port: u16,
    moto_port: u16,
    cognito_port: u16,
    data_dir: PathBuf,
    config: PathBuf,
}

fn repo_dir() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().map_or(manifest.clone(), PathBuf::from)
}

fn parse_args() -> anyhow::Result<Args> {
    let cosmos_dir = repo_dir().join(".cosmos");
    let mut args = Args {
        http_port: 4010,
        websocket_port: 4011,
        invoke_port: 4012,
        moto_port: 4013,
        cognito_port: 4014,
        data_dir: cosmos_dir.join("local"),
        config: cosmos_dir.join("local.json"),
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        if flag == "--help" || flag == "-h" {
            let _ = writeln!(std::io::stdout(), "{USAGE}");
            std::process::exit(0);
        }
        let value = given.next().with_context(|| format!("{flag} needs a value\n{USAGE}"))?;
        let port = || {
            value
                .parse::<u16>()
                .with_context(|| format!("{flag}: not a port: {value}"))
        };
        match flag.as_str() {
            "--http-port" => args.http_port = port()?,
            "--ws-port" => args.websocket_port = port()?,
            "--invoke-port" => args.invoke_port = port()?,
            "--moto-port" => args.moto_port = port()?,
            "--cognito-port" => args.cognito_port = port()?,
            "--data-dir" => args.data_dir = PathBuf::from(&value),
            "--config" => args.config = PathBuf::from(&value),
            _ => bail!("unknown flag {flag}\n{USAGE}"),
        }
    }
    Ok(args)
}

async fn stopped() {
    #[cfg(unix)]
    {
        let Ok(mut terminate) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
        .init();
    let args = parse_args()?;
    let options = StackOptions {
        http_port: args.http_port,
        websocket_port: args.websocket_port,
        invoke_port: args.invoke_port,
        moto_port: args.moto_port,
        cognito_port: args.cognito_port,
        ..StackOptions::new(&args.data_dir, cosmos_functions())
    };
    let stack = Stack::start(options).await?;
    stack.write_client_config(&args.config)?;

    let endpoints = stack.endpoints();
    let config = stack.client_config();
    let banner = format!(
        "\nCosmos local stack is up (Ctrl-C stops it)\n\
         \x20 HTTP API           {}\n\
         \x20 WebSocket API      {}?token=<id or access token>\n\
         \x20 @connections       {}/@connections/<id>\n\
         \x20 Lambda Invoke API  {}\n\
         \x20 moto               {}   (AWS_ENDPOINT_URL)\n\
         \x20 cognito-local      {}   pool {}  client {}\n\
         \x20 bucket             {}   region {}\n\
         \x20 client config      {}\n\
         \x20 logs               {}\n",
        endpoints.http_api,
        endpoints.websocket,
        endpoints.connections,
        endpoints.invoke,
        endpoints.moto,
        endpoints.cognito,
        config.user_pool_id,
        config.user_pool_client_id,
        config.bucket,
        config.region,
        args.config.display(),
        args.data_dir.join("logs").display(),
    );
    let _ = std::io::stdout().lock().write_all(banner.as_bytes());

    stopped().await;
    tracing::info!("stopping");
    stack.shutdown().await;
    Ok(())
}
