use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use shared::config::{TableConfig, TokenConfig, load_aws_config};
use shared::jwt::TokenVerifier;
use shared::store::Store;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let (table, tokens) = (TableConfig::from_env()?, TokenConfig::from_env()?);
    let aws = load_aws_config().await;
    let state = ws_connect::State::new(Store::from_sdk_config(&aws, &table), TokenVerifier::new(tokens));
    run(service_fn(|event: LambdaEvent<_>| async {
        Ok::<_, Error>(ws_connect::handle(&state, event.payload).await)
    }))
    .await
}
