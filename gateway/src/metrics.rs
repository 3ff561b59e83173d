//! Prometheus metrics: requests, latency, 4xx/5xx, in-flight work and model queue depth.

use prometheus::{
    CounterVec, Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};

pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub latency: HistogramVec,
    pub inflight: IntGauge,
    pub shed: IntCounterVec,
    /// Seconds of audio recognized (`kind="recognized"`) and synthesized (`kind="synthesized"`).
    pub audio_seconds: CounterVec,
    /// Images analysed by the Vision service, by feature (`tags`, `objects`, `read`, `faces`, ...).
    pub vision_images: IntCounterVec,
    /// Jobs this replica runs now, by kind.
    pub jobs_running: IntGaugeVec,
    /// Jobs this replica finished, by kind and status.
    pub jobs_finished: IntCounterVec,
    queue_depth: IntGaugeVec,
    queue_rejected: IntGaugeVec,
    batches: IntGaugeVec,
    restarts: IntGaugeVec,
}

impl Metrics {
    pub fn new() -> Result<Self, prometheus::Error> {
        let registry = Registry::new_custom(Some("cogway".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new("http_requests_total", "HTTP requests by service and status class"),
            &["service", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new("http_request_duration_seconds", "HTTP request latency by service")
                .buckets(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0]),
            &["service"],
        )?;
        let inflight = IntGauge::new("inflight_requests", "Requests doing model work now")?;
        let shed = IntCounterVec::new(
            Opts::new("shed_requests_total", "Requests refused with 503 by load shedding"),
            &["service"],
        )?;
        let audio_seconds =
            CounterVec::new(Opts::new("audio_seconds_total", "Seconds of audio recognized or synthesized"), &["kind"])?;
        let vision_images =
            IntCounterVec::new(Opts::new("vision_images_total", "Images analysed, by visual feature"), &["feature"])?;
        let jobs_running = IntGaugeVec::new(Opts::new("jobs_running", "Jobs this replica runs now"), &["kind"])?;
        let jobs_finished = IntCounterVec::new(
            Opts::new("jobs_finished_total", "Jobs this replica finished, by kind and status"),
            &["kind", "status"],
        )?;
        let queue_depth = IntGaugeVec::new(
            Opts::new("model_queue_depth", "Inputs waiting in or running on a model worker"),
            &["model"],
        )?;
        let queue_rejected = IntGaugeVec::new(
            Opts::new("model_queue_rejected_total", "Inputs a model worker refused because its queue was full"),
            &["model"],
        )?;
        let batches = IntGaugeVec::new(Opts::new("model_batches_total", "Batches a model worker has run"), &["model"])?;
        let restarts = IntGaugeVec::new(
            Opts::new("model_restarts_total", "Times a model worker recovered from a panic in its model"),
            &["model"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(inflight.clone()))?;
        registry.register(Box::new(shed.clone()))?;
        registry.register(Box::new(audio_seconds.clone()))?;
        registry.register(Box::new(vision_images.clone()))?;
        registry.register(Box::new(jobs_running.clone()))?;
        registry.register(Box::new(jobs_finished.clone()))?;
        registry.register(Box::new(queue_depth.clone()))?;
        registry.register(Box::new(queue_rejected.clone()))?;
        registry.register(Box::new(batches.clone()))?;
        registry.register(Box::new(restarts.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
            inflight,
            shed,
            audio_seconds,
            vision_images,
            jobs_running,
            jobs_finished,
            queue_depth,
            queue_rejected,
            batches,
            restarts,
        })
    }

    /// Publishes a model worker's counters (called at scrape time).
    pub fn set_worker(&self, model: &str, stats: &cogway_core::WorkerStats) {
        self.queue_depth.with_label_values(&[model]).set(i64::try_from(stats.queue_depth()).unwrap_or(i64::MAX));
        self.queue_rejected.with_label_values(&[model]).set(i64::try_from(stats.rejected()).unwrap_or(i64::MAX));
        self.batches.with_label_values(&[model]).set(i64::try_from(stats.batches()).unwrap_or(i64::MAX));
        self.restarts.with_label_values(&[model]).set(i64::try_from(stats.restarts()).unwrap_or(i64::MAX));
    }

    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(e) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(error = %e, "encoding metrics");
        }
        String::from_utf8(buffer).unwrap_or_default()
    }
}

/// The service label of a request path (by its first segment: `/languages` is Translator's,
/// `/language/...` the Language service's).
pub fn service_of(path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "v1" if path.starts_with("/v1/audio") => "speech",
        "language" | "text" | "v1" => "language",
        "speech" | "cognitiveservices" | "speechtotext" => "speech",
        "translate" | "detect" | "breaksentence" | "transliterate" | "dictionary" | "languages" | "translator"
        | "libretranslate" => "translation",
        "computervision" | "vision" | "face" | "customvision" | "documentintelligence" => "vision",
        "anomalydetector" | "personalizer" | "contentsafety" => "decision",
        "admin" => "admin",
        "sts" => "sts",
        _ => "system",
    }
}

#[cfg(test)]
mod tests {
    use super::service_of;

    #[test]
    fn paths_are_labelled_by_their_service() {
        assert_eq!(service_of("/language/:analyze-text"), "language");
        assert_eq!(service_of("/v1/embeddings"), "language");
        assert_eq!(service_of("/v1/audio/speech"), "speech");
        assert_eq!(service_of("/languages"), "translation");
        assert_eq!(service_of("/translator/text/v3.0/translate"), "translation");
        assert_eq!(service_of("/libretranslate/translate"), "translation");
        assert_eq!(service_of("/computervision/imageanalysis:analyze"), "vision");
        assert_eq!(service_of("/vision/v3.2/read/analyze"), "vision");
        assert_eq!(service_of("/face/v1.0/detect"), "vision");
        assert_eq!(service_of("/anomalydetector/v1.1/timeseries/entire/detect"), "decision");
        assert_eq!(service_of("/ready"), "system");
    }
}
