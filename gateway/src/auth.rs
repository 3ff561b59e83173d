//! Who is calling: every way Azure clients send credentials, resolved to a key.
//!
//! - `Ocp-Apim-Subscription-Key: <key>` header (or Custom Vision's `Training-Key` and
//!   `Prediction-Key`)
//! - `?Subscription-Key=<key>` query parameter (Translator clients)
//! - `Authorization: Bearer <JWT>` from `POST /sts/v1.0/issueToken`
//! - `Authorization: Bearer <key>` (OpenAI-compatible clients send the key this way)
//!
//! The [`Caller`] extractor authenticates, checks that the key may use the route's service,
//! applies the key's requests-per-second limit and, on service routes, takes one of the server's
//! in-flight permits (load shedding), so a handler that takes a `Caller` is protected. In that
//! order: an unauthenticated flood gets 401, a key over its rate 429, and only accepted work can
//! find the server full (503 + Retry-After).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use cogway_core::{Code, ServiceError};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use prometheus::IntGauge;
use serde::{Deserialize, Serialize};
use tokio::sync::OwnedSemaphorePermit;

use crate::app::AppState;
use crate::db::now;
use crate::errors::ApiError;
use crate::keys::KeyInfo;
use crate::service::Service;

const INVALID_CREDENTIALS: &str = "Access denied due to invalid subscription key or wrong API endpoint. Make sure to \
     provide a valid key for an active subscription and use a correct regional API endpoint for your resource.";

/// The service a scope belongs to, set as scope app data; `Caller` checks the key against it.
#[derive(Debug, Clone, Copy)]
pub struct ServiceName(pub Service);

/// An authenticated caller whose key may use this route's service and is within its rate.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: KeyInfo,
    /// Held while the request runs on a service route; released when the handler is done.
    _inflight: Option<Arc<InflightPermit>>,
}

/// One of the `server.max_inflight` permits and one of the key's `limits.max_inflight_per_key`,
/// counted in the `inflight_requests` gauge.
pub struct InflightPermit {
    _permit: OwnedSemaphorePermit,
    _key_permit: OwnedSemaphorePermit,
    gauge: IntGauge,
}

impl Drop for InflightPermit {
    fn drop(&mut self) {
        self.gauge.dec();
    }
}

impl std::fmt::Debug for InflightPermit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InflightPermit")
    }
}

/// Takes an in-flight permit, or refuses at once: 429 + Retry-After when the key already holds
/// its share (`limits.max_inflight_per_key`, so one key cannot fill the server), 503 + Retry-After
/// when the server is full.
fn admit(state: &AppState, key: &KeyInfo, service: Service) -> Result<InflightPermit, ApiError> {
    let per_key = state.settings.limits.max_inflight_per_key;
    let key_slots = state
        .key_inflight
        .entry(key.id.clone())
        .or_insert_with(|| Arc::new(tokio::sync::Semaphore::new(per_key)))
        .clone();
    let key_permit = key_slots.try_acquire_owned().map_err(|_| {
        state.metrics.shed.with_label_values(&[service.as_str()]).inc();
        ApiError(
            ServiceError::new(
                Code::RateLimited,
                format!(
                    "This key already has {per_key} requests in progress, the most one key may have. Retry shortly."
                ),
            )
            .with_retry_after(1),
        )
    })?;
    match state.inflight.clone().try_acquire_owned() {
        Ok(permit) => {
            state.metrics.inflight.inc();
            Ok(InflightPermit { _permit: permit, _key_permit: key_permit, gauge: state.metrics.inflight.clone() })
        }
        Err(_) => {
            state.metrics.shed.with_label_values(&[service.as_str()]).inc();
            Err(ApiError(
                ServiceError::new(Code::Overloaded, "The server is at capacity. Retry shortly.").with_retry_after(1),
            ))
        }
    }
}

/// A caller whose key is an admin key.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    /// The key's public id.
    sub: String,
    iss: String,
    iat: i64,
    exp: i64,
}

const ISSUER: &str = "cogway";

/// Signs and checks the access tokens of `/sts/v1.0/issueToken` (HS256).
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    ttl_secs: i64,
}

