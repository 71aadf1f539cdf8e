//! The connection: settings, the collection's creation and checks, and every request's retries.

use std::future::Future;
use std::time::Duration;

use qdrant_client::qdrant::{
    CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, Distance, FieldType, Modifier,
    SparseIndexConfigBuilder, SparseVectorParamsBuilder, SparseVectorsConfigBuilder, VectorParamsBuilder,
    VectorsConfigBuilder,
};
use qdrant_client::{Qdrant, QdrantError};

use super::payload::{FIELD_ACL, FIELD_DOCUMENT, FIELD_KIND, FIELD_MODIFIED, FIELD_SOURCE};
use super::sparse::Bm25Encoder;
use super::ServerError;
use crate::config::VectorsConfig;

/// The server release this client is built and tested against; others within one minor version work
/// (Qdrant's compatibility rule), anything further gets a warning at connect.
pub const SUPPORTED_SERVER: (u64, u64) = (1, 19);

/// Names of the two vectors every point holds.
pub(super) const DENSE: &str = "dense";
pub(super) const SPARSE: &str = "bm25";

/// What [`QdrantServerIndex::connect`] needs.
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub url: String,
    pub api_key: Option<String>,
    pub collection: String,
    pub dimensions: usize,
    pub on_disk: bool,
    pub batch_size: usize,
    pub timeout: Duration,
    pub retries: u32,
}

impl ServerSettings {
    /// The settings of `vectors.*`, or `None` when no server is configured.
    pub fn from_config(vectors: &VectorsConfig, dimensions: usize) -> Option<Self> {
        Some(Self {
            url: vectors.url.clone()?,
            api_key: vectors.api_key.clone(),
            collection: vectors.collection.clone(),
            dimensions,
            on_disk: vectors.on_disk,
            batch_size: vectors.batch_size.max(1),
            timeout: Duration::from_secs(vectors.timeout_secs.max(1)),
            retries: vectors.retries,
        })
    }
}

pub struct QdrantServerIndex {
    pub(super) client: Qdrant,
    /// Runs the client's requests (and its connections' tasks); shut down in the background on drop,
    /// which may happen inside another runtime.
    runtime: Option<tokio::runtime::Runtime>,
    pub(super) settings: ServerSettings,
    pub(super) bm25: Bm25Encoder,
}

impl Drop for QdrantServerIndex {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl QdrantServerIndex {
    /// Connects, checks the server's version, and creates the collection with its payload indexes when
    /// it does not exist (several processes may start at once: a collection another one created first
    /// is used as it is), or checks that an existing one holds vectors of the embedder's size. Blocking.
    pub fn connect(settings: ServerSettings) -> Result<Self, ServerError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("qdrant-client")
            .enable_all()
            .build()
            .map_err(|e| ServerError::Client(e.to_string()))?;
        let mut builder = Qdrant::from_url(&settings.url)
            .timeout(settings.timeout)
            .connect_timeout(Duration::from_secs(5))
            .skip_compatibility_check();
        if let Some(key) = &settings.api_key {
            builder = builder.api_key(key.clone());
        }
        let client = builder.build().map_err(|e| ServerError::Client(e.to_string()))?;
        let index = Self { client, runtime: Some(runtime), settings, bm25: Bm25Encoder::default() };
        index.check_version()?;
        index.ensure_collection()?;
        Ok(index)
    }

    pub fn collection(&self) -> &str {
        &self.settings.collection
    }

    fn check_version(&self) -> Result<(), ServerError> {
        let reply =
            self.request("answer a health check", (), |client, ()| async move { client.health_check().await })?;
        let version = reply.version;
        let parsed: Vec<u64> = version.split('.').take(2).filter_map(|part| part.parse().ok()).collect();
        let (major, minor) = SUPPORTED_SERVER;
        match parsed[..] {
            [m, n] if m == major && n.abs_diff(minor) <= 1 => {
                tracing::info!(url = %self.settings.url, version, "connected to the Qdrant server");
            }
            _ => tracing::warn!(
                url = %self.settings.url,
                version,
                supported = %format!("{major}.{minor} (one minor version either side)"),
                "the Qdrant server's version is outside what this client supports; requests may fail"
            ),
        }
        Ok(())
    }

    fn ensure_collection(&self) -> Result<(), ServerError> {
        let name = self.settings.collection.clone();
        let exists = self.request("list its collections", name.clone(), |client, name| async move {
            client.collection_exists(name).await
        })?;
        if !exists {
            self.create_collection()?;
        }
        self.check_collection()?;
        self.create_payload_indexes()
    }

