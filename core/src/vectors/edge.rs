//! Qdrant Edge, Qdrant's in-process engine: one shard on disk in the data directory.
//!
//! Blunt notes: the shard keeps no HNSW graph until `optimize()` runs, so searches are exact scans until
//! then; every mutating call must be serialised (`EdgeShard::flush` panics when it cannot take its
//! locks at once), which `write_lock` does.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json::{json, Value};
use qdrant_edge::{
    AnyVariants, Condition, CreateIndex, Distance, EdgeConfig, EdgeShard, EdgeVectorParams, FieldCondition,
    FieldIndexOperations, Filter, JsonPath, Match, MatchAny, NamedQuery, Payload, PayloadFieldSchema, PayloadOps,
    PayloadSchemaType, PointId, PointInsertOperations, PointOperations, PointStructPersisted, QueryEnum, QueryRequest,
    Range, ScoringQuery, ScrollRequest, SetPayloadOp, UpdateOperation, VectorStructPersisted, WithPayloadInterface,
    WithVector, DEFAULT_VECTOR_NAME,
};

use super::*;
use crate::types::SearchFilter;

const CONFIG_FILE: &str = "edge_config.json";
const SCROLL_PAGE: usize = 10_000;

/// Payload fields, indexed so that filters and purges do not scan.
const FIELD_DOCUMENT: &str = "doc_id";
const FIELD_SOURCE: &str = "source";
const FIELD_KIND: &str = "kind";
const FIELD_ACL: &str = "acl";
const FIELD_MODIFIED: &str = "modified_ms";

pub struct EdgeVectorIndex {
    shard: EdgeShard,
    dimensions: usize,
    write_lock: Mutex<()>,
}

fn engine<E: std::fmt::Display>(e: E) -> VectorError {
    VectorError::Engine(e.to_string())
}

/// The payload key of one of the fields above (plain identifiers, always valid paths).
fn key(name: &str) -> JsonPath {
    JsonPath::try_from(name).expect("payload field names are plain identifiers")
}

impl EdgeVectorIndex {
    /// Opens the shard in `dir`, creating it for `dimensions`-long vectors when it does not exist.
    pub fn open(dir: &Path, dimensions: usize) -> Result<Self> {
        let open_err = |reason: String| VectorError::Open { path: dir.to_path_buf(), reason };
        let exists = dir.join(CONFIG_FILE).exists();
        let shard = if exists {
            EdgeShard::load(dir, None).map_err(|e| open_err(e.to_string()))?
        } else {
            std::fs::create_dir_all(dir).map_err(|e| open_err(e.to_string()))?;
            EdgeShard::new(dir, Self::config(dimensions)).map_err(|e| open_err(e.to_string()))?
        };
        let stored = shard.config().vectors.get(DEFAULT_VECTOR_NAME).map(|v| v.size);
        if stored != Some(dimensions) {
            return Err(open_err(format!(
                "it holds {}-dimensional vectors but the embedding model makes {dimensions}; \
                 re-index into a new data directory after changing the embedding model",
                stored.map_or_else(|| "no".to_string(), |d| d.to_string())
            )));
        }
        let index = Self { shard, dimensions, write_lock: Mutex::new(()) };
        if !exists {
            index.create_payload_indexes()?;
            index.flush()?;
        }
        Ok(index)
    }

    fn config(dimensions: usize) -> EdgeConfig {
        let params = EdgeVectorParams {
            size: dimensions,
            distance: Distance::Cosine,
            on_disk: None,
            multivector_config: None,
            datatype: None,
            quantization_config: None,
            hnsw_config: None,
        };
        EdgeConfig {
            on_disk_payload: true,
            vectors: [(DEFAULT_VECTOR_NAME.to_string(), params)].into_iter().collect(),
            sparse_vectors: Default::default(),
            hnsw_config: Default::default(),
            quantization_config: None,
            optimizers: Default::default(),
            wal_options: None,
        }
    }

