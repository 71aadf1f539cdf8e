//! Give it the ranked lists of both engines, get one ranking. Pure functions: the search path and the
//! evaluation's parameter sweep call the same code.

use std::collections::HashMap;

use lore_core::ChunkId;

/// A chunk and its score in some ranking, best first.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    pub chunk: ChunkId,
    pub score: f32,
}

/// Reciprocal rank fusion: each list gives a chunk `1 / (k + rank)` (rank from 1). Only ranks matter, so
/// engines with incomparable scores combine without calibration.
pub fn reciprocal_rank(lists: &[&[Scored]], k: f32) -> Vec<Scored> {
    let mut fused: HashMap<ChunkId, f32> = HashMap::new();
    for list in lists {
        for (rank, hit) in list.iter().enumerate() {
            *fused.entry(hit.chunk).or_insert(0.0) += 1.0 / (k + rank as f32 + 1.0);
        }
    }
    ranked(fused)
}

/// Convex combination: `alpha * dense + (1 - alpha) * bm25`, each min-max normalised over its own list
/// (a chunk missing from a list scores 0 there).
pub fn convex(bm25: &[Scored], dense: &[Scored], alpha: f32) -> Vec<Scored> {
    let mut fused: HashMap<ChunkId, f32> = HashMap::new();
    for (list, weight) in [(bm25, 1.0 - alpha), (dense, alpha)] {
        for (chunk, normalised) in min_max(list) {
            *fused.entry(chunk).or_insert(0.0) += weight * normalised;
        }
    }
    ranked(fused)
}

/// Scores mapped onto 0..1 by the list's own range; a list whose scores are all equal maps to 1.
fn min_max(list: &[Scored]) -> impl Iterator<Item = (ChunkId, f32)> + '_ {
    let (low, high) =
        list.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), h| (lo.min(h.score), hi.max(h.score)));
    let range = high - low;
    list.iter().map(move |h| (h.chunk, if range > f32::EPSILON { (h.score - low) / range } else { 1.0 }))
}

/// Best first; ties broken by chunk id so that a ranking is reproducible.
fn ranked(fused: HashMap<ChunkId, f32>) -> Vec<Scored> {
    let mut list: Vec<Scored> = fused.into_iter().map(|(chunk, score)| Scored { chunk, score }).collect();
    list.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.chunk.cmp(&b.chunk)));
    list
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(ids: &[(u64, f32)]) -> Vec<Scored> {
        ids.iter().map(|&(id, score)| Scored { chunk: ChunkId(id), score }).collect()
    }

    fn ids(list: &[Scored]) -> Vec<u64> {
        list.iter().map(|s| s.chunk.0).collect()
    }

    #[test]
    fn rrf_rewards_agreement_between_lists() {
        let bm25 = list(&[(1, 30.0), (2, 20.0), (3, 10.0)]);
        let dense = list(&[(2, 0.9), (3, 0.8), (4, 0.7)]);
        let fused = reciprocal_rank(&[&bm25, &dense], 60.0);
        assert_eq!(ids(&fused), [2, 3, 1, 4], "2 and 3 are in both lists; 2 has the better ranks");
        assert!((fused[0].score - (1.0 / 62.0 + 1.0 / 61.0)).abs() < 1e-6);
    }

    #[test]
    fn convex_weights_normalised_scores() {
        let bm25 = list(&[(1, 30.0), (2, 10.0)]);
        let dense = list(&[(2, 0.9), (1, 0.5)]);
        assert_eq!(ids(&convex(&bm25, &dense, 0.2)), [1, 2], "mostly BM25");
        assert_eq!(ids(&convex(&bm25, &dense, 0.8)), [2, 1], "mostly vectors");
        let only_bm25 = convex(&bm25, &[], 0.5);
        assert_eq!(only_bm25[0].score, 0.5, "the top of a list normalises to 1, then weighs 1 - alpha");
    }

    #[test]
    fn a_single_hit_or_equal_scores_normalise_to_one() {
        let fused = convex(&list(&[(7, 3.0)]), &list(&[(8, 0.4), (9, 0.4)]), 0.5);
        assert!(fused.iter().all(|s| (s.score - 0.5).abs() < 1e-6), "{fused:?}");
        assert_eq!(ids(&fused), [7, 8, 9], "ties go by chunk id");
    }
}
