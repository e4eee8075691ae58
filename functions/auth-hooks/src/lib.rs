//! `auth-hooks`: the Cognito user pool's triggers.
//!
//! - **Trigger:** Cognito (or cognito-local through the Lambda Invoke API), dispatched on
//!   `triggerSource`. The event is returned exactly as received (Cognito reads its `response`);
//!   an `Err` becomes a Lambda function error, which makes Cognito refuse the operation and show
//!   the message to the user.
//!
//!   | `triggerSource` | what happens |
//!   |---|---|
//!   | `PreSignUp_SignUp`, `PreSignUp_AdminCreateUser` | a `preferred_username`, if given, must be a valid handle (2–32 of `a-z 0-9 _ .`), else rejected |
//!   | `PostConfirmation_ConfirmSignUp`, `PostConfirmation_AdminConfirmSignUp` | the profile is created once (id = `sub`) |
//!   | `PostConfirmation_ConfirmForgotPassword` | nothing |
//!   | `TokenGeneration_*` | nothing yet (the handle claim is a later convenience) |
//!   | anything else | nothing (logged) |
//!
//!   The profile's handle is `preferred_username`; without a valid one, the email's local part,
//!   lowercased, with every character outside `a-z 0-9 _ .` replaced by `_` and cut to 32
//!   characters (`user_<first 8 of sub>` if that leaves fewer than 2). Handles are not claimed
//!   unique yet (`HANDLE#` items come with the identity issue).
//! - **Access pattern:** `USER#<sub>` / `PROFILE`, conditional put (idempotent: Cognito may
//!   deliver a trigger twice).
//! - **Env:** `TABLE_NAME`.

use serde_json::Value;
use shared::domain::{MAX_HANDLE_CHARS, MIN_HANDLE_CHARS, is_valid_handle};
use shared::error::HookError;
use shared::model::Profile;
use shared::store::Store;

/// What the triggers need, built once per cold start.
#[derive(Debug)]
pub struct State {
    /// The single table.
    pub store: Store,
}

impl State {
    /// The state from its parts.
    pub fn new(store: Store) -> Self {
        Self { store }
    }
}

/// Handles one trigger and returns the event for Cognito (unchanged so far).
pub async fn handle(state: &State, event: Value) -> Result<Value, HookError> {
    let trigger = event
        .get("triggerSource")
        .and_then(Value::as_str)
        .ok_or_else(|| HookError::BadEvent("the event has no triggerSource".to_owned()))?;
    match trigger {
        "PreSignUp_SignUp" | "PreSignUp_AdminCreateUser" => {
            if let Some(handle) = user_attribute(&event, "preferred_username") {
                validate_handle(handle)?;
            }
        }
        "PostConfirmation_ConfirmSignUp" | "PostConfirmation_AdminConfirmSignUp" => {
            create_profile(state, &event).await?;
        }
        "PostConfirmation_ConfirmForgotPassword" => {}
        token if token.starts_with("TokenGeneration_") => {}
        other => tracing::info!(trigger = other, "passing an unhandled trigger through"),
    }
    Ok(event)
}

/// `request.userAttributes.<name>`, if present.
fn user_attribute<'a>(event: &'a Value, name: &str) -> Option<&'a str> {
    event.get("request")?.get("userAttributes")?.get(name)?.as_str()
}

/// A handle is 2–32 characters of `a-z`, `0-9`, `_` and `.`.
fn validate_handle(handle: &str) -> Result<(), HookError> {
    if is_valid_handle(handle) {
        Ok(())
    } else {
        Err(HookError::Rejected(format!(
            "preferred_username must be {MIN_HANDLE_CHARS}-{MAX_HANDLE_CHARS} characters of a-z, 0-9, _ or ."
        )))
    }
}

/// The handle a new profile gets (see the module documentation).
fn profile_handle(event: &Value, sub: &str) -> String {
    if let Some(handle) = user_attribute(event, "preferred_username").filter(|handle| validate_handle(handle).is_ok()) {
        return handle.to_owned();
    }
    let from_email: String = user_attribute(event, "email")
        .and_then(|email| email.split('@').next())
        .unwrap_or_default()
        .to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .take(MAX_HANDLE_CHARS)
        .collect();
    if from_email.len() >= MIN_HANDLE_CHARS {
        from_email
    } else {
        format!("user_{}", &sub[..8])
    }
}

