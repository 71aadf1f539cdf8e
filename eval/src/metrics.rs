//! Give it a ranking and the relevant documents, get the standard ranking metrics; give it latencies,
//! get percentiles.

use std::collections::HashMap;

use serde::Serialize;

/// Means over all queries of one mode.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Metrics {
    #[serde(rename = "recall@1")]
    pub recall_1: f64,
    #[serde(rename = "recall@5")]
    pub recall_5: f64,
    #[serde(rename = "recall@10")]
    pub recall_10: f64,
    #[serde(rename = "mrr@10")]
    pub mrr_10: f64,
    #[serde(rename = "ndcg@10")]
    pub ndcg_10: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
}

/// Share of the relevant documents found in the first `k`.
pub fn recall_at(ranking: &[String], relevant: &HashMap<String, u32>, k: usize) -> f64 {
    if relevant.is_empty() {
        return 0.0;
    }
    let found = ranking.iter().take(k).filter(|d| relevant.contains_key(*d)).count();
    found as f64 / relevant.len() as f64
}

/// 1 / rank of the first relevant document within the first `k`, else 0.
pub fn reciprocal_rank_at(ranking: &[String], relevant: &HashMap<String, u32>, k: usize) -> f64 {
    ranking.iter().take(k).position(|d| relevant.contains_key(d)).map_or(0.0, |i| 1.0 / (i as f64 + 1.0))
}

/// Normalised discounted cumulative gain with graded relevance (gain = grade, log2 discount).
pub fn ndcg_at(ranking: &[String], relevant: &HashMap<String, u32>, k: usize) -> f64 {
    let discount = |i: usize| 1.0 / (i as f64 + 2.0).log2();
    let dcg: f64 = ranking
        .iter()
        .take(k)
        .enumerate()
        .map(|(i, d)| f64::from(relevant.get(d).copied().unwrap_or(0)) * discount(i))
        .sum();
    let mut grades: Vec<u32> = relevant.values().copied().collect();
    grades.sort_unstable_by(|a, b| b.cmp(a));
    let ideal: f64 = grades.iter().take(k).enumerate().map(|(i, &g)| f64::from(g) * discount(i)).sum();
    if ideal == 0.0 {
        0.0
    } else {
        dcg / ideal
    }
}

/// Sums per-query metrics; [`Accumulator::finish`] turns them into means with latency percentiles.
#[derive(Debug, Default, Clone)]
pub struct Accumulator {
    sums: Metrics,
    latencies_ms: Vec<f64>,
    queries: usize,
}

impl Accumulator {
    pub fn add(&mut self, ranking: &[String], relevant: &HashMap<String, u32>, latency_ms: Option<f64>) {
        self.sums.recall_1 += recall_at(ranking, relevant, 1);
        self.sums.recall_5 += recall_at(ranking, relevant, 5);
        self.sums.recall_10 += recall_at(ranking, relevant, 10);
        self.sums.mrr_10 += reciprocal_rank_at(ranking, relevant, 10);
        self.sums.ndcg_10 += ndcg_at(ranking, relevant, 10);
        self.latencies_ms.extend(latency_ms);
        self.queries += 1;
    }

    pub fn finish(&self) -> Metrics {
        let n = self.queries.max(1) as f64;
        Metrics {
            recall_1: self.sums.recall_1 / n,
            recall_5: self.sums.recall_5 / n,
            recall_10: self.sums.recall_10 / n,
            mrr_10: self.sums.mrr_10 / n,
            ndcg_10: self.sums.ndcg_10 / n,
            p50_ms: percentile(&self.latencies_ms, 50.0),
            p95_ms: percentile(&self.latencies_ms, 95.0),
        }
    }
}

/// Nearest-rank percentile; 0 for no samples.
pub fn percentile(samples: &[f64], p: f64) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ranking(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn metrics_of_a_single_relevant_document() {
        let relevant = HashMap::from([("b".to_string(), 1)]);
        let r = ranking(&["a", "b", "c"]);
        assert_eq!(recall_at(&r, &relevant, 1), 0.0);
        assert_eq!(recall_at(&r, &relevant, 5), 1.0);
        assert_eq!(reciprocal_rank_at(&r, &relevant, 10), 0.5);
        assert!((ndcg_at(&r, &relevant, 10) - 1.0 / 3f64.log2()).abs() < 1e-12);
        assert_eq!(reciprocal_rank_at(&r, &relevant, 1), 0.0);
    }

    #[test]
    fn graded_ndcg_prefers_the_better_document_first() {
        let relevant = HashMap::from([("a".to_string(), 2), ("b".to_string(), 1)]);
        assert_eq!(ndcg_at(&ranking(&["a", "b"]), &relevant, 10), 1.0);
        assert!(ndcg_at(&ranking(&["b", "a"]), &relevant, 10) < 1.0);
        assert_eq!(recall_at(&ranking(&["b", "x"]), &relevant, 10), 0.5);
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), 50.0);
        assert_eq!(percentile(&samples, 95.0), 95.0);
        assert_eq!(percentile(&[3.0], 95.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }

    #[test]
    fn accumulated_means() {
        let relevant = HashMap::from([("a".to_string(), 1)]);
        let mut acc = Accumulator::default();
        acc.add(&ranking(&["a"]), &relevant, Some(10.0));
        acc.add(&ranking(&["x", "y"]), &relevant, Some(30.0));
        let m = acc.finish();
        assert_eq!((m.recall_1, m.mrr_10, m.p50_ms, m.p95_ms), (0.5, 0.5, 10.0, 30.0));
    }
}
