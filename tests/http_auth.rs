//! The HTTP API's JWT authorizer behaviour over real HTTP: every bad token is refused with
//! API Gateway's own 401 before any function runs, and nothing is written.

use integration_tests::World;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

/// cognito-local signs with a development key that ships in its npm package; signing with it
/// lets a test vary exactly one claim (expiry, audience) of an otherwise valid token.
fn cognito_local_key() -> anyhow::Result<EncodingKey> {
    let path = cosmos_local::services::default_tools_dir()
        .join("node/node_modules/cognito-local/lib/keys/cognitoLocal.private.json");
    let keys: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    Ok(EncodingKey::from_rsa_pem(
        keys["pem"].as_str().unwrap_or_default().as_bytes(),
    )?)
}

fn sign(claims: &Value, key: &EncodingKey) -> anyhow::Result<String> {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("CognitoLocal".to_owned());
    Ok(jsonwebtoken::encode(&header, claims, key)?)
}

fn id_claims(world: &World, user_id: &str, audience: &str, expires_at: i64) -> Value {
    let now = shared::clock::now_epoch_seconds();
    json!({
        "sub": user_id, "aud": audience, "token_use": "id", "iat": now - 60, "auth_time": now - 60, "exp": expires_at,
        "iss": format!("{}/{}", world.config.cognito_endpoint.trim_end_matches('/'), world.config.user_pool_id),
        "email": "ada@example.com", "cognito:username": user_id,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_tokens_get_the_authorizers_401_and_change_nothing() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;
    let key = cognito_local_key()?;
    let now = shared::clock::now_epoch_seconds();
    let client_id = world.config.user_pool_client_id.clone();

    let good_minted = sign(&id_claims(&world, &ada.id, &client_id, now + 600), &key)?;
    let expired = sign(&id_claims(&world, &ada.id, &client_id, now - 600), &key)?;
    let other_client = sign(&id_claims(&world, &ada.id, "some-other-app-client", now + 600), &key)?;
    let mut wrong_issuer_claims = id_claims(&world, &ada.id, &client_id, now + 600);
    wrong_issuer_claims["iss"] = json!("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_Elsewhere");
    let wrong_issuer = sign(&wrong_issuer_claims, &key)?;
    let forged_key = EncodingKey::from_rsa_pem(include_bytes!("fixtures/forger.pem"))?;
    let forged = sign(&id_claims(&world, &ada.id, &client_id, now + 600), &forged_key)?;
    let (header, payload, _signature) = {
        let mut parts = ada.token().split('.');
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
            parts.next(),
        )
    };
    let unsigned = format!("{header}.{payload}.");

    let (status, _, _) = world
        .call("POST", "/servers", Some(&good_minted), Some(r#"{"name":"minted"}"#))
        .await?;
    assert_eq!(status, 201, "a correctly minted token is the control case");

    let refused = [
        ("missing", None),
        ("garbage", Some("garbage")),
        ("expired", Some(expired.as_str())),
        ("other client", Some(other_client.as_str())),
        ("wrong issuer", Some(wrong_issuer.as_str())),
        ("forged signature", Some(forged.as_str())),
        ("unsigned", Some(unsigned.as_str())),
        ("refresh token", Some(ada.tokens.refresh_token.as_str())),
    ];
    for (case, token) in refused {
        let (status, headers, body) = world
            .call("POST", "/servers", token, Some(r#"{"name":"nope"}"#))
            .await?;
        assert_eq!(status, 401, "{case}");
        assert!(headers.get("www-authenticate").is_some(), "{case}");
        assert_eq!(body, json!({"message": "Unauthorized"}), "{case}");
    }
    let (_, servers) = world.as_user(&ada, "GET", "/servers", None).await?;
    assert_eq!(
        servers.as_array().map(Vec::len),
        Some(1),
        "only the control server exists: {servers}"
    );
    world.stop().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_tokens_work_and_functions_answer_with_json_errors() -> anyhow::Result<()> {
    let world = World::start().await?;
    let ada = world.sign_up("ada").await?;

    let (status, _, body) = world
        .call("GET", "/servers", Some(&ada.tokens.access_token), None)
        .await?;
    assert_eq!((status, body), (200, json!([])));

    let (status, body) = world.as_user(&ada, "POST", "/servers", Some("{not json")).await?;
    assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_json")));
    let (status, body) = world
        .as_user(&ada, "GET", &format!("/servers/{}", shared::ids::new_id()), None)
        .await?;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("not_found")));
    let (status, _, body) = world.call("GET", "/nowhere", Some(ada.token()), None).await?;
    assert_eq!((status, body), (404, json!({"message": "Not Found"})));
    let oversize = format!(r#"{{"content":"{}"}}"#, "x".repeat(100_000));
    let (_, general) = world.create_server(&ada, "Limits").await?;
    let (status, body) = world
        .as_user(&ada, "POST", &format!("/channels/{general}/messages"), Some(&oversize))
        .await?;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );
    world.stop().await;
    Ok(())
}
