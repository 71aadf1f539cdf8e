//! One configuration type, layered: built-in defaults < `lore.toml` < `LORE_*` environment variables <
//! command-line flags.
//!
//! Environment variables map onto fields by name, with `__` between nested keys:
//! `LORE_DATA_DIR=/srv/lore`, `LORE_EMBEDDING__BATCH_SIZE=64`, `LORE_INGEST__MAX_FILE_MB=50`.
//! Relative paths are resolved against the working directory once, when the configuration is loaded,
//! so the rest of the program only ever sees absolute paths.

mod auth;
mod oidc;

use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};

pub use auth::{AuditConfig, AuthConfig, AuthMode, IpNetwork};
pub use oidc::OidcProviderConfig;

/// The file read from the working directory when no `--config` is given (it may be absent).
pub const DEFAULT_CONFIG_FILE: &str = "lore.toml";

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration file {0} does not exist")]
    MissingFile(PathBuf),
    #[error("invalid configuration: {0}")]
    Invalid(#[from] Box<figment::Error>),
    #[error("invalid configuration: {0}")]
    Value(String),
    #[error("cannot determine the working directory: {0}")]
    WorkingDir(std::io::Error),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Everything Lore stores: catalog, indexes, logs of runs.
    pub data_dir: PathBuf,
    /// Where `scripts/fetch-models.sh` puts the models; model paths left unset are looked up here.
    pub models_dir: PathBuf,
    pub embedding: EmbeddingConfig,
    pub chunking: ChunkingConfig,
    pub ingest: IngestConfig,
    pub retrieval: RetrievalConfig,
    pub generation: GenerationConfig,
    pub answer: AnswerConfig,
    pub server: ServerConfig,
    pub auth: AuthConfig,
    pub audit: AuditConfig,
    pub catalog: CatalogConfig,
    pub queue: QueueConfig,
    pub vectors: VectorsConfig,
}

/// Where the vectors (and, with a server, the lexical index) live.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct VectorsConfig {
    /// A Qdrant server's gRPC address, `http://host:6334`, shared by every worker and web replica: it
    /// then holds both the dense vectors and the BM25 sparse vectors of every chunk (tantivy is not
    /// used). Unset: Qdrant Edge and tantivy in the data directory.
    pub url: Option<String>,
    /// The server's API key, when it requires one.
    pub api_key: Option<String>,
    /// The collection Lore creates and uses on the server.
    pub collection: String,
    /// Keep the dense vectors on the server's disk rather than in its memory (for collections larger
    /// than RAM; searches then read from disk).
    pub on_disk: bool,
    /// Points per write request.
    pub batch_size: usize,
    /// Time one request may take (seconds).
    pub timeout_secs: u64,
    /// Further tries of a request that failed for a transient reason (server unavailable, overloaded,
    /// timed out), with a doubling wait from 200 ms.
    pub retries: u32,
}

impl Default for VectorsConfig {
    fn default() -> Self {
        Self {
            url: None,
            api_key: None,
            collection: "lore".into(),
            on_disk: false,
            batch_size: 256,
            timeout_secs: 30,
            retries: 4,
        }
    }
}

/// Where the catalog (and the job queue with it) lives.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogConfig {
    /// `postgres://user:password@host:port/database` to share the catalog between processes (web
    /// replicas, `lore worker`s); unset: `catalog.sqlite` in the data directory.
    pub url: Option<String>,
    /// Connections to PostgreSQL per process.
    pub max_connections: u32,
}

impl Default for CatalogConfig {
    fn default() -> Self {
        Self { url: None, max_connections: 8 }
    }
}

/// How ingestion jobs are claimed and retried (see `lore_core::queue`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct QueueConfig {
    /// A claimed job is taken over by another worker when its worker has not renewed the lease for this
    /// long (seconds); heartbeats come four times as often.
    pub lease_secs: u64,
    /// Attempts before a failing job is `dead`.
    pub max_attempts: u32,
    /// Wait before a failed job's second attempt, doubled for each further one (seconds).
    pub backoff_secs: u64,
    /// Finished jobs are kept this long for the status pages (days).
    pub keep_finished_days: u64,
}