    fn create_collection(&self) -> Result<(), ServerError> {
        let mut dense = VectorsConfigBuilder::default();
        dense.add_named_vector_params(
            DENSE,
            VectorParamsBuilder::new(self.settings.dimensions as u64, Distance::Cosine).on_disk(self.settings.on_disk),
        );
        let mut sparse = SparseVectorsConfigBuilder::default();
        sparse.add_named_vector_params(
            SPARSE,
            SparseVectorParamsBuilder::default()
                .modifier(Modifier::Idf)
                .index(SparseIndexConfigBuilder::default().on_disk(self.settings.on_disk)),
        );
        let request = CreateCollectionBuilder::new(self.settings.collection.clone())
            .vectors_config(dense)
            .sparse_vectors_config(sparse)
            .on_disk_payload(true)
            .build();
        match self.request(
            "create the collection",
            request,
            |client, r| async move { client.create_collection(r).await },
        ) {
            Ok(_) => {
                tracing::info!(collection = self.collection(), "created the collection on the Qdrant server");
                Ok(())
            }
            // Another process created it between the check and here.
            Err(ServerError::Refused { reason, .. }) if reason.to_lowercase().contains("already exists") => Ok(()),
            Err(error) => Err(error),
        }
    }

    /// Payload indexes for every field searches filter on and purges select by. Qdrant advises creating
    /// them before bulk loading (the HNSW graph is then built with the filters in mind); creating an
    /// index that exists changes nothing, so every process does it at start.
    fn create_payload_indexes(&self) -> Result<(), ServerError> {
        let fields = [
            (FIELD_ACL, FieldType::Keyword),
            (FIELD_SOURCE, FieldType::Keyword),
            (FIELD_KIND, FieldType::Keyword),
            (FIELD_MODIFIED, FieldType::Integer),
            (FIELD_DOCUMENT, FieldType::Integer),
        ];
        for (field, kind) in fields {
            let request = CreateFieldIndexCollectionBuilder::new(self.settings.collection.clone(), field, kind)
                .wait(true)
                .build();
            self.request(
                "create a payload index",
                request,
                |client, r| async move { client.create_field_index(r).await },
            )?;
        }
        Ok(())
    }

    fn check_collection(&self) -> Result<(), ServerError> {
        let name = self.settings.collection.clone();
        let info =
            self.request(
                "describe the collection",
                name,
                |client, name| async move { client.collection_info(name).await },
            )?;
        let mismatch =
            |reason: String| ServerError::Collection { collection: self.settings.collection.clone(), reason };
        let params = info.result.and_then(|info| info.config).and_then(|config| config.params);
        let Some(params) = params else {
            return Err(mismatch("the server did not describe it".into()));
        };
        use qdrant_client::qdrant::vectors_config::Config;
        let size = match params.vectors_config.and_then(|v| v.config) {
            Some(Config::ParamsMap(map)) => map.map.get(DENSE).map(|p| p.size),
            _ => None,
        };
        if size != Some(self.settings.dimensions as u64) {
            return Err(mismatch(format!(
                "Lore needs a named vector `{DENSE}` of {} dimensions, it has {}; use another vectors.collection \
                 after changing the embedding model",
                self.settings.dimensions,
                size.map_or_else(|| "none".to_string(), |s| format!("{s} dimensions"))
            )));
        }
        let has_sparse = params.sparse_vectors_config.is_some_and(|s| s.map.contains_key(SPARSE));
        if !has_sparse {
            return Err(mismatch(format!("it has no sparse vector `{SPARSE}` (it was not created by Lore)")));
        }
        Ok(())
    }

