//! Top-k by BM25 among the documents a filter allows, keeping tantivy's block-max WAND pruning.
//!
//! Why not a `BooleanQuery` with the filter as a `Must` clause: tantivy then intersects the filter
//! with the union of the query terms and scores every document that has any term, which at a million
//! chunks costs tens of milliseconds. Here the term union runs with pruning, and each document it
//! offers (in increasing id order) is checked against the filter's doc set by a forward seek. The
//! filter still decides before ranking: the threshold only ever comes from allowed documents, so the
//! result is exactly the top-k of the allowed documents.

use std::cmp::{Ordering, Reverse};
use std::collections::BinaryHeap;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::query::{Scorer, Weight};
use tantivy::{DocAddress, DocId, DocSet, Score, SegmentOrdinal, SegmentReader, TERMINATED};

pub struct FilteredTopDocs {
    limit: usize,
    /// Documents allowed; `None` allows all.
    filter: Option<Box<dyn Weight>>,
}

impl FilteredTopDocs {
    pub fn new(limit: usize, filter: Option<Box<dyn Weight>>) -> Self {
        Self { limit: limit.max(1), filter }
    }

    fn allowed(&self, reader: &SegmentReader) -> tantivy::Result<Option<Box<dyn Scorer>>> {
        self.filter.as_ref().map(|weight| weight.scorer(reader, 1.0)).transpose()
    }
}

/// A scored document ordered by score, then by lower id (so ties keep index order).
#[derive(Clone, Copy, PartialEq)]
struct Ranked(Score, DocId);

impl Eq for Ranked {}

impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.total_cmp(&other.0).then_with(|| other.1.cmp(&self.1))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Heap slots reserved before any document is seen.
const PREALLOCATED: usize = 1_024;

/// The best `limit` documents seen so far (a min-heap of them).
struct TopK {
    limit: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
}

impl TopK {
    fn new(limit: usize) -> Self {
        // Grown as documents arrive, never sized from the caller's limit up front.
        Self { limit, heap: BinaryHeap::with_capacity(limit.min(PREALLOCATED) + 1) }
    }

    /// Adds a document; returns the score a document must now beat to enter.
    fn push(&mut self, score: Score, doc: DocId) -> Score {
        if self.heap.len() < self.limit {
            self.heap.push(Reverse(Ranked(score, doc)));
        } else if self.heap.peek().is_some_and(|Reverse(worst)| Ranked(score, doc) > *worst) {
            self.heap.pop();
            self.heap.push(Reverse(Ranked(score, doc)));
        }
        self.threshold()
    }

    fn threshold(&self) -> Score {
        match self.heap.peek() {
            Some(Reverse(worst)) if self.heap.len() == self.limit => worst.0,
            _ => Score::MIN,
        }
    }

    fn into_sorted(self, segment_ord: SegmentOrdinal) -> Vec<(Score, DocAddress)> {
        let mut ranked: Vec<Ranked> = self.heap.into_iter().map(|Reverse(r)| r).collect();
        ranked.sort_by(|a, b| b.cmp(a));
        ranked.into_iter().map(|Ranked(score, doc)| (score, DocAddress::new(segment_ord, doc))).collect()
    }
}

/// Whether `doc` is in `allowed`, for docs asked in increasing order.
fn admits(allowed: &mut Option<Box<dyn Scorer>>, doc: DocId) -> bool {
    match allowed {
        None => true,
        Some(set) => {
            let at = if set.doc() < doc { set.seek(doc) } else { set.doc() };
            at == doc && at != TERMINATED
        }
    }
}

impl Collector for FilteredTopDocs {
    type Fruit = Vec<(Score, DocAddress)>;
    type Child = FilteredSegmentCollector;

    fn for_segment(&self, segment_ord: SegmentOrdinal, reader: &SegmentReader) -> tantivy::Result<Self::Child> {
        Ok(FilteredSegmentCollector { top: TopK::new(self.limit), allowed: self.allowed(reader)?, segment_ord })
    }

    fn requires_scoring(&self) -> bool {
        true
    }

    fn merge_fruits(&self, fruits: Vec<Self::Fruit>) -> tantivy::Result<Self::Fruit> {
        let mut all: Vec<(Score, DocAddress)> = fruits.into_iter().flatten().collect();
        all.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        all.truncate(self.limit);
        Ok(all)
    }

    fn collect_segment(
        &self,
        weight: &dyn Weight,
        segment_ord: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<Self::Fruit> {
        let mut allowed = self.allowed(reader)?;
        let alive = reader.alive_bitset();
        let mut top = TopK::new(self.limit);
        let mut threshold = Score::MIN;
        weight.for_each_pruning(Score::MIN, reader, &mut |doc, score| {
            if alive.is_some_and(|bits| bits.is_deleted(doc)) || !admits(&mut allowed, doc) {
                return threshold;
            }
            threshold = top.push(score, doc);
            threshold
        })?;
        Ok(top.into_sorted(segment_ord))
    }
}

/// Used only when a caller drives collection document by document (the search path does not).
pub struct FilteredSegmentCollector {
    top: TopK,
    allowed: Option<Box<dyn Scorer>>,
    segment_ord: SegmentOrdinal,
}

impl SegmentCollector for FilteredSegmentCollector {
    type Fruit = Vec<(Score, DocAddress)>;

    fn collect(&mut self, doc: DocId, score: Score) {
        if admits(&mut self.allowed, doc) {
            self.top.push(score, doc);
        }
    }

    fn harvest(self) -> Self::Fruit {
        self.top.into_sorted(self.segment_ord)
    }
}