impl QueueConfig {
    pub fn policy(&self) -> crate::queue::QueuePolicy {
        crate::queue::QueuePolicy {
            lease: std::time::Duration::from_secs(self.lease_secs),
            max_attempts: self.max_attempts,
            backoff: std::time::Duration::from_secs(self.backoff_secs),
        }
    }
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self { lease_secs: 60, max_attempts: 3, backoff_secs: 30, keep_finished_days: 14 }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct EmbeddingConfig {
    /// ONNX file of a sentence-embedding model with `last_hidden_state` output (mean-pooled here).
    /// Default: `<models_dir>/all-MiniLM-L6-v2/model.onnx`.
    pub model: Option<PathBuf>,
    /// Folder with `tokenizer.json`, `config.json`, `special_tokens_map.json`, `tokenizer_config.json`.
    /// Default: the model file's folder.
    pub tokenizer_dir: Option<PathBuf>,
    /// ONNX Runtime shared library (>= 1.24). Default: `<models_dir>/onnxruntime/libonnxruntime.so`.
    pub onnx_runtime: Option<PathBuf>,
    /// Output dimensions of the model.
    pub dimensions: usize,
    /// Tokens the model reads at most; longer inputs are truncated, so chunks are sized below it.
    pub max_tokens: usize,
    /// Texts per inference call.
    pub batch_size: usize,
    /// Threads for one inference; 0 means one per core.
    pub threads: usize,
    /// Threads for embedding one search query (a separate model instance from ingestion's).
    pub query_threads: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ChunkingConfig {
    /// Chunks are filled up to this many tokens (of the embedding model's tokenizer)...
    pub target_tokens: usize,
    /// ...and never exceed this many, which must leave room for the model's two special tokens.
    pub max_tokens: usize,
    /// Tokens repeated between neighbouring chunks of the same section.
    pub overlap_tokens: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct IngestConfig {
    /// Files larger than this are refused with an error (MiB).
    pub max_file_mb: u64,
    /// Extraction of one file that takes longer is abandoned with an error (seconds).
    pub file_timeout_secs: u64,
    /// Threads that extract and chunk files while the embedder runs; 0 means one per core.
    pub extract_threads: usize,
    /// Chunks written between two commits of the indexes and the catalog.
    pub commit_every_chunks: usize,
}

/// How BM25 and vector rankings are combined into one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FusionMethod {
    /// Reciprocal rank fusion: each list adds `1 / (rrf_k + rank)`.
    Rrf,
    /// Convex combination of min-max normalised scores, `convex_alpha` on the vector side.
    Convex,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RetrievalConfig {
    /// Fusion used by search and answers. `lore eval retrieval` compares both on labelled data: on the
    /// public SQuAD set the convex combination leads (BENCHMARKS.md), so it is the default.
    pub fusion: FusionMethod,
    /// Rank offset of reciprocal rank fusion; larger values flatten the difference between ranks.
    pub rrf_k: f32,
    /// Weight of the vector score in the convex combination (BM25 gets `1 - convex_alpha`).
    pub convex_alpha: f32,
    /// Hits each engine contributes before fusion.
    pub candidates: usize,
    /// Longer queries are cut to this many characters (a pasted page still searches, quickly).
    pub max_query_chars: usize,
    /// Length of a hit's snippet, in characters.
    pub snippet_chars: usize,
    /// Word-shingle overlap (Jaccard, 0..1) at which two hits count as the same passage and collapse.
    pub duplicate_similarity: f32,
    /// Recent queries whose embeddings are kept (paging and repeated questions skip inference); 0 off.
    pub query_cache: usize,
}

impl Default for RetrievalConfig {
    fn default() -> Self {
        Self {
            fusion: FusionMethod::Convex,
            rrf_k: 60.0,
            convex_alpha: 0.5,
            candidates: 50,
            max_query_chars: 2000,
            snippet_chars: 240,
            duplicate_similarity: 0.8,
            query_cache: 1024,
        }
    }
}

/// The local language model that writes answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct GenerationConfig {
    /// GGUF file of a chat model (llama, qwen2, qwen3, phi3, mistral...); its tokenizer and chat template
    /// are read from the file. Default: `<models_dir>/qwen2.5-coder-0.5b-instruct/`, the re-quantized
    /// Q8_0 copy when present, else the Q4_K_M file.
    pub model: Option<PathBuf>,
    /// Tokens of prompt plus answer the model is prepared for (sizes the KV cache).
    pub context_tokens: usize,
    /// Threads for inference; 0 means one per core.
    pub threads: usize,
    /// 0 picks the most likely token every time (reproducible answers).
    pub temperature: f64,
    pub top_p: f64,
    /// Tokens an answer may have at most.
    pub max_answer_tokens: usize,
    /// Generations running or waiting at once; past it a request is refused as busy.
    pub queue: usize,
    /// How the model's weights are held in memory while it runs (see [`WeightFormat`]).
    pub weights: WeightFormat,
    /// A model served by another process instead of a local file: the base URL of another Lore's
    /// `lore serve-model` (a GPU box) or of any OpenAI-compatible server, e.g. `http://gpu-box:8090`.
    pub url: Option<String>,
    /// Sent as `Authorization: Bearer ...` to `url`; for `lore serve-model`, the key it requires.
    pub api_key: Option<String>,
    /// The `model` name requests to `url` carry.
    pub remote_model: String,
    /// How long a request to `url` may wait for its answer to start, and then for each next piece.
    pub timeout_secs: u64,
}

/// The form the model's weights take in memory. Measured on the default Q8_0 0.5B model, 2 cores, a
/// 516-token prompt (BENCHMARKS.md, "Weight formats"):
/// | | time to first token | answer tokens/s | peak RSS |
/// |---|---|---|---|
/// | `quantized` | 18.9 s | 14.1 | 1.8 GiB |
/// | `f32` | 8.7 s | 3.9 | 3.2 GiB |
/// | `f16` | 13.2 s | 4.5 | 2.8 GiB |
/// Expanded weights let the prompt be read by a tiled matrix multiply instead of one token at a time,
/// but every answer token then reads 2-4x more memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    /// As stored in the GGUF file.
    Quantized,
    /// Expanded to f32 at load: the fastest first token, slow answer writing, the most memory.
    F32,
    /// Expanded to f16 at load.
    F16,
}

impl Default for GenerationConfig {
    fn default() -> Self {
        Self {
            model: None,
            context_tokens: 4096,
            threads: 0,
            temperature: 0.0,
            top_p: 0.95,
            max_answer_tokens: 256,
            queue: 8,
            weights: WeightFormat::Quantized,
            url: None,
            api_key: None,
            remote_model: "lore".into(),
            timeout_secs: 120,
        }
    }
}

/// What an unsupported answer sentence becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnsupportedSentences {
    /// Kept, marked as unsupported.
    Flag,
    /// Dropped from the answer.
    Remove,
}

