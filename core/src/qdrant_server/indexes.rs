//! The two index traits over the server's points.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use qdrant_client::qdrant::{
    CountPointsBuilder, DeletePointsBuilder, Filter, GetPointsBuilder, NamedVectors, PayloadIncludeSelector,
    PointStruct, PointVectors, PointsIdsList, Query, QueryPointsBuilder, RetrievedPoint, ScoredPoint,
    ScrollPointsBuilder, SetPayloadPointsBuilder, UpdatePointVectorsBuilder, UpsertPointsBuilder, Vector, VectorInput,
};

use super::client::{QdrantServerIndex, DENSE, SPARSE};
use super::payload::{
    acl_of, acl_value, chunk_id, chunk_payload, indexed_chunk, of_documents, point_id, search_filter,
    with_dense_vector, FIELD_ACL,
};
use super::ServerError;
use crate::text::{self, QueryTerms, TextHit, TextIndex};
use crate::types::{Chunk, ChunkId, DocumentId, DocumentMeta, IndexedChunk, SearchFilter};
use crate::vectors::{self, VectorError, VectorHit, VectorIndex, VectorPoint};

/// Points per scroll page (ids and small payloads only).
const SCROLL_PAGE: u32 = 10_000;
/// Documents per relabel or purge request: bounds the filter's size.
const DOCUMENTS_PER_REQUEST: usize = 1_000;

impl QdrantServerIndex {
    fn delete_points_of(&self, documents: &[DocumentId]) -> Result<(), ServerError> {
        for batch in documents.chunks(DOCUMENTS_PER_REQUEST) {
            let request = DeletePointsBuilder::new(self.collection()).points(of_documents(batch)).wait(true).build();
            self.request("delete points", request, |client, r| async move { client.delete_points(r).await })?;
        }
        Ok(())
    }

    fn relabel_points_of(&self, documents: &[DocumentId], acl: &[String]) -> Result<(), ServerError> {
        // Setting one key keeps the rest of each point's payload.
        let payload = HashMap::from([(FIELD_ACL.to_string(), acl_value(acl))]);
        for batch in documents.chunks(DOCUMENTS_PER_REQUEST) {
            let request = SetPayloadPointsBuilder::new(self.collection(), payload.clone())
                .points_selector(of_documents(batch))
                .wait(true)
                .build();
            self.request("relabel points", request, |client, r| async move { client.set_payload(r).await })?;
        }
        Ok(())
    }

    /// One chunk's point: payload, BM25 sparse vector and, when given, the dense vector.
    fn point(&self, document: &DocumentMeta, chunk: &Chunk, dense: Option<&[f32]>) -> PointStruct {
        let terms = self.bm25.document(&chunk.text, chunk.heading.as_deref(), &document.title);
        let mut vectors = NamedVectors::default();
        if !terms.is_empty() {
            vectors = vectors.add_vector(SPARSE, Vector::new_sparse(terms.indices, terms.values));
        }
        if let Some(dense) = dense {
            vectors = vectors.add_vector(DENSE, Vector::new_dense(dense.to_vec()));
        }
        PointStruct::new(point_id(chunk.id), vectors, chunk_payload(document, chunk))
    }

    fn write_points(&self, points: Vec<PointStruct>) -> Result<(), ServerError> {
        let request = UpsertPointsBuilder::new(self.collection(), points).wait(true).build();
        self.request("write points", request, |client, r| async move { client.upsert_points(r).await })?;
        Ok(())
    }

