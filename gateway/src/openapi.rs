//! The OpenAPI document, generated from the handlers' annotations; served at `/openapi.json`
//! with Swagger UI at `/swagger/`.

use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{admin, decision, language, speech, sts, system, translator, vision};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cogway",
        description = "Self-hosted cognitive services with Azure AI services-compatible REST APIs and an OpenAI-compatible audio API. \
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
        language::v31::languages, language::v31::sentiment, language::v31::key_phrases, language::v31::entities,
        language::v31::pii,
        language::custom::list_projects, language::custom::put_project, language::custom::get_project,
        language::custom::delete_project,
        language::custom::add_examples, language::custom::train,
        language::qna::query::query_knowledge_base, language::qna::query::query_text,
        language::qna::authoring::list_projects, language::qna::authoring::create_project,
        language::qna::authoring::get_project, language::qna::authoring::delete_project,
        language::qna::authoring::job, language::qna::authoring::project_job, language::qna::authoring::deploy_job,
        language::qna::authoring::list_qnas, language::qna::authoring::update_qnas,
        language::qna::authoring::list_synonyms, language::qna::authoring::update_synonyms,
        language::qna::authoring::list_sources, language::qna::authoring::update_sources,
        language::qna::authoring::list_deployments, language::qna::authoring::get_deployment,
        language::qna::authoring::deploy, language::qna::authoring::export, language::qna::authoring::export_result,
        language::qna::authoring::import,
        language::clu::runtime::analyze_conversations,
        language::clu::authoring::list_projects, language::clu::authoring::create_project,
        language::clu::authoring::get_project, language::clu::authoring::delete_project,
        language::clu::authoring::import, language::clu::authoring::export, language::clu::authoring::train,
        language::clu::authoring::deploy, language::clu::authoring::get_deployment,
        language::clu::authoring::deletion_job, language::clu::authoring::project_job,
        language::clu::authoring::deployment_job, language::clu::authoring::export_result,
        speech::recognition::short_audio, speech::translation::translate_speech, speech::synthesis::synthesize, speech::synthesis::voices,
        speech::openai::transcriptions, speech::openai::translations, speech::openai::speech,
        speech::batch::submit, speech::batch::list, speech::batch::status, speech::batch::delete,
        speech::batch::files, speech::batch::file, speech::fast::transcribe,
        speech::batch::current::submit, speech::batch::current::list, speech::batch::current::status,
        speech::batch::current::delete, speech::batch::current::files, speech::batch::current::file,
        speech::custom::put_model, speech::custom::get_model, speech::custom::list_models, speech::custom::delete_model,
        speech::custom::put_lexicon, speech::custom::get_lexicon, speech::custom::list_lexicons,
        speech::custom::delete_lexicon,
        speech::live::recognize::recognition, speech::live::recognize::universal, speech::live::recognize::translation,
        speech::live::synthesize::synthesis_socket, speech::live::realtime::realtime,
        translator::translate::translate, translator::text::detect, translator::text::break_sentence,
        translator::text::transliterate, translator::dictionary::lookup, translator::dictionary::examples,
        translator::languages::languages,
        translator::glossaries::put, translator::glossaries::get, translator::glossaries::list,
        translator::glossaries::delete, translator::models::list, translator::models::put,
        vision::analyze::analyze, vision::read::submit, vision::read::result, vision::face::detect,
        vision::document::analyze, vision::document::result,
        vision::custom::projects::list_domains, vision::custom::projects::get_domain,
        vision::custom::projects::create_project, vision::custom::projects::list_projects,
        vision::custom::projects::get_project, vision::custom::projects::delete_project,
        vision::custom::tags::create_tag, vision::custom::tags::list_tags, vision::custom::tags::get_tag,
        vision::custom::tags::delete_tag, vision::custom::images::add_images, vision::custom::images::add_image_files,
        vision::custom::iterations::train, vision::custom::iterations::list_iterations,
        vision::custom::iterations::get_iteration, vision::custom::iterations::performance,
        vision::custom::iterations::publish, vision::custom::iterations::export,
        vision::custom::iterations::list_exports, vision::custom::iterations::download_export,
        vision::custom::prediction::classify,
        decision::anomaly::entire, decision::anomaly::last, decision::anomaly::change_point,
        decision::personalizer::events::rank, decision::personalizer::events::rank_multi_slot,
        decision::personalizer::events::reward, decision::personalizer::events::reward_multi_slot,
        decision::personalizer::events::activate,
        decision::personalizer::admin::get_configuration, decision::personalizer::admin::put_configuration,
        decision::personalizer::admin::get_policy, decision::personalizer::admin::put_policy,
        decision::personalizer::admin::reset_policy, decision::personalizer::admin::export_model,
        decision::personalizer::admin::import_model, decision::personalizer::admin::reset_model,
        decision::personalizer::admin::model_properties, decision::personalizer::admin::log_properties,
        decision::personalizer::admin::delete_logs,
        decision::safety::text::analyze, decision::safety::image::analyze, decision::safety::blocklists::create_or_update,
        decision::safety::blocklists::get, decision::safety::blocklists::list, decision::safety::blocklists::delete,
        decision::safety::blocklists::add_items, decision::safety::blocklists::remove_items,
        decision::safety::blocklists::list_items, decision::safety::blocklists::get_item,
    ),
    components(schemas(
        decision::anomaly::TimeSeriesPoint, decision::anomaly::UnivariateDetectionOptions,
        decision::anomaly::UnivariateEntireDetectionResult, decision::anomaly::UnivariateLastDetectionResult,
        decision::anomaly::UnivariateChangePointDetectionResult,
        decision::personalizer::events::RankedAction, decision::personalizer::events::RankResponse,
        decision::personalizer::events::SlotResponse, decision::personalizer::events::MultiSlotRankResponse,
        decision::personalizer::events::RewardRequest, decision::personalizer::events::SlotReward,
        decision::personalizer::events::MultiSlotRewardRequest, decision::personalizer::admin::ModelProperties,
        decision::safety::text::AnalyzeTextOptions, decision::safety::text::AnalyzeTextResult,
        decision::safety::text::TextBlocklistMatch, decision::safety::text::TextCategoriesAnalysis,
        decision::safety::image::AnalyzeImageOptions, decision::safety::image::ImageData,
        decision::safety::image::AnalyzeImageResult, decision::safety::image::ImageCategoriesAnalysis,
        decision::safety::blocklists::TextBlocklist, decision::safety::blocklists::TextBlocklistItem,
        language::dto::InputDocument, language::dto::AnalysisInput, language::dto::AnalyzeTextRequest,
        language::dto::DocumentsRequest, language::dto::DocumentError, language::dto::LanguageDocument,
        language::dto::SentimentDocument, language::dto::KeyPhraseDocument, language::dto::EntityDocument,
        language::dto::PiiDocument,
        language::dto::SummaryDocument, language::dto::ClassificationDocument,
        language::dto::EmbeddingsRequest, language::dto::EmbeddingsResponse,
    )),
    modifiers(&Security),
    tags(
        (name = "Language", description = "Azure Language 2023-04-01: detection, sentiment, key phrases, PII, summarization; embeddings"),
        (name = "Language (v3.1)", description = "Text Analytics v3.1 routes"),
        (name = "Conversational language understanding", description = "Azure CLU (2022-05-01, 2023-04-01, 2024-11-01): analyze-conversations with intents and learned, list and prebuilt entities; the authoring API (import, train, deploy)"),
        (name = "Question answering", description = "Azure question answering 2021-10-01: answers from deployed knowledge bases (MiniLM embeddings + BM25) or from documents sent with the question; the authoring API"),
        (name = "Custom classification", description = "Train text classifiers on your own labelled data"),
        (name = "Speech", description = "Azure Speech: speech to text for short audio, text to speech (SSML), voices"),
        (name = "Speech (live)", description = "WebSocket sessions: the Speech SDK's protocol (recognition, translation, synthesis) and OpenAI Realtime transcription"),
        (name = "Speech (OpenAI)", description = "OpenAI-compatible audio: transcriptions, translations, speech"),
        (name = "Batch transcription", description = "Long audio, asynchronously (Azure speech-to-text v3.2 shape, upload instead of contentUrls)"),
        (name = "Speech customization", description = "Custom speech models (phrase lists) and pronunciation lexicons"),
        (name = "Translator", description = "Azure Translator v3.0 (also under /translator/text/v3.0): translate, detect, \
                                              breaksentence, transliterate, dictionary, languages. Errors use Translator's numeric codes."),
        (name = "Translator customization", description = "Glossaries (term lists applied through `category`) and neural models (Argos packages)"),
        (name = "Vision", description = "Azure Image Analysis 4.0 (tags, objects, people, read, smart crops), Read v3.2 (asynchronous OCR), Face detection"),
        (name = "Document intelligence", description = "Document Intelligence v4.0 (2024-11-30) prebuilt-read and prebuilt-layout: text, lines, words, paragraphs and ruled tables of images and PDFs"),
        (name = "Custom vision", description = "Image classifiers trained on your own labelled images (Custom Vision training v3.4-preview and v3.3, prediction v3.1 and v3.0, as the SDK 3.1.1 calls them), exported to ONNX"),
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