/// How answers are grounded in the retrieved passages and checked afterwards.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct AnswerConfig {
    /// Hits retrieved for a question, before passages are trimmed to the budget.
    pub passages: usize,
    /// Tokens (of the language model) the numbered passages may take in the prompt: the best evidence
    /// sentences and their neighbours. Every token costs reading time before the first word (about
    /// 140 a second for the default 0.5B model on two cores), and on SQuAD the default model answered
    /// best from the fewest: 120 tokens found the gold answer more often than 200, 300 or 500
    /// (BENCHMARKS.md, issue 14).
    pub context_budget_tokens: usize,
    /// The check after generation: off answers as the model wrote them.
    pub guard: bool,
    pub unsupported: UnsupportedSentences,
    /// A sentence is supported when this share of its content words appears in a passage...
    pub min_lexical_support: f32,
    /// ...or its embedding is at least this similar to a passage sentence's (and its numbers, dates
    /// and names all appear in that passage either way).
    pub min_semantic_support: f32,
    /// Questions whose evidence (`Ranking::evidence`: half the best sentence's embedding similarity to
    /// the question, half the best passage's share of its content words, title and heading included)
    /// is below this are not answered. Calibrated with `lore eval answers` on SQuAD (BENCHMARKS.md,
    /// issue 14): the highest value that declines under 15% of the answerable questions.
    pub min_evidence: f32,
    /// An answer is declined when the passage sentences that support it are this far from the
    /// question (`guard::source_relevance`: half their embedding similarity to the question, half the
    /// share of its content words in them and their title and heading): the model copied a fact from a
    /// sentence about something else ("In what year did the Reformation reach France?" answered with a
    /// year from a sentence on a tax dispute). Calibrated with `lore eval answers` on SQuAD
    /// (BENCHMARKS.md, issue 14): at 0.5 it declines 34 more of 100 unanswerable questions and turns
    /// 15 wrong answers to answerable ones into declines, at the cost of one right answer. 0 turns the
    /// rule off.
    pub min_source_relevance: f32,
    /// Earlier turns of a conversation kept for follow-up questions.
    pub history_turns: usize,
    /// Hosts (and their subdomains) that links and images in answers may point to, when a cited passage
    /// has the same URL; any other link is reduced to its words. Empty: only this server's own pages.
    pub link_hosts: Vec<String>,
}

