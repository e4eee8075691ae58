use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::{TableConfig, load_aws_config};
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let table = TableConfig::from_env()?;
    let aws = load_aws_config().await;
    let state = auth_hooks::State::new(Store::from_sdk_config(&aws, &table));
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async {
        Ok::<_, Error>(auth_hooks::handle(&state, event.payload).await?)
    }))
    .await
}