impl Tokens {
    pub fn new(secret: &[u8], ttl_secs: u64) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            ttl_secs: i64::try_from(ttl_secs).unwrap_or(600),
        }
    }

    pub fn issue(&self, key: &KeyInfo) -> Result<String, ServiceError> {
        let iat = now();
        let claims = Claims { sub: key.id.clone(), iss: ISSUER.into(), iat, exp: iat + self.ttl_secs };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| ServiceError::internal(format!("signing a token: {e}")))
    }

    /// The key id a valid, unexpired token was issued for.
    fn verify(&self, token: &str) -> Option<String> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.leeway = 5;
        validation.set_required_spec_claims(&["exp", "iss", "sub"]);
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation).ok().map(|data| data.claims.sub)
    }
}

enum Credential {
    Key(String),
    Token(String),
}

fn credential(req: &HttpRequest) -> Option<Credential> {
    let header = |name: &str| req.headers().get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let named = ["Ocp-Apim-Subscription-Key", "Training-Key", "Prediction-Key"];
    if let Some(key) = named.iter().find_map(|name| header(name).filter(|k| !k.is_empty())) {
        return Some(Credential::Key(key.to_string()));
    }
    if let Some(auth) = header("Authorization") {
        let token = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")).unwrap_or(auth).trim();
        if !token.is_empty() {
            // A JWT has three dot-separated parts; anything else is a key sent as a bearer token.
            return Some(if token.split('.').count() == 3 {
                Credential::Token(token.to_string())
            } else {
                Credential::Key(token.to_string())
            });
        }
    }
    web::Query::<Vec<(String, String)>>::from_query(req.query_string())
        .ok()
        .and_then(|q| q.0.into_iter().find(|(k, v)| k.eq_ignore_ascii_case("Subscription-Key") && !v.is_empty()))
        .map(|(_, v)| Credential::Key(v))
}

fn unauthorized() -> ApiError {
    ApiError::new(Code::Unauthorized, INVALID_CREDENTIALS)
}

/// Resolves the request's credential to a live key (no service or rate check).
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<KeyInfo, ApiError> {
    let key = match credential(req).ok_or_else(unauthorized)? {
        Credential::Key(key) => state.keys.lookup(&key).await?,
        Credential::Token(token) => match state.tokens.verify(&token) {
            Some(id) => state.keys.by_id(&id).await?,
            None => None,
        },
    };
    key.ok_or_else(unauthorized)
}

/// Like [`authenticate`], for a key given in the `Ocp-Apim-Subscription-Key` header only
/// (`issueToken` does not accept a token to make a token).
pub async fn authenticate_key_only(state: &AppState, req: &HttpRequest) -> Result<KeyInfo, ApiError> {
    match credential(req) {
        Some(Credential::Key(key)) => state.keys.lookup(&key).await?.ok_or_else(unauthorized),
        _ => Err(unauthorized()),
    }
}

async fn caller(req: HttpRequest) -> Result<Caller, ApiError> {
    caller_with_key(&req, None).await
}

/// The caller of `req`, authenticated by `explicit_key` when given (APIs that carry the key in the
/// body, like LibreTranslate's `api_key`), else by the request's headers; then the same service,
/// rate and load checks as the [`Caller`] extractor.
pub async fn caller_with_key(req: &HttpRequest, explicit_key: Option<&str>) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .cloned()
        .ok_or_else(|| ApiError::new(Code::Internal, "application state missing"))?;
    let key = match explicit_key {
        Some(key) => state.keys.lookup(key).await?.ok_or_else(unauthorized)?,
        None => authenticate(&state, req).await?,
    };
    let service = req.app_data::<ServiceName>().copied();
    if let Some(ServiceName(service)) = service
        && !key.allows(service)
    {
        return Err(ApiError::new(Code::Forbidden, format!("This key may not use the {service} service.")));
    }
    state.rate_limits.check(&key).await?;
    let inflight = match service {
        Some(ServiceName(service)) => Some(Arc::new(admit(&state, &key, service)?)),
        None => None,
    };
    Ok(Caller { key, _inflight: inflight })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        Box::pin(caller(req.clone()))
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let caller = caller(req).await?;
            if !caller.key.is_admin {
                return Err(ApiError::new(Code::Forbidden, "This route needs an admin key."));
            }
            Ok(Admin(caller))
        })
    }
}