impl Default for AnswerConfig {
    fn default() -> Self {
        Self {
            passages: 5,
            context_budget_tokens: 120,
            guard: true,
            unsupported: UnsupportedSentences::Remove,
            min_lexical_support: 0.6,
            min_semantic_support: 0.75,
            min_evidence: 0.45,
            min_source_relevance: 0.5,
            history_turns: 3,
            link_hosts: Vec::new(),
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            data_dir: PathBuf::from("data"),
            models_dir: PathBuf::from("models"),
            embedding: EmbeddingConfig::default(),
            chunking: ChunkingConfig::default(),
            ingest: IngestConfig::default(),
            retrieval: RetrievalConfig::default(),
            generation: GenerationConfig::default(),
            answer: AnswerConfig::default(),
            server: ServerConfig::default(),
            auth: AuthConfig::default(),
            audit: AuditConfig::default(),
            catalog: CatalogConfig::default(),
            queue: QueueConfig::default(),
            vectors: VectorsConfig::default(),
        }
    }
}

impl Default for EmbeddingConfig {
    fn default() -> Self {
        Self {
            model: None,
            tokenizer_dir: None,
            onnx_runtime: None,
            dimensions: 384,
            max_tokens: 256,
            // Measured on 2 cores: batches of 8 beat 32 (cache locality; less padding).
            batch_size: 8,
            threads: 0,
            // Measured at a million chunks on 2 cores: one thread for the query leaves the other to
            // BM25, which otherwise waits for the CPU (hybrid p95 45 ms with two threads).
            query_threads: 1,
        }
    }
}

impl Default for ChunkingConfig {
    fn default() -> Self {
        Self { target_tokens: 200, max_tokens: 250, overlap_tokens: 32 }
    }
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self { max_file_mb: 200, file_timeout_secs: 300, extract_threads: 0, commit_every_chunks: 4096 }
    }
}