    /// Bulk load: each batch of points goes in one request carrying payload, BM25 and dense vector,
    /// where [`TextIndex::add`] then [`VectorIndex::upsert`] take two requests per document. For
    /// loads of many one-chunk documents (the search benchmark's corpus).
    pub fn add_points(&self, points: &[VectorPoint<'_>]) -> vectors::Result<()> {
        let expected = self.settings.dimensions;
        if let Some(point) = points.iter().find(|p| p.vector.len() != expected) {
            return Err(VectorError::Dimensions { expected, actual: point.vector.len() });
        }
        for batch in points.chunks(self.settings.batch_size) {
            self.write_points(batch.iter().map(|p| self.point(p.document, p.chunk, Some(p.vector))).collect())?;
        }
        Ok(())
    }

    /// Every point `filter` selects, a page at a time, with the payload fields named.
    fn scroll(
        &self,
        filter: Option<Filter>,
        fields: &[&str],
        mut visit: impl FnMut(ChunkId, &RetrievedPoint),
    ) -> Result<(), ServerError> {
        let mut offset = None;
        loop {
            let mut request = ScrollPointsBuilder::new(self.collection()).limit(SCROLL_PAGE).with_vectors(false);
            request = if fields.is_empty() {
                request.with_payload(false)
            } else {
                let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
                request.with_payload(PayloadIncludeSelector::from(fields))
            };
            if let Some(filter) = &filter {
                request = request.filter(filter.clone());
            }
            if let Some(offset) = offset.take() {
                request = request.offset(offset);
            }
            let page =
                self.request("scroll points", request.build(), |client, r| async move { client.scroll(r).await })?;
            for point in &page.result {
                visit(chunk_id(point.id.as_ref())?, point);
            }
            match page.next_page_offset {
                Some(next) => offset = Some(next),
                None => return Ok(()),
            }
        }
    }

    fn counts(&self, filter: Option<Filter>) -> Result<BTreeMap<DocumentId, u64>, ServerError> {
        let mut counts = BTreeMap::new();
        self.scroll(filter, &[], |id, _| *counts.entry(id.document()).or_insert(0) += 1)?;
        Ok(counts)
    }

    fn labels(&self, filter: Option<Filter>) -> Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>, ServerError> {
        let mut labels: BTreeMap<DocumentId, BTreeSet<Vec<String>>> = BTreeMap::new();
        self.scroll(filter, &[FIELD_ACL], |id, point| {
            labels.entry(id.document()).or_default().insert(acl_of(&point.payload));
        })?;
        Ok(labels)
    }

    fn count(&self, filter: Option<Filter>) -> Result<u64, ServerError> {
        let mut request = CountPointsBuilder::new(self.collection()).exact(true);
        if let Some(filter) = filter {
            request = request.filter(filter);
        }
        let reply = self.request("count points", request.build(), |client, r| async move { client.count(r).await })?;
        Ok(reply.result.map_or(0, |r| r.count))
    }

    fn nearest(
        &self,
        using: &'static str,
        query: VectorInput,
        limit: usize,
        filter: &SearchFilter,
    ) -> Result<Vec<(ChunkId, f32)>, ServerError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut request = QueryPointsBuilder::new(self.collection())
            .query(Query::new_nearest(query))
            .using(using)
            .limit(limit as u64)
            .with_payload(false)
            .with_vectors(false);
        if let Some(filter) = search_filter(filter) {
            request = request.filter(filter);
        }
        let reply = self.request("search", request.build(), |client, r| async move { client.query(r).await })?;
        reply.result.iter().map(|p: &ScoredPoint| Ok((chunk_id(p.id.as_ref())?, p.score))).collect()
    }
}

impl TextIndex for QdrantServerIndex {
    /// Writes the chunks' points: payload and BM25 sparse vector (the dense vector follows in
    /// [`VectorIndex::upsert`]).
    fn add(&self, document: &DocumentMeta, chunks: &[Chunk]) -> text::Result<()> {
        for batch in chunks.chunks(self.settings.batch_size) {
            let points: Vec<PointStruct> = batch.iter().map(|chunk| self.point(document, chunk, None)).collect();
            self.write_points(points)?;
        }
        Ok(())
    }

    fn delete_documents(&self, documents: &[DocumentId]) -> text::Result<()> {
        Ok(self.delete_points_of(documents)?)
    }

    fn relabel(&self, documents: &[DocumentId], acl: &[String]) -> text::Result<()> {
        Ok(self.relabel_points_of(documents, acl)?)
    }

    /// Nothing to do: every write waited for the server.
    fn commit(&self) -> text::Result<()> {
        Ok(())
    }

    /// The server merges and indexes segments in the background.
    fn optimize(&self) -> text::Result<bool> {
        Ok(false)
    }

    fn search(&self, query: &str, limit: usize, filter: &SearchFilter) -> text::Result<Vec<TextHit>> {
        let terms = self.bm25.query(&QueryTerms::parse(query));
        if terms.is_empty() {
            return Ok(Vec::new());
        }
        let query = VectorInput::new_sparse(terms.indices, terms.values);
        let hits = self.nearest(SPARSE, query, limit, filter)?;
        Ok(hits.into_iter().map(|(chunk, score)| TextHit { chunk, score }).collect())
    }

