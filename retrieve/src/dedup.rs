//! Near-duplicate detection: give it two passages, get how much of their wording they share. The same
//! paragraph pasted into two documents (or a file copied into two folders) shows once in the results.

use std::collections::HashSet;
use std::hash::{DefaultHasher, Hash, Hasher};

/// Words per shingle: long enough that two passages on one topic do not look alike, short enough that
/// a changed word or a shifted chunk boundary does not hide a copy.
const SHINGLE_WORDS: usize = 3;

/// The set of word shingles of a passage (case and punctuation ignored).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(HashSet<u64>);

impl Fingerprint {
    pub fn of(text: &str) -> Self {
        let words: Vec<String> =
            text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(|w| w.to_lowercase()).collect();
        let hash = |words: &[String]| {
            let mut hasher = DefaultHasher::new();
            words.hash(&mut hasher);
            hasher.finish()
        };
        if words.len() < SHINGLE_WORDS {
            return Self([hash(&words)].into_iter().collect());
        }
        Self(words.windows(SHINGLE_WORDS).map(hash).collect())
    }

    /// Jaccard similarity of the two shingle sets, 0..1.
    pub fn similarity(&self, other: &Fingerprint) -> f32 {
        let shared = self.0.intersection(&other.0).count();
        let union = self.0.len() + other.0.len() - shared;
        if union == 0 {
            return 1.0;
        }
        shared as f32 / union as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_match_despite_case_spacing_and_a_changed_word() {
        let a =
            Fingerprint::of("Employees accrue twenty days of paid vacation per year, prorated for part-time staff.");
        let b =
            Fingerprint::of("employees accrue  twenty days of paid vacation per year; prorated for part-time STAFF");
        assert_eq!(a.similarity(&b), 1.0);
        let c =
            Fingerprint::of("Employees accrue thirty days of paid vacation per year, prorated for part-time staff.");
        assert!(a.similarity(&c) >= 0.5, "{}", a.similarity(&c));
    }

    #[test]
    fn passages_on_the_same_topic_are_not_copies() {
        let a = Fingerprint::of("Employees accrue twenty days of paid vacation per year.");
        let b = Fingerprint::of("Paid vacation requests go to your manager two weeks ahead.");
        assert!(a.similarity(&b) < 0.2, "{}", a.similarity(&b));
    }
}