/// `lore serve`: the web service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// Address and port to listen on (`--addr` wins).
    pub addr: String,
    /// When set, the request header (set by an authenticating reverse proxy) whose comma-separated
    /// principals a request acts with, e.g. `X-Lore-Principals: alice,group:hr`. Unset: every request
    /// acts as `everyone` and may administer sources, which is only allowed on a loopback address.
    pub principal_header: Option<String>,
    /// With `principal_header` set, the principal that may add, re-sync and remove sources. Namespaced
    /// (`role:...`), so that no user or group name can be it by accident.
    pub admin_principal: String,
    /// Addresses (or networks, `10.0.0.0/8`) of the reverse proxies trusted to set `principal_header`;
    /// a request from anywhere else that carries the header is refused. Default: loopback only.
    pub trusted_proxies: Vec<IpNetwork>,
    /// Principals who administer (add, re-sync and remove sources, see every user), besides
    /// `admin_principal` and local accounts made with `lore admin create`.
    pub admins: Vec<String>,
    /// The address people reach Lore at (`https://lore.example.com`), when a proxy in front of it
    /// changes it: sign-in cookies are marked Secure (and `__Host-` named) when it is https, and an
    /// identity provider sends people back there. Unset: the address Lore is bound to.
    pub public_url: Option<String>,
    /// Host names (`Host` header, port optional) the server answers to besides localhost and the address
    /// it is bound to; any other is refused, so that a web page cannot reach Lore through DNS rebinding.
    /// Required when bound to all interfaces (0.0.0.0).
    pub allowed_hosts: Vec<String>,
    /// Folders under which sources may be added from the web page or the API (`lore ingest` and
    /// `lore serve --ingest` are not limited). Empty: only folders inside the data directory.
    pub source_roots: Vec<PathBuf>,
    /// When set, `/metrics` requires `Authorization: Bearer <token>`; unset, it answers loopback
    /// clients only.
    pub metrics_token: Option<String>,
    /// Connections served at once; more wait in the kernel's backlog.
    pub max_connections: usize,
    /// Time a client has to send a request's headers (slow clients hold a connection otherwise).
    pub header_timeout_secs: u64,
    /// Time a request may take, streams of answers and live status excepted.
    pub request_timeout_secs: u64,
    /// Searches running at once; more wait their turn (0: one per core).
    pub search_concurrency: usize,
    /// How long a search may wait for its turn before it is refused with 503.
    pub search_queue_timeout_ms: u64,
    /// Recent search results kept until the indexes change (0: none)...
    pub search_cache: usize,
    /// ...and the memory they may take, in MiB.
    pub search_cache_mb: usize,
    /// Largest request body accepted, in kilobytes.
    pub max_request_kb: usize,
    /// Longest question accepted, in characters.
    pub max_question_chars: usize,
    /// Every source is synced at start and then every this many minutes (0: only at start and on request).
    pub resync_minutes: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            addr: "127.0.0.1:8080".into(),
            principal_header: None,
            admin_principal: "role:admin".into(),
            trusted_proxies: IpNetwork::loopback(),
            admins: Vec::new(),
            public_url: None,
            allowed_hosts: Vec::new(),
            source_roots: Vec::new(),
            metrics_token: None,
            max_connections: 512,
            header_timeout_secs: 10,
            request_timeout_secs: 120,
            search_concurrency: 0,
            search_queue_timeout_ms: 5_000,
            search_cache: 4096,
            search_cache_mb: 64,
            max_request_kb: 64,
            max_question_chars: 2_000,
            resync_minutes: 10,
        }
    }
}

/// Values given on the command line; `None` leaves the lower layers' value.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Overrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub models_dir: Option<PathBuf>,
}