    fn fetch(&self, chunks: &[ChunkId]) -> text::Result<Vec<IndexedChunk>> {
        if chunks.is_empty() {
            return Ok(Vec::new());
        }
        let ids = chunks.iter().map(|&c| point_id(c)).collect::<Vec<_>>();
        let request = GetPointsBuilder::new(self.collection(), ids).with_payload(true).with_vectors(false).build();
        let reply = self.request("read points", request, |client, r| async move { client.get_points(r).await })?;
        let mut found = Vec::with_capacity(reply.result.len());
        for point in &reply.result {
            found.push(indexed_chunk(chunk_id(point.id.as_ref())?, &point.payload)?);
        }
        Ok(found)
    }

    fn chunk_counts(&self) -> text::Result<BTreeMap<DocumentId, u64>> {
        Ok(self.counts(None)?)
    }

    fn acl_labels(&self) -> text::Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>> {
        Ok(self.labels(None)?)
    }

    fn len(&self) -> text::Result<u64> {
        Ok(self.count(None)?)
    }
}

impl VectorIndex for QdrantServerIndex {
    fn dimensions(&self) -> usize {
        self.settings.dimensions
    }

    /// Adds the dense vectors to points [`TextIndex::add`] wrote; a point that does not exist is an
    /// error from the server, not a silent insert without payload.
    fn upsert(&self, points: &[VectorPoint<'_>]) -> vectors::Result<()> {
        let expected = self.settings.dimensions;
        if let Some(point) = points.iter().find(|p| p.vector.len() != expected) {
            return Err(VectorError::Dimensions { expected, actual: point.vector.len() });
        }
        for batch in points.chunks(self.settings.batch_size) {
            let vectors: Vec<PointVectors> = batch
                .iter()
                .map(|p| PointVectors {
                    id: Some(point_id(p.chunk.id)),
                    vectors: Some(HashMap::from([(DENSE.to_string(), p.vector.to_vec())]).into()),
                })
                .collect();
            let request = UpdatePointVectorsBuilder::new(self.collection(), vectors).wait(true).build();
            self.request("write vectors", request, |client, r| async move { client.update_vectors(r).await })?;
        }
        Ok(())
    }

    fn delete_documents(&self, documents: &[DocumentId]) -> vectors::Result<()> {
        Ok(self.delete_points_of(documents)?)
    }

    fn relabel(&self, documents: &[DocumentId], acl: &[String]) -> vectors::Result<()> {
        Ok(self.relabel_points_of(documents, acl)?)
    }

    fn acl_labels(&self) -> vectors::Result<BTreeMap<DocumentId, BTreeSet<Vec<String>>>> {
        Ok(self.labels(Some(with_dense_vector()))?)
    }

    fn delete_chunks(&self, chunks: &[ChunkId]) -> vectors::Result<()> {
        for batch in chunks.chunks(self.settings.batch_size.max(DOCUMENTS_PER_REQUEST)) {
            let ids = PointsIdsList { ids: batch.iter().map(|&c| point_id(c)).collect() };
            let request = DeletePointsBuilder::new(self.collection()).points(ids).wait(true).build();
            self.request("delete points", request, |client, r| async move { client.delete_points(r).await })?;
        }
        Ok(())
    }

    /// Nothing to do: every write waited for the server's write-ahead log.
    fn flush(&self) -> vectors::Result<()> {
        Ok(())
    }

    /// The server builds its HNSW graph in the background once a segment passes its threshold.
    fn optimize(&self) -> vectors::Result<bool> {
        Ok(false)
    }

    fn search(&self, query: &[f32], limit: usize, filter: &SearchFilter) -> vectors::Result<Vec<VectorHit>> {
        if query.len() != self.settings.dimensions {
            return Err(VectorError::Dimensions { expected: self.settings.dimensions, actual: query.len() });
        }
        let hits = self.nearest(DENSE, VectorInput::from(query.to_vec()), limit, filter)?;
        Ok(hits.into_iter().map(|(chunk, score)| VectorHit { chunk, score }).collect())
    }

    fn chunk_ids(&self) -> vectors::Result<Vec<ChunkId>> {
        let mut ids = Vec::new();
        self.scroll(Some(with_dense_vector()), &[], |id, _| ids.push(id))?;
        Ok(ids)
    }

    fn chunk_counts(&self) -> vectors::Result<BTreeMap<DocumentId, u64>> {
        Ok(self.counts(Some(with_dense_vector()))?)
    }

    fn len(&self) -> vectors::Result<u64> {
        Ok(self.count(Some(with_dense_vector()))?)
    }
}
