//! The OpenAPI document, generated from the handlers' annotations; served at `/openapi.json`
//! with Swagger UI at `/swagger/`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, language, sts, system};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cogway",
        description = "Self-hosted cognitive services with Azure AI services-compatible REST APIs. \
                       Authenticate with `Ocp-Apim-Subscription-Key`, `?Subscription-Key=`, or `Authorization: Bearer` \
                       (a token from /sts/v1.0/issueToken, or a key). Errors use Azure's `{\"error\":{\"code\",\"message\"}}` shape."
    ),
    paths(
        system::livez, system::ready, system::status, system::metrics,
        sts::issue_token,
        admin::create_key, admin::list_keys, admin::revoke_key, admin::key_usage,
        language::analyze::analyze_text,
        language::jobs::submit, language::jobs::status, language::jobs::cancel,
        language::embeddings::embeddings,
        language::v31::languages, language::v31::sentiment, language::v31::key_phrases, language::v31::pii,
        language::custom::put_project, language::custom::get_project, language::custom::delete_project,
        language::custom::add_examples, language::custom::train,
    ),
    components(schemas(
        language::dto::InputDocument, language::dto::AnalysisInput, language::dto::AnalyzeTextRequest,
        language::dto::DocumentsRequest, language::dto::DocumentError, language::dto::LanguageDocument,
        language::dto::SentimentDocument, language::dto::KeyPhraseDocument, language::dto::PiiDocument,
        language::dto::SummaryDocument, language::dto::ClassificationDocument,
        language::dto::EmbeddingsRequest, language::dto::EmbeddingsResponse,
    )),
    modifiers(&Security),
    tags(
        (name = "Language", description = "Azure Language 2023-04-01: detection, sentiment, key phrases, PII, summarization; embeddings"),
        (name = "Language (v3.1)", description = "Text Analytics v3.1 routes"),
        (name = "Custom classification", description = "Train text classifiers on your own labelled data"),
        (name = "Auth", description = "Access tokens"),
        (name = "Admin", description = "Keys and usage (admin keys only)"),
        (name = "System", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("Ocp-Apim-Subscription-Key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}