    /// Sends one request, again after a doubling wait while the failure is transient (the server is
    /// restarting, overloaded or slow), up to `retries` more times. `send` gets a copy of `request` each
    /// time.
    pub(super) fn request<R, T, F, Fut>(&self, action: &'static str, request: R, send: F) -> Result<T, ServerError>
    where
        R: Clone + Send + 'static,
        T: Send + 'static,
        F: Fn(Qdrant, R) -> Fut,
        Fut: Future<Output = Result<T, QdrantError>> + Send + 'static,
    {
        let mut wait = Duration::from_millis(200);
        let mut attempt = 0;
        loop {
            let outcome = self.block_on(send(self.client.clone(), request.clone()));
            let error = match outcome {
                Ok(value) => return Ok(value),
                Err(error) => error,
            };
            let transient = transient(&error);
            if let Some(pause) = transient.filter(|_| attempt < self.settings.retries) {
                let pause = pause.unwrap_or(wait).min(Duration::from_secs(10));
                tracing::warn!(action, attempt, retry_in_ms = pause.as_millis() as u64, %error, "qdrant request failed; retrying");
                std::thread::sleep(pause);
                wait *= 2;
                attempt += 1;
                continue;
            }
            let url = self.settings.url.clone();
            return Err(match failure(&error) {
                Failure::Unreachable => ServerError::Unreachable { url, reason: describe(&error) },
                Failure::TimedOut => {
                    ServerError::TimedOut { url, action, seconds: self.settings.timeout.as_secs(), tries: attempt + 1 }
                }
                Failure::Other => ServerError::Refused { action, reason: describe(&error) },
            });
        }
    }

    /// Waits until the server has indexed what was written (the collection is green: every segment
    /// past the indexing threshold has its HNSW graph), for at most `limit`. Benchmarks call it before
    /// measuring; ingestion never waits for it (searches work meanwhile, with exact scans).
    pub fn wait_until_optimized(&self, limit: Duration) -> Result<(), ServerError> {
        use qdrant_client::qdrant::CollectionStatus;
        let started = std::time::Instant::now();
        loop {
            let name = self.settings.collection.clone();
            let info =
                self.request("describe the collection", name, |c, n| async move { c.collection_info(n).await })?;
            let status = info.result.map(|r| r.status).and_then(|s| CollectionStatus::try_from(s).ok());
            match status {
                Some(CollectionStatus::Green) => return Ok(()),
                Some(CollectionStatus::Red) => {
                    return Err(ServerError::Collection {
                        collection: self.settings.collection.clone(),
                        reason: "the server reports it red (an optimization failed; see the server's log)".into(),
                    })
                }
                _ if started.elapsed() > limit => {
                    return Err(ServerError::Collection {
                        collection: self.settings.collection.clone(),
                        reason: format!("still being optimized after {limit:?}"),
                    })
                }
                _ => std::thread::sleep(Duration::from_secs(1)),
            }
        }
    }

    /// Deletes the collection with every point in it (tests; starting over after changing the
    /// embedding model).
    pub fn delete_collection(&self) -> Result<(), ServerError> {
        let name = self.settings.collection.clone();
        self.request(
            "delete the collection",
            name,
            |client, name| async move { client.delete_collection(name).await },
        )?;
        Ok(())
    }

    fn block_on<T: Send + 'static>(&self, future: impl Future<Output = T> + Send + 'static) -> T {
        let runtime = self.runtime.as_ref().expect("the runtime lives until drop");
        let (sender, receiver) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            let _ = sender.send(future.await);
        });
        receiver.recv().expect("the client's runtime runs every request to its end")
    }
}

/// `Some(wait)` when a try again may succeed (`Some(None)`: the usual backoff), `None` when not.
fn transient(error: &QdrantError) -> Option<Option<Duration>> {
    use tonic::Code;
    match error {
        QdrantError::ResourceExhaustedError { retry_after_seconds, .. } => {
            Some(Some(Duration::from_secs((*retry_after_seconds).max(1))))
        }
        QdrantError::ResponseError { status } if refused_connection(status) => Some(None),
        QdrantError::ResponseError { status } => match status.code() {
            Code::Unavailable | Code::DeadlineExceeded | Code::Aborted | Code::Cancelled => Some(None),
            _ => None,
        },
        QdrantError::Io(_) => Some(None),
        _ => None,
    }
}

enum Failure {
    /// Nothing answered at the address.
    Unreachable,
    /// Something accepted the connection but did not answer in time.
    TimedOut,
    Other,
}

fn failure(error: &QdrantError) -> Failure {
    match error {
        QdrantError::ResponseError { status } if refused_connection(status) => Failure::Unreachable,
        QdrantError::ResponseError { status } => match status.code() {
            tonic::Code::Unavailable => Failure::Unreachable,
            tonic::Code::DeadlineExceeded => Failure::TimedOut,
            tonic::Code::Cancelled if status.message().to_lowercase().contains("timeout") => Failure::TimedOut,
            _ => Failure::Other,
        },
        QdrantError::Io(_) => Failure::Unreachable,
        _ => Failure::Other,
    }
}

/// The client reports a refused TCP connection as an internal error ("Failed to connect to ...").
fn refused_connection(status: &tonic::Status) -> bool {
    status.code() == tonic::Code::Internal && status.message().contains("connect")
}

/// The server's message without the gRPC metadata the client's `Display` adds.
fn describe(error: &QdrantError) -> String {
    match error {
        QdrantError::ResponseError { status } | QdrantError::ResourceExhaustedError { status, .. } => {
            let message = status.message();
            let message = if message.is_empty() { "no message" } else { message };
            format!("{message} ({:?})", status.code())
        }
        other => other.to_string(),
    }
}
