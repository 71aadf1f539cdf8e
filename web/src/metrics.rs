//! Prometheus metrics: give it what happened (a request, a search, an answer, an ingested file), get the
//! text a Prometheus server scrapes from `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use lore_answer::Answer;
use lore_retrieve::SearchResults;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OutcomeLabels {
    outcome: String,
}

fn request_buckets() -> Histogram {
    // 1 ms .. ~65 s: searches take milliseconds, streamed answers tens of seconds.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric Lore exports; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    requests: Family<RouteLabels, Histogram, fn() -> Histogram>,
    search_seconds: Histogram,
    searches_cached: Counter,
    answer_first_token_seconds: Histogram,
    answer_seconds: Histogram,
    answers: Family<OutcomeLabels, Counter>,
    ingest_files: Family<OutcomeLabels, Counter>,
    ingest_chunks: Counter,
    answer_queue_depth: Gauge,
    ingest_queue_depth: Gauge,
    /// Milliseconds of the last answers, smoothed: the Retry-After a refused question gets.
    answer_ms_average: Arc<AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("lore");
        let requests = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(request_buckets);
        registry.register("http_request_duration_seconds", "HTTP requests by route and status", requests.clone());
        let search_seconds = Histogram::new(exponential_buckets(0.001, 2.0, 14));
        registry.register("search_duration_seconds", "Hybrid searches run (not cached)", search_seconds.clone());
        let searches_cached = Counter::default();
        registry.register("searches_cached", "Searches answered from the result cache", searches_cached.clone());
        let answer_first_token_seconds = Histogram::new(exponential_buckets(0.25, 2.0, 10));
        registry.register(
            "answer_first_token_seconds",
            "From the question to the first answer token",
            answer_first_token_seconds.clone(),
        );
        let answer_seconds = Histogram::new(exponential_buckets(0.25, 2.0, 11));
        registry.register("answer_duration_seconds", "Whole answers, checked", answer_seconds.clone());
        let answers = Family::<OutcomeLabels, Counter>::default();
        registry.register("answers", "Answers by outcome (answered, abstained, failed)", answers.clone());
        let ingest_files = Family::<OutcomeLabels, Counter>::default();
        registry.register("ingest_files", "Files the ingestion worker finished, by outcome", ingest_files.clone());
        let ingest_chunks = Counter::default();
        registry.register("ingest_chunks_embedded", "Chunks embedded by the ingestion worker", ingest_chunks.clone());
        let answer_queue_depth = Gauge::default();
        registry.register(
            "answer_queue_depth",
            "Questions running or waiting for the language model",
            answer_queue_depth.clone(),
        );
        let ingest_queue_depth = Gauge::default();
        registry.register("ingest_queue_depth", "Ingest jobs running or waiting", ingest_queue_depth.clone());
        Self {
            registry: Arc::new(registry),
            requests,
            search_seconds,
            searches_cached,
            answer_first_token_seconds,
            answer_seconds,
            answers,
            ingest_files,
            ingest_chunks,
            answer_queue_depth,
            ingest_queue_depth,
            answer_ms_average: Arc::new(AtomicU64::new(30_000)),
        }
    }

    pub fn observe_search(&self, results: &SearchResults) {
        self.search_seconds.observe(results.timings.total_ms / 1000.0);
    }

    pub fn observe_cached_search(&self) {
        self.searches_cached.inc();
    }

    pub fn observe_answer(&self, answer: &Answer) {
        let outcome = if answer.abstained { "abstained" } else { "answered" };
        self.answers.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
        self.answer_seconds.observe(answer.timings.total_ms / 1000.0);
        if answer.generation.is_some() {
            self.answer_first_token_seconds.observe(answer.timings.first_token_ms / 1000.0);
            let previous = self.answer_ms_average.load(Ordering::Relaxed) as f64;
            let smoothed = 0.7 * previous + 0.3 * answer.timings.total_ms;
            self.answer_ms_average.store(smoothed as u64, Ordering::Relaxed);
        }
    }

    pub fn answer_failed(&self) {
        self.answers.get_or_create(&OutcomeLabels { outcome: "failed".into() }).inc();
    }

    /// Seconds a refused question should wait: about one answer's time.
    pub fn expected_answer_secs(&self) -> u64 {
        (self.answer_ms_average.load(Ordering::Relaxed) / 1000).clamp(1, 300)
    }

    pub fn ingested_file(&self, outcome: &str) {
        self.ingest_files.get_or_create(&OutcomeLabels { outcome: outcome.into() }).inc();
    }

    pub fn embedded_chunks(&self, chunks: u64) {
        self.ingest_chunks.inc_by(chunks);
    }

    fn observe_request(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let labels = RouteLabels { method: method.into(), route: route.into(), status: status.to_string() };
        self.requests.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// The OpenMetrics text, with the gauges read now.
    pub fn render(&self, answer_queue_depth: usize, ingest_queue_depth: usize) -> String {
        self.answer_queue_depth.set(answer_queue_depth as i64);
        self.ingest_queue_depth.set(ingest_queue_depth as i64);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a string succeeds");
        text
    }
}

/// Middleware: the latency of every request, by its route pattern (`/api/documents/{id}`, not the id).
pub async fn track_requests(State(metrics): State<Metrics>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = request.method().to_string();
    let response = next.run(request).await;
    metrics.observe_request(&method, &route, response.status().as_u16(), started.elapsed());
    response
}