async fn create_profile(state: &State, event: &Value) -> Result<(), HookError> {
    let sub = user_attribute(event, "sub")
        .filter(|sub| shared::ids::is_user_id(sub))
        .ok_or_else(|| HookError::BadEvent("request.userAttributes.sub is missing or not a user id".to_owned()))?;
    let profile = Profile {
        id: sub.to_owned(),
        handle: profile_handle(event, sub),
        created_at: shared::clock::now_rfc3339(),
    };
    let created = state
        .store
        .create_profile(&profile)
        .await
        .map_err(|error| HookError::Internal(Box::new(error)))?;
    tracing::info!(user_id = sub, created, "profile on confirmation");
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use aws_lambda_events::cognito::{
        CognitoEventUserPoolsPostConfirmation, CognitoEventUserPoolsPreSignup, CognitoEventUserPoolsPreTokenGen,
    };
    use serde_json::json;

    const PRE_SIGN_UP: &str = include_str!("../../../events/auth-hooks/pre-sign-up.json");
    const POST_CONFIRMATION: &str = include_str!("../../../events/auth-hooks/post-confirmation-confirm-sign-up.json");
    const PRE_TOKEN_GENERATION: &str = include_str!("../../../events/auth-hooks/pre-token-generation.json");
    const FORGOT_PASSWORD: &str =
        include_str!("../../../events/auth-hooks/aws-post-confirmation-confirm-forgot-password.json");
    const WITHOUT_HANDLE: &str = include_str!("../../../events/auth-hooks/aws-post-confirmation-without-handle.json");
    const ADMIN_CREATE_USER: &str = include_str!("../../../events/auth-hooks/aws-pre-sign-up-admin-create-user.json");
    const ADA: &str = "794192ac-8ac8-4d49-a7e9-46feb209fb3b";
    const GRACE: &str = "5f1c6a2e-3b7d-4e29-9c41-2a8d0f6b7e13";

    fn event(sample: &str) -> Value {
        serde_json::from_str(sample).unwrap()
    }

    async fn state() -> State {
        State::new(shared::testing::fresh_store().await)
    }

    #[test]
    fn sample_events_deserialize_into_their_cognito_event_types() {
        for sample in [PRE_SIGN_UP, ADMIN_CREATE_USER] {
            serde_json::from_str::<CognitoEventUserPoolsPreSignup>(sample).unwrap();
        }
        for sample in [POST_CONFIRMATION, FORGOT_PASSWORD, WITHOUT_HANDLE] {
            serde_json::from_str::<CognitoEventUserPoolsPostConfirmation>(sample).unwrap();
        }
        // cognito-local sends `groupConfiguration: {}` and `claimsOverrideDetails: {}` where
        // Cognito sends the group lists and `null`, so its token-generation event does not fit
        // the typed struct: one reason this function reads events as JSON. Cognito's shape does.
        let mut aws_shaped = event(PRE_TOKEN_GENERATION);
        aws_shaped["request"]["groupConfiguration"] =
            json!({"groupsToOverride": [], "iamRolesToOverride": [], "preferredRole": null});
        aws_shaped["response"]["claimsOverrideDetails"] = Value::Null;
        serde_json::from_value::<CognitoEventUserPoolsPreTokenGen>(aws_shaped).unwrap();
        for sample in [
            PRE_SIGN_UP,
            ADMIN_CREATE_USER,
            POST_CONFIRMATION,
            FORGOT_PASSWORD,
            WITHOUT_HANDLE,
            PRE_TOKEN_GENERATION,
        ] {
            assert!(event(sample)["triggerSource"].is_string());
        }
    }

    #[tokio::test]
    async fn post_confirmation_creates_the_profile_once_and_returns_the_event_unchanged() {
        let state = state().await;

        let first = handle(&state, event(POST_CONFIRMATION)).await.unwrap();
        let profile = state.store.get_profile(ADA).await.unwrap().unwrap();
        let again = handle(&state, event(POST_CONFIRMATION)).await.unwrap();

        assert_eq!(first, event(POST_CONFIRMATION));
        assert_eq!(again, event(POST_CONFIRMATION));
        assert_eq!(profile.handle, "ada");
        assert_eq!(
            state.store.get_profile(ADA).await.unwrap(),
            Some(profile),
            "the repeat changed nothing"
        );
    }

    #[tokio::test]
    async fn admin_confirm_sign_up_creates_the_profile_too() {
        let state = state().await;
        let mut admin = event(POST_CONFIRMATION);
        admin["triggerSource"] = json!("PostConfirmation_AdminConfirmSignUp");

        handle(&state, admin).await.unwrap();

        assert!(state.store.get_profile(ADA).await.unwrap().is_some());
    }

    #[tokio::test]
    async fn post_confirmation_without_a_handle_falls_back_to_the_emails_local_part() {
        let state = state().await;

        handle(&state, event(WITHOUT_HANDLE)).await.unwrap();

        assert_eq!(
            state.store.get_profile(GRACE).await.unwrap().unwrap().handle,
            "grace.hopper_cosmos"
        );
    }

    #[tokio::test]
    async fn confirm_forgot_password_returns_the_event_untouched_and_creates_nothing() {
        let state = state().await;

        let returned = handle(&state, event(FORGOT_PASSWORD)).await.unwrap();

        assert_eq!(returned, event(FORGOT_PASSWORD));
        assert!(state.store.get_profile(GRACE).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn pre_sign_up_accepts_a_valid_or_absent_handle_and_returns_the_event_unchanged() {
        let state = state().await;
        let mut without_handle = event(PRE_SIGN_UP);
        without_handle["request"]["userAttributes"]
            .as_object_mut()
            .unwrap()
            .remove("preferred_username");

        assert_eq!(handle(&state, event(PRE_SIGN_UP)).await.unwrap(), event(PRE_SIGN_UP));
        assert_eq!(handle(&state, without_handle.clone()).await.unwrap(), without_handle);
    }

    #[tokio::test]
    async fn pre_sign_up_rejects_an_invalid_handle() {
        let state = state().await;

        let error = handle(&state, event(ADMIN_CREATE_USER)).await.unwrap_err();

        assert!(matches!(error, HookError::Rejected(_)), "{error:?}");
        assert_eq!(
            error.to_string(),
            "preferred_username must be 2-32 characters of a-z, 0-9, _ or ."
        );
    }

    #[test]
    fn handles_are_two_to_thirty_two_lowercase_letters_digits_underscores_or_dots() {
        for good in ["ad", "ada.lovelace_1815", &"a".repeat(32)] {
            assert!(validate_handle(good).is_ok(), "{good}");
        }
        for bad in ["a", "", "Ada", "ada lovelace", "ada-l", "ada@x", "adä", &"a".repeat(33)] {
            assert!(validate_handle(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn token_generation_and_unknown_triggers_pass_through_unchanged() {
        let state = state().await;
        let mut unknown = event(PRE_TOKEN_GENERATION);
        unknown["triggerSource"] = json!("CustomMessage_SignUp");

        assert_eq!(
            handle(&state, event(PRE_TOKEN_GENERATION)).await.unwrap(),
            event(PRE_TOKEN_GENERATION)
        );
        assert_eq!(handle(&state, unknown.clone()).await.unwrap(), unknown);
    }

    #[tokio::test]
    async fn malformed_events_are_bad_events() {
        let state = state().await;
        let mut without_sub = event(POST_CONFIRMATION);
        without_sub["request"]["userAttributes"]
            .as_object_mut()
            .unwrap()
            .remove("sub");

        assert!(matches!(
            handle(&state, json!({"request": {}})).await,
            Err(HookError::BadEvent(_))
        ));
        assert!(matches!(handle(&state, without_sub).await, Err(HookError::BadEvent(_))));
    }
}
