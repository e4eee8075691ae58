use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::{TableConfig, load_aws_config};
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let table = TableConfig::from_env()?;
    let aws = load_aws_config().await;
    let state = ws_disconnect::State::new(Store::from_sdk_config(&aws, &table));
    run(service_fn(|event: LambdaEvent<_>| async {
        Ok::<_, Error>(ws_disconnect::handle(&state, event.payload).await)
    }))
    .await
}
