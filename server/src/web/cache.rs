//! What the stores said since they last changed: give it a request, get the results a search gave for
//! exactly that request (query, permissions, facets, page, ranking); and the list of sources with their
//! counts (read by every search page for its facets). Ingestion empties it at every commit, so nothing
//! cached is older than the stores; permissions are part of the search key, and the source list is
//! filtered per caller after it is read, so one caller's view never reaches another.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use lore_retrieve::{SearchRequest, SearchResults};
use parking_lot::Mutex;

use super::api::sources::SourceJson;
use super::schema::SearchJson;

/// One search's results, and their JSON once an API caller asked for it: a repeated search is
/// serialised once, not per request.
pub struct Searched {
    pub results: SearchResults,
    json: OnceLock<Bytes>,
}

impl Searched {
    pub fn new(results: SearchResults) -> Self {
        Self { results, json: OnceLock::new() }
    }

    /// The body of `GET /api/search` for these results.
    pub fn json(&self) -> Bytes {
        self.json
            .get_or_init(|| {
                Bytes::from(serde_json::to_vec(&SearchJson::from(&self.results)).expect("results serialise"))
            })
            .clone()
    }
}

pub struct ResultCache {
    capacity: usize,
    entries: Mutex<Entries>,
    /// Every source, unfiltered.
    sources: Mutex<Option<Arc<Vec<SourceJson>>>>,
}

#[derive(Default)]
struct Entries {
    results: HashMap<String, Arc<Searched>>,
    /// Oldest first: the one evicted when full.
    order: VecDeque<String>,
}

fn key(request: &SearchRequest) -> String {
    serde_json::to_string(request).expect("search requests serialise")
}

impl ResultCache {
    /// Holds up to `capacity` results; 0 caches nothing.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(Entries::default()), sources: Mutex::new(None) }
    }

    pub fn get(&self, request: &SearchRequest) -> Option<Arc<Searched>> {
        if self.capacity == 0 {
            return None;
        }
        self.entries.lock().results.get(&key(request)).cloned()
    }

    pub fn insert(&self, request: &SearchRequest, results: Arc<Searched>) {
        if self.capacity == 0 {
            return;
        }
        let key = key(request);
        let mut entries = self.entries.lock();
        if entries.results.insert(key.clone(), results).is_none() {
            entries.order.push_back(key);
            if entries.order.len() > self.capacity {
                if let Some(oldest) = entries.order.pop_front() {
                    entries.results.remove(&oldest);
                }
            }
        }
    }

    /// Every source as last read, if the stores did not change since.
    pub fn sources(&self) -> Option<Arc<Vec<SourceJson>>> {
        self.sources.lock().clone()
    }

    pub fn set_sources(&self, sources: Arc<Vec<SourceJson>>) {
        if self.capacity > 0 {
            *self.sources.lock() = Some(sources);
        }
    }

    /// Forgets everything: the stores changed.
    pub fn clear(&self) {
        let mut entries = self.entries.lock();
        entries.results.clear();
        entries.order.clear();
        *self.sources.lock() = None;
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
        let cache = ResultCache::new(2);
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
    }
}