    fn create_payload_indexes(&self) -> Result<()> {
        let fields = [
            (FIELD_DOCUMENT, PayloadSchemaType::Integer),
            (FIELD_MODIFIED, PayloadSchemaType::Integer),
            (FIELD_SOURCE, PayloadSchemaType::Keyword),
            (FIELD_KIND, PayloadSchemaType::Keyword),
            (FIELD_ACL, PayloadSchemaType::Keyword),
        ];
        let _guard = self.write_lock.lock();
        for (name, schema) in fields {
            self.shard
                .update(UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                    field_name: key(name),
                    field_schema: Some(PayloadFieldSchema::FieldType(schema)),
                })))
                .map_err(engine)?;
        }
        Ok(())
    }

    pub fn path(&self) -> PathBuf {
        self.shard.path().to_path_buf()
    }

    fn payload(point: &VectorPoint<'_>) -> Payload {
        let doc = point.document;
        let value = json!({
            FIELD_DOCUMENT: doc.id.0,
            FIELD_SOURCE: doc.source,
            FIELD_KIND: doc.kind.as_str(),
            FIELD_ACL: doc.acl,
            FIELD_MODIFIED: doc.modified_ms,
            "page": point.chunk.page,
        });
        match value {
            Value::Object(map) => Payload(map),
            _ => unreachable!("json! of an object literal is an object"),
        }
    }

    fn filter(filter: &SearchFilter) -> Option<Filter> {
        let keywords = |field: &str, values: &[String]| {
            Condition::Field(FieldCondition::new_match(
                key(field),
                Match::Any(MatchAny { any: AnyVariants::Strings(values.iter().cloned().collect()) }),
            ))
        };
        let mut must = Vec::new();
        if !filter.principals.is_empty() {
            must.push(keywords(FIELD_ACL, &filter.principals));
        }
        if !filter.sources.is_empty() {
            must.push(keywords(FIELD_SOURCE, &filter.sources));
        }
        if !filter.kinds.is_empty() {
            let kinds: Vec<String> = filter.kinds.iter().map(|k| k.as_str().to_string()).collect();
            must.push(keywords(FIELD_KIND, &kinds));
        }
        if filter.modified_after_ms.is_some() || filter.modified_before_ms.is_some() {
            let bound = |ms: Option<i64>| ms.map(|v| OrderedFloat(v as f64));
            must.push(Condition::Field(FieldCondition::new_range(
                key(FIELD_MODIFIED),
                Range {
                    gte: bound(filter.modified_after_ms),
                    lt: bound(filter.modified_before_ms),
                    gt: None,
                    lte: None,
                },
            )));
        }
        (!must.is_empty()).then(|| Filter { must: Some(must), ..Default::default() })
    }

    /// The points of these documents (through the payload index).
    fn of_documents(documents: &[DocumentId]) -> Filter {
        let ids = documents.iter().map(|d| d.0).collect();
        Filter {
            must: Some(vec![Condition::Field(FieldCondition::new_match(
                key(FIELD_DOCUMENT),
                Match::Any(MatchAny { any: AnyVariants::Integers(ids) }),
            ))]),
            ..Default::default()
        }
    }

    /// Every point, a page at a time: `visit(id, payload)` for each.
    fn scroll_all(&self, with_payload: bool, mut visit: impl FnMut(u64, Option<Payload>)) -> Result<()> {
        let mut offset = None;
        loop {
            let (records, next) = self
                .shard
                .scroll(ScrollRequest {
                    offset,
                    limit: Some(SCROLL_PAGE),
                    filter: None,
                    with_payload: Some(WithPayloadInterface::Bool(with_payload)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(engine)?;
            for record in records {
                match record.id {
                    PointId::NumId(id) => visit(id, record.payload),
                    other => return Err(VectorError::Engine(format!("unexpected point id {other:?}"))),
                }
            }
            match next {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }
}

impl VectorIndex for EdgeVectorIndex {
    fn dimensions(&self) -> usize {
        self.dimensions
    }

    fn upsert(&self, points: &[VectorPoint<'_>]) -> Result<()> {
        if points.is_empty() {
            return Ok(());
        }
        let mut batch = Vec::with_capacity(points.len());
        for point in points {
            if point.vector.len() != self.dimensions {
                return Err(VectorError::Dimensions { expected: self.dimensions, actual: point.vector.len() });
            }
            batch.push(PointStructPersisted {
                id: PointId::NumId(point.chunk.id.0),
                vector: VectorStructPersisted::Single(point.vector.to_vec()),
                payload: Some(Self::payload(point)),
            });
        }
        let _guard = self.write_lock.lock();
        self.shard
            .update(UpdateOperation::PointOperation(PointOperations::UpsertPoints(PointInsertOperations::PointsList(
                batch,
            ))))
            .map_err(engine)
    }

    fn delete_documents(&self, documents: &[DocumentId]) -> Result<()> {
        if documents.is_empty() {
            return Ok(());
        }
        let filter = Self::of_documents(documents);
        let _guard = self.write_lock.lock();
        self.shard
            .update(UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter)))
            .map_err(engine)
    }

    fn relabel(&self, documents: &[DocumentId], acl: &[String]) -> Result<()> {
        // Setting one key keeps the rest of each point's payload.
        let Value::Object(map) = json!({ FIELD_ACL: acl }) else {
            unreachable!("json! of an object literal is an object")
        };
        let payload = Payload(map);
        let _guard = self.write_lock.lock();
        for batch in documents.chunks(1_000) {
            let op = SetPayloadOp {
                payload: payload.clone(),
                points: None,
                filter: Some(Self::of_documents(batch)),
                key: None,
            };
            self.shard.update(UpdateOperation::PayloadOperation(PayloadOps::SetPayload(op))).map_err(engine)?;
        }
        Ok(())
    }

    fn acl_labels(&self) -> Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>> {
        let mut labels: BTreeMap<DocumentId, BTreeSet<Vec<String>>> = BTreeMap::new();
        self.scroll_all(true, |id, payload| {
            let mut acl: Vec<String> = payload
                .as_ref()
                .and_then(|p| p.0.get(FIELD_ACL))
                .and_then(Value::as_array)
                .map(|values| values.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default();
            acl.sort();
            acl.dedup();
            labels.entry(ChunkId(id).document()).or_default().insert(acl);
        })?;
        Ok(labels)
    }

    fn flush(&self) -> Result<()> {
        let _guard = self.write_lock.lock();
        self.shard.flush();
        Ok(())
    }

    fn optimize(&self) -> Result<bool> {
        let _guard = self.write_lock.lock();
        self.shard.optimize().map_err(engine)
    }

    fn search(&self, query: &[f32], limit: usize, filter: &SearchFilter) -> Result<Vec<VectorHit>> {
        if query.len() != self.dimensions {
            return Err(VectorError::Dimensions { expected: self.dimensions, actual: query.len() });
        }
        let request = QueryRequest {
            prefetches: vec![],
            query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                query: query.to_vec().into(),
                using: None,
            }))),
            filter: Self::filter(filter),
            score_threshold: None,
            limit,
            offset: 0,
            params: None,
            with_vector: WithVector::Bool(false),
            with_payload: WithPayloadInterface::Bool(false),
        };
        let points = self.shard.query(request).map_err(engine)?;
        points
            .into_iter()
            .map(|p| match p.id {
                PointId::NumId(id) => Ok(VectorHit { chunk: ChunkId(id), score: p.score }),
                other => Err(VectorError::Engine(format!("unexpected point id {other:?}"))),
            })
            .collect()
    }

    fn delete_chunks(&self, chunks: &[ChunkId]) -> Result<()> {
        if chunks.is_empty() {
            return Ok(());
        }
        let ids = chunks.iter().map(|c| PointId::NumId(c.0)).collect();
        let _guard = self.write_lock.lock();
        self.shard.update(UpdateOperation::PointOperation(PointOperations::DeletePoints { ids })).map_err(engine)
    }

    fn chunk_ids(&self) -> Result<Vec<ChunkId>> {
        let mut ids = Vec::new();
        self.scroll_all(false, |id, _| ids.push(ChunkId(id)))?;
        Ok(ids)
    }

    fn len(&self) -> Result<u64> {
        let count = self.shard.count(qdrant_edge::CountRequest { filter: None, exact: true }).map_err(engine)?;
        Ok(count as u64)
    }
}