impl Config {
    /// Loads the layered configuration. `file` is an explicit `--config`; without it `lore.toml` in the
    /// working directory is read when present.
    pub fn load(file: Option<&Path>, overrides: &Overrides) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        match file {
            Some(path) if !path.exists() => return Err(ConfigError::MissingFile(path.to_path_buf())),
            Some(path) => figment = figment.merge(Toml::file(path)),
            None => figment = figment.merge(Toml::file(DEFAULT_CONFIG_FILE)),
        }
        // `LORE_LOG` configures logging, not this type.
        figment =
            figment.merge(Env::prefixed("LORE_").split("__").ignore(&["log"])).merge(Serialized::defaults(overrides));
        let config: Config = figment.extract().map_err(|e| ConfigError::Invalid(Box::new(e)))?;
        let cwd = std::env::current_dir().map_err(ConfigError::WorkingDir)?;
        config.resolved_against(&cwd)
    }

    fn resolved_against(mut self, base: &Path) -> Result<Self, ConfigError> {
        let absolute = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        absolute(&mut self.data_dir);
        absolute(&mut self.models_dir);
        for root in &mut self.server.source_roots {
            absolute(root);
        }
        for path in [
            &mut self.embedding.model,
            &mut self.embedding.tokenizer_dir,
            &mut self.embedding.onnx_runtime,
            &mut self.generation.model,
        ]
        .into_iter()
        .flatten()
        {
            absolute(path);
        }
        // An empty address or key means unset, so that a deployment template can leave one blank
        // (`LORE_GENERATION__URL=` in docker-compose.yml when no model service runs).
        for value in [
            &mut self.catalog.url,
            &mut self.vectors.url,
            &mut self.vectors.api_key,
            &mut self.generation.url,
            &mut self.generation.api_key,
            &mut self.server.public_url,
        ] {
            if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
                *value = None;
            }
        }
        self.validate()?;
        Ok(self)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |msg: String| Err(ConfigError::Value(msg));
        let c = &self.chunking;
        if c.target_tokens == 0 || c.target_tokens > c.max_tokens {
            return invalid(format!(
                "chunking.target_tokens ({}) must be between 1 and chunking.max_tokens ({})",
                c.target_tokens, c.max_tokens
            ));
        }
        // [CLS] and [SEP] are added by the embedder on top of the chunk's own tokens.
        if c.max_tokens + 2 > self.embedding.max_tokens {
            return invalid(format!(
                "chunking.max_tokens ({}) must leave two tokens below embedding.max_tokens ({})",
                c.max_tokens, self.embedding.max_tokens
            ));
        }
        if c.overlap_tokens >= c.target_tokens {
            return invalid(format!(
                "chunking.overlap_tokens ({}) must be smaller than chunking.target_tokens ({})",
                c.overlap_tokens, c.target_tokens
            ));
        }
        let v = &self.vectors;
        if v.url.is_some() && (v.collection.is_empty() || v.batch_size == 0 || v.timeout_secs == 0) {
            return invalid("vectors.collection, vectors.batch_size and vectors.timeout_secs must be set".into());
        }
        if self.embedding.batch_size == 0 || self.embedding.dimensions == 0 {
            return invalid("embedding.batch_size and embedding.dimensions must be positive".into());
        }
        if self.ingest.max_file_mb == 0 || self.ingest.file_timeout_secs == 0 {
            return invalid("ingest.max_file_mb and ingest.file_timeout_secs must be positive".into());
        }
        let r = &self.retrieval;
        if r.candidates == 0 || r.max_query_chars == 0 || r.snippet_chars == 0 {
            return invalid("retrieval.candidates, max_query_chars and snippet_chars must be positive".into());
        }
        if !(0.0..=1.0).contains(&r.convex_alpha) || !(0.0..=1.0).contains(&r.duplicate_similarity) {
            return invalid("retrieval.convex_alpha and duplicate_similarity must be between 0 and 1".into());
        }
        if !(r.rrf_k >= 0.0) {
            return invalid(format!("retrieval.rrf_k ({}) must not be negative", r.rrf_k));
        }
        if let Some(url) = &self.catalog.url {
            if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
                return invalid(format!(
                    "catalog.url ({}) must be a postgres:// URL; leave it unset for the embedded SQLite catalog",
                    crate::catalog::redact_url(url)
                ));
            }
        }
        let q = &self.queue;
        if q.lease_secs < 4 || q.max_attempts == 0 {
            return invalid(format!(
                "queue.lease_secs ({}) must be at least 4 and queue.max_attempts ({}) at least 1",
                q.lease_secs, q.max_attempts
            ));
        }
        let g = &self.generation;
        if g.context_tokens < 512 || g.max_answer_tokens == 0 || g.max_answer_tokens * 2 > g.context_tokens {
            return invalid(format!(
                "generation.context_tokens ({}) must be at least 512 and twice generation.max_answer_tokens ({})",
                g.context_tokens, g.max_answer_tokens
            ));
        }
        if g.queue == 0 {
            return invalid("generation.queue must be positive".into());
        }
        if !(g.temperature >= 0.0) || !(g.top_p > 0.0 && g.top_p <= 1.0) {
            return invalid(
                "generation.temperature must not be negative and generation.top_p must be in (0, 1]".into(),
            );
        }
        let s = &self.server;
        if s.max_request_kb == 0 || s.max_question_chars == 0 || s.search_queue_timeout_ms == 0 {
            return invalid(
                "server.max_request_kb, max_question_chars and search_queue_timeout_ms must be positive".into(),
            );
        }
        if s.max_connections == 0 || s.header_timeout_secs == 0 || s.request_timeout_secs == 0 {
            return invalid(
                "server.max_connections, header_timeout_secs and request_timeout_secs must be positive".into(),
            );
        }
        if !s.admin_principal.contains(':') || s.admin_principal.trim() != s.admin_principal {
            return invalid(format!(
                "server.admin_principal ({:?}) must be namespaced, like role:admin, so that no user name can be it",
                s.admin_principal
            ));
        }
        auth::validate(&self.auth, s)?;
        oidc::validate(&self.auth.providers)?;
        if s.addr.parse::<std::net::SocketAddr>().is_err() {
            return invalid(format!("server.addr ({:?}) must be an address and port, e.g. 127.0.0.1:8080", s.addr));
        }
        let a = &self.answer;
        if a.passages == 0 || a.context_budget_tokens < 64 {
            return invalid("answer.passages must be positive and answer.context_budget_tokens at least 64".into());
        }
        if a.context_budget_tokens + g.max_answer_tokens + 256 > g.context_tokens {
            return invalid(format!(
                "answer.context_budget_tokens ({}) plus generation.max_answer_tokens ({}) and 256 tokens of \
                 instructions must fit in generation.context_tokens ({})",
                a.context_budget_tokens, g.max_answer_tokens, g.context_tokens
            ));
        }
        for (name, value) in [
            ("answer.min_lexical_support", a.min_lexical_support),
            ("answer.min_semantic_support", a.min_semantic_support),
            ("answer.min_evidence", a.min_evidence),
            ("answer.min_source_relevance", a.min_source_relevance),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return invalid(format!("{name} ({value}) must be between 0 and 1"));
            }
        }
        Ok(())
    }

    pub fn embedding_model_path(&self) -> PathBuf {
        self.embedding.model.clone().unwrap_or_else(|| self.models_dir.join("all-MiniLM-L6-v2").join("model.onnx"))
    }

    pub fn tokenizer_dir(&self) -> PathBuf {
        self.embedding.tokenizer_dir.clone().unwrap_or_else(|| {
            let model = self.embedding_model_path();
            model.parent().map(Path::to_path_buf).unwrap_or_default()
        })
    }

    pub fn onnx_runtime_path(&self) -> PathBuf {
        self.embedding
            .onnx_runtime
            .clone()
            .unwrap_or_else(|| self.models_dir.join("onnxruntime").join("libonnxruntime.so"))
    }

    /// The GGUF file answers are generated with: the configured one, else the default model's re-quantized
    /// Q8_0 copy (`scripts/fetch-models.sh` makes it), else its original Q4_K_M file.
    pub fn generation_model_path(&self) -> PathBuf {
        if let Some(model) = &self.generation.model {
            return model.clone();
        }
        let dir = self.models_dir.join("qwen2.5-coder-0.5b-instruct");
        let requantized = dir.join("qwen2.5-coder-0.5b-instruct-q8_0.gguf");
        if requantized.exists() {
            requantized
        } else {
            dir.join("qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")
        }
    }

    pub fn generation_threads(&self) -> usize {
        match self.generation.threads {
            0 => Self::cores(),
            n => n,
        }
    }

    /// Number of cores this process may use.
    pub fn cores() -> usize {
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
    }

    pub fn search_concurrency(&self) -> usize {
        match self.server.search_concurrency {
            0 => Self::cores(),
            n => n,
        }
    }

    pub fn embedding_threads(&self) -> usize {
        match self.embedding.threads {
            0 => Self::cores(),
            n => n,
        }
    }

    pub fn extract_threads(&self) -> usize {
        match self.ingest.extract_threads {
            0 => Self::cores(),
            n => n,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layers_apply_in_order_and_paths_become_absolute() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("lore.toml", "data_dir = \"from-file\"\n[embedding]\nbatch_size = 8\nthreads = 3\n")?;
            jail.set_env("LORE_EMBEDDING__BATCH_SIZE", "16");
            jail.set_env("LORE_MODELS_DIR", "/opt/models");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert!(config.data_dir.is_absolute() && config.data_dir.ends_with("from-file"));
            assert_eq!(config.embedding.batch_size, 16, "env beats file");
            assert_eq!(config.embedding.threads, 3, "file beats defaults");
            assert_eq!(config.models_dir, PathBuf::from("/opt/models"));
            assert_eq!(config.onnx_runtime_path(), PathBuf::from("/opt/models/onnxruntime/libonnxruntime.so"));

            let flags = Overrides { data_dir: Some("/srv/lore".into()), models_dir: None };
            let config = Config::load(None, &flags).unwrap();
            assert_eq!(config.data_dir, PathBuf::from("/srv/lore"), "flags beat env and file");
            Ok(())
        });
    }

    #[test]
    fn blank_addresses_mean_unset_and_scale_out_keys_come_from_the_environment() {
        figment::Jail::expect_with(|jail| {
            jail.set_env("LORE_GENERATION__URL", "");
            jail.set_env("LORE_VECTORS__URL", "http://qdrant:6334");
            jail.set_env("LORE_VECTORS__COLLECTION", "handbooks");
            jail.set_env("LORE_CATALOG__URL", "  ");
            let config = Config::load(None, &Overrides::default()).unwrap();
            assert_eq!(config.generation.url, None, "a blank template value is no model server");
            assert_eq!(config.catalog.url, None);
            assert_eq!(config.vectors.url.as_deref(), Some("http://qdrant:6334"));
            assert_eq!(config.vectors.collection, "handbooks");
            Ok(())
        });
    }

    #[test]
    fn inconsistent_chunk_sizes_are_refused() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("lore.toml", "[chunking]\nmax_tokens = 300\n")?;
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("embedding.max_tokens"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn the_admin_principal_must_be_namespaced() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("lore.toml", "[server]\nadmin_principal = \"admin\"\n")?;
            let err = Config::load(None, &Overrides::default()).unwrap_err();
            assert!(err.to_string().contains("namespaced"), "{err}");
            jail.create_file("lore.toml", "[server]\nadmin_principal = \"role:lore-admins\"\n")?;
            assert!(Config::load(None, &Overrides::default()).is_ok());
            Ok(())
        });
    }

    #[test]
    fn an_explicit_missing_config_file_is_an_error() {
        let err = Config::load(Some(Path::new("/nonexistent/lore.toml")), &Overrides::default()).unwrap_err();
        assert!(matches!(err, ConfigError::MissingFile(_)));
    }
}
