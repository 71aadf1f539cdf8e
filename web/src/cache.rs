//! What the stores said since they last changed: give it a request, get the results a search gave for
//! exactly that request (query, permissions, facets, page, ranking); and the list of sources with their
//! counts (read by every search page for its facets). Ingestion empties it at every commit, so nothing
//! cached is older than the stores; permissions are part of the search key, and the source list is
//! filtered per caller after it is read, so one caller's view never reaches another.
//!
//! Bounded twice: in entries and in bytes. Keys are a hash of the request, so a query of hundreds of
//! kilobytes costs 32 bytes of key, and an entry's size counts its results and their JSON.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use lore_retrieve::{SearchRequest, SearchResults};
use parking_lot::Mutex;

use crate::schema::SourceFolderJson;
use crate::schema::{Detail, SearchJson};
use lore_core::catalog::AclCount;

/// Every source with its totals (what administrators see), and its documents counted per ACL, from
/// which what another caller sees is summed.
pub struct SourceListing {
    pub sources: Vec<SourceFolderJson>,
    pub by_acl: Vec<AclCount>,
}

/// One search's results, and their JSON once an API caller asked for it: a repeated search is
/// serialised once, not per request.
pub struct Searched {
    pub results: SearchResults,
    full: OnceLock<Bytes>,
    reader: OnceLock<Bytes>,
}

impl Searched {
    pub fn new(results: SearchResults) -> Self {
        Self { results, full: OnceLock::new(), reader: OnceLock::new() }
    }

    /// The body of `GET /api/search` for these results, as `detail` may see them.
    pub fn json(&self, detail: Detail) -> Bytes {
        let cell = if detail == Detail::Full { &self.full } else { &self.reader };
        cell.get_or_init(|| {
            Bytes::from(serde_json::to_vec(&SearchJson::new(&self.results, detail)).expect("results serialise"))
        })
        .clone()
    }

    /// Memory the entry may take once its JSON is made: the passages twice (text and snippet), in
    /// the results and again in the JSON, plus a fixed share per hit.
    fn cost(&self) -> usize {
        let hits: usize = self
            .results
            .hits
            .iter()
            .map(|hit| 512 + 2 * (hit.text.len() + hit.snippet.text.len() + hit.title.len() + hit.document_path.len()))
            .sum();
        1024 + hits
    }
}

type Key = [u8; 32];

pub struct ResultCache {
    capacity: usize,
    max_bytes: usize,
    entries: Mutex<Entries>,
    /// Every source, unfiltered.
    sources: Mutex<Option<Arc<SourceListing>>>,
}

#[derive(Default)]
struct Entries {
    results: HashMap<Key, (Arc<Searched>, usize)>,
    /// Oldest first: the ones evicted when full.
    order: VecDeque<Key>,
    bytes: usize,
}

fn key(request: &SearchRequest) -> Key {
    *blake3::hash(&serde_json::to_vec(request).expect("search requests serialise")).as_bytes()
}

impl ResultCache {
    /// Holds up to `capacity` results taking up to `max_bytes`; a capacity of 0 caches nothing.
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Self { capacity, max_bytes, entries: Mutex::new(Entries::default()), sources: Mutex::new(None) }
    }

    pub fn get(&self, request: &SearchRequest) -> Option<Arc<Searched>> {
        if self.capacity == 0 {
            return None;
        }
        self.entries.lock().results.get(&key(request)).map(|(searched, _)| searched.clone())
    }

    pub fn insert(&self, request: &SearchRequest, results: Arc<Searched>) {
        let cost = results.cost();
        if self.capacity == 0 || cost > self.max_bytes {
            return;
        }
        let key = key(request);
        let mut entries = self.entries.lock();
        if entries.results.contains_key(&key) {
            return;
        }
        entries.results.insert(key, (results, cost));
        entries.order.push_back(key);
        entries.bytes += cost;
        while entries.order.len() > self.capacity || entries.bytes > self.max_bytes {
            let Some(oldest) = entries.order.pop_front() else { break };
            if let Some((_, cost)) = entries.results.remove(&oldest) {
                entries.bytes -= cost;
            }
        }
    }

    /// Every source as last read, if the stores did not change since.
    pub fn sources(&self) -> Option<Arc<SourceListing>> {
        self.sources.lock().clone()
    }

    pub fn set_sources(&self, sources: Arc<SourceListing>) {
        if self.capacity > 0 {
            *self.sources.lock() = Some(sources);
        }
    }

    /// Forgets everything: the stores changed.
    pub fn clear(&self) {
        let mut entries = self.entries.lock();
        entries.results.clear();
        entries.order.clear();
        entries.bytes = 0;
        *self.sources.lock() = None;
    }

    /// Bytes the cached results are estimated to take.
    pub fn bytes(&self) -> usize {
        self.entries.lock().bytes
    }
}

#[cfg(test)]
mod tests {
    use lore_retrieve::{Access, Mode, Timings};

    use super::*;

    fn results() -> Arc<Searched> {
        let results =
            SearchResults { hits: Vec::new(), mode: Mode::Bm25, query_truncated: false, timings: Timings::default() };
        Arc::new(Searched::new(results))
    }

    #[test]
    fn results_are_kept_per_caller_and_forgotten_when_the_indexes_change() {
        let cache = ResultCache::new(2, 1 << 20);
        let everyone = SearchRequest::new("vpn", Access::everyone());
        let hr = SearchRequest::new("vpn", Access::Principals(vec!["group:hr".into()]));
        cache.insert(&everyone, results());
        assert!(cache.get(&everyone).is_some());
        assert!(cache.get(&hr).is_none(), "another caller's principals are another key");
        cache.insert(&hr, results());
        cache.insert(&SearchRequest::new("badge", Access::everyone()), results());
        assert!(cache.get(&everyone).is_none(), "the oldest entry went when the cache was full");
        assert!(cache.get(&hr).is_some());
        cache.clear();
        assert!(cache.get(&hr).is_none());
        assert_eq!(cache.bytes(), 0);
    }

    #[test]
    fn huge_queries_cost_a_hash_and_the_cache_stays_within_its_bytes() {
        let cache = ResultCache::new(1_000, 10 * 1024);
        for i in 0..100 {
            let query = format!("{i} {}", "x".repeat(300_000));
            cache.insert(&SearchRequest::new(query, Access::everyone()), results());
            assert!(cache.bytes() <= 10 * 1024, "{} bytes", cache.bytes());
        }
        let entries = cache.entries.lock();
        assert!(entries.results.len() <= 10, "{} entries in 10 KiB", entries.results.len());
        assert!(entries.order.iter().all(|k| k.len() == 32));
    }
}
