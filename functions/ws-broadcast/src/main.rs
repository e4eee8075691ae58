use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::{ConnectionsConfig, TableConfig, load_aws_config};
use shared::connections::ConnectionsClient;
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let (table, connections) = (TableConfig::from_env()?, ConnectionsConfig::from_env()?);
    let aws = load_aws_config().await;
    let state = ws_broadcast::State::new(
        Store::from_sdk_config(&aws, &table),
        ConnectionsClient::new(&aws, &connections),
    );
    run(service_fn(|event: LambdaEvent<_>| async {
        Ok::<_, Error>(ws_broadcast::handle(&state, event.payload).await)
    }))
    .await
}
