//! A chunk as a point's payload and back; search filters as Qdrant filters.

use std::collections::HashMap;

use qdrant_client::qdrant::point_id::PointIdOptions;
use qdrant_client::qdrant::value::Kind;
use qdrant_client::qdrant::{Condition, Filter, ListValue, PointId, Range, Value};
use qdrant_client::Payload;

use super::client::DENSE;
use super::ServerError;
use crate::types::{Chunk, ChunkId, DocumentId, DocumentKind, DocumentMeta, IndexedChunk, SearchFilter};

/// Payload fields; the first five are indexed (filters and purges select by them).
pub(super) const FIELD_DOCUMENT: &str = "doc_id";
pub(super) const FIELD_SOURCE: &str = "source";
pub(super) const FIELD_KIND: &str = "kind";
pub(super) const FIELD_ACL: &str = "acl";
pub(super) const FIELD_MODIFIED: &str = "modified_ms";
const FIELD_PATH: &str = "path";
const FIELD_TITLE: &str = "title";
const FIELD_TEXT: &str = "text";
const FIELD_PAGE: &str = "page";
const FIELD_HEADING: &str = "heading";
const FIELD_START: &str = "start";
const FIELD_END: &str = "end";

pub(super) fn point_id(chunk: ChunkId) -> PointId {
    PointId::from(chunk.0)
}

pub(super) fn chunk_id(id: Option<&PointId>) -> Result<ChunkId, ServerError> {
    match id.and_then(|id| id.point_id_options.as_ref()) {
        Some(PointIdOptions::Num(n)) => Ok(ChunkId(*n)),
        other => Err(ServerError::Corrupt(format!("point id {other:?} is not a chunk id"))),
    }
}

pub(super) fn acl_value(acl: &[String]) -> Value {
    Value { kind: Some(Kind::ListValue(ListValue { values: acl.iter().map(|p| Value::from(p.as_str())).collect() })) }
}

/// Everything a search hit is shown from, so that no other store is asked.
pub(super) fn chunk_payload(document: &DocumentMeta, chunk: &Chunk) -> Payload {
    let mut payload = Payload::with_capacity(12);
    payload.insert(FIELD_DOCUMENT, document.id.0);
    payload.insert(FIELD_SOURCE, document.source.as_str());
    payload.insert(FIELD_PATH, document.path.as_str());
    payload.insert(FIELD_TITLE, document.title.as_str());
    payload.insert(FIELD_KIND, document.kind.as_str());
    payload.insert(FIELD_MODIFIED, document.modified_ms);
    payload.insert(FIELD_ACL, acl_value(&document.acl));
    payload.insert(FIELD_TEXT, chunk.text.as_str());
    if let Some(page) = chunk.page {
        payload.insert(FIELD_PAGE, i64::from(page));
    }
    if let Some(heading) = &chunk.heading {
        payload.insert(FIELD_HEADING, heading.as_str());
    }
    payload.insert(FIELD_START, chunk.start as i64);
    payload.insert(FIELD_END, chunk.end as i64);
    payload
}

type Fields = HashMap<String, Value>;

fn text_of(fields: &Fields, name: &str) -> Option<String> {
    match fields.get(name)?.kind.as_ref()? {
        Kind::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn integer_of(fields: &Fields, name: &str) -> Option<i64> {
    match fields.get(name)?.kind.as_ref()? {
        Kind::IntegerValue(n) => Some(*n),
        Kind::DoubleValue(f) if f.fract() == 0.0 => Some(*f as i64),
        _ => None,
    }
}

/// The ACL a point carries, sorted and without repeats.
pub(super) fn acl_of(fields: &Fields) -> Vec<String> {
    let mut acl: Vec<String> = match fields.get(FIELD_ACL).and_then(|v| v.kind.as_ref()) {
        Some(Kind::ListValue(list)) => list
            .values
            .iter()
            .filter_map(|v| match v.kind.as_ref() {
                Some(Kind::StringValue(s)) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(Kind::StringValue(s)) => vec![s.clone()],
        _ => Vec::new(),
    };
    acl.sort();
    acl.dedup();
    acl
}

pub(super) fn indexed_chunk(id: ChunkId, fields: &Fields) -> Result<IndexedChunk, ServerError> {
    let missing = |field: &str| ServerError::Corrupt(format!("chunk {} has no `{field}` in its payload", id.0));
    let text = |field: &'static str| text_of(fields, field).ok_or_else(|| missing(field));
    let integer = |field: &'static str| integer_of(fields, field).ok_or_else(|| missing(field));
    let kind = text(FIELD_KIND)?;
    let document = DocumentMeta {
        id: DocumentId(integer(FIELD_DOCUMENT)?),
        source: text(FIELD_SOURCE)?,
        path: text(FIELD_PATH)?,
        title: text(FIELD_TITLE)?,
        kind: DocumentKind::parse(&kind).ok_or_else(|| ServerError::Corrupt(format!("unknown kind {kind:?}")))?,
        modified_ms: integer(FIELD_MODIFIED)?,
        acl: acl_of(fields),
    };
    if document.id != id.document() {
        return Err(ServerError::Corrupt(format!("chunk {} names document {}", id.0, document.id)));
    }
    Ok(IndexedChunk {
        id,
        document,
        text: text(FIELD_TEXT)?,
        page: integer_of(fields, FIELD_PAGE).and_then(|p| u32::try_from(p).ok()),
        heading: text_of(fields, FIELD_HEADING),
        start: usize::try_from(integer(FIELD_START)?).map_err(|_| missing(FIELD_START))?,
        end: usize::try_from(integer(FIELD_END)?).map_err(|_| missing(FIELD_END))?,
    })
}

/// The search filter as Qdrant conditions, applied by the server before ranking.
pub(super) fn search_filter(filter: &SearchFilter) -> Option<Filter> {
    let mut must = Vec::new();
    if !filter.principals.is_empty() {
        must.push(Condition::matches(FIELD_ACL, filter.principals.clone()));
    }
    if !filter.sources.is_empty() {
        must.push(Condition::matches(FIELD_SOURCE, filter.sources.clone()));
    }
    if !filter.kinds.is_empty() {
        let kinds: Vec<String> = filter.kinds.iter().map(|k| k.as_str().to_string()).collect();
        must.push(Condition::matches(FIELD_KIND, kinds));
    }
    if filter.modified_after_ms.is_some() || filter.modified_before_ms.is_some() {
        let range = Range {
            gte: filter.modified_after_ms.map(|ms| ms as f64),
            lt: filter.modified_before_ms.map(|ms| ms as f64),
            ..Default::default()
        };
        must.push(Condition::range(FIELD_MODIFIED, range));
    }
    (!must.is_empty()).then(|| Filter::must(must))
}

/// The points of these documents (through the payload index).
pub(super) fn of_documents(documents: &[DocumentId]) -> Filter {
    Filter::must([Condition::matches(FIELD_DOCUMENT, documents.iter().map(|d| d.0).collect::<Vec<i64>>())])
}

/// The points that have their dense vector: what the vector side of the index holds.
pub(super) fn with_dense_vector() -> Filter {
    Filter::must([Condition::has_vector(DENSE)])
}
