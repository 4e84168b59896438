//! Browser sign-on with the authorization code flow (`openidconnect`): PKCE (S256), `state`
//! and `nonce`. The ID token is verified by `openidconnect` (signature, issuer, audience,
//! nonce); the access token that comes with it goes through the same `Verifier` as every
//! bearer token, so a browser session gets exactly the identity an API client would.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::discovery;
use super::issuers::IssuerConfig;
use super::principal::Principal;
use super::sessions::{self, PendingLogin};
use super::Auth;
use crate::db::Database;

/// Why a sign-on did not complete; the text is safe to show.
#[derive(Debug, thiserror::Error)]
pub enum SignOnError {
    #[error("the sign-on provider cannot be used right now: {0}")]
    Provider(String),
    #[error("this sign-on is unknown, expired or already used; start again")]
    UnknownState,
    #[error("sign-on refused: {0}")]
    Refused(String),
    #[error("{0}")]
    Config(String),
}

fn config_err(e: impl std::fmt::Display) -> SignOnError {
    SignOnError::Config(e.to_string())
}

async fn client(
    issuer: &IssuerConfig,
    redirect_uri: &str,
) -> Result<
    CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    >,
    SignOnError,
> {
    let client_id = issuer
        .client_id
        .clone()
        .ok_or_else(|| SignOnError::Config(format!("issuer {} has no client_id", issuer.issuer)))?;
    let secret = issuer.secret().ok_or_else(|| {
        SignOnError::Config(format!(
            "issuer {} has no client_secret (or client_secret_env) for browser sign-on",
            issuer.issuer
        ))
    })?;
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.issuer.clone()).map_err(config_err)?,
        &discovery::http(),
    )
    .await
    .map_err(|e| SignOnError::Provider(e.to_string()))?;
    Ok(CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id),
        Some(ClientSecret::new(secret)),
    )
    .set_redirect_uri(RedirectUrl::new(redirect_uri.to_string()).map_err(config_err)?))
}

/// Starts a sign-on: remembers the login and returns the provider URL to send the browser to.
pub async fn begin(
    db: &Database,
    issuer: &IssuerConfig,
    tenant: &str,
    redirect_uri: &str,
    return_to: &str,
) -> Result<String, SignOnError> {
    let client = client(issuer, redirect_uri).await?;
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    sessions::save_login(
        db,
        tenant,
        state.secret(),
        &PendingLogin {
            issuer: issuer.issuer.clone(),
            pkce_verifier: verifier.secret().clone(),
            nonce: nonce.secret().clone(),
            return_to: return_to.to_string(),
        },
    )
    .await
    .map_err(|e| SignOnError::Provider(e.to_string()))?;
    Ok(url.to_string())
}

/// What a completed sign-on yields.
pub struct SignedOn {
    pub principal: Principal,
    pub id_token: String,
    pub return_to: String,
}

/// Completes a sign-on from the provider's callback.
pub async fn finish(
    auth: &Auth,
    db: &Database,
    issuers: &[IssuerConfig],
    tenant: &str,
    code: &str,
    state: &str,
    redirect_uri: &str,
) -> Result<SignedOn, SignOnError> {
    let login = sessions::take_login(db, tenant, state)
        .await
        .map_err(|e| SignOnError::Provider(e.to_string()))?
        .ok_or(SignOnError::UnknownState)?;
    let issuer = issuers
        .iter()
        .find(|i| i.issuer == login.issuer)
        .ok_or(SignOnError::UnknownState)?;
    let client = client(issuer, redirect_uri).await?;
    let tokens = client
        .exchange_code(AuthorizationCode::new(code.to_string()))
        .map_err(config_err)?
        .set_pkce_verifier(PkceCodeVerifier::new(login.pkce_verifier))
        .request_async(&discovery::http())
        .await
        .map_err(|e| SignOnError::Refused(format!("the code was not accepted: {e}")))?;
    let id_token = tokens
        .id_token()
        .ok_or_else(|| SignOnError::Refused("the provider sent no ID token".into()))?;
    let claims = id_token
        .claims(&client.id_token_verifier(), &Nonce::new(login.nonce))
        .map_err(|e| SignOnError::Refused(format!("the ID token is not valid: {e}")))?;
    let principal = auth
        .authenticate(tokens.access_token().secret())
        .await
        .map_err(|e| SignOnError::Refused(e.to_string()))?;
    if principal.issuer != issuer.issuer || principal.subject != claims.subject().as_str() {
        return Err(SignOnError::Refused(
            "the access token and the ID token name different users".into(),
        ));
    }
    Ok(SignedOn {
        principal,
        id_token: id_token.to_string(),
        return_to: login.return_to,
    })
}
