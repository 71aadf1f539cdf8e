//! Near-duplicate detection: give it two passages, get how much of their wording they share. The same
//! paragraph pasted into two documents (or a file copied into two folders) shows once in the results.

/// Words per shingle: long enough that two passages on one topic do not look alike, short enough that
/// a changed word or a shifted chunk boundary does not hide a copy.
const SHINGLE_WORDS: usize = 3;

/// The word shingles of a passage (case and punctuation ignored), as sorted distinct hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fingerprint(Vec<u64>);

/// FNV-1a over a word's lower-cased characters: no allocation per word.
fn word_hash(word: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in word.chars().flat_map(char::to_lowercase) {
        hash = (hash ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

impl Fingerprint {
    pub fn of(text: &str) -> Self {
        let words: Vec<u64> =
            text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).map(word_hash).collect();
        let combine = |window: &[u64]| {
            window.iter().fold(0u64, |acc, &h| acc.rotate_left(21) ^ h.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        };
        let mut shingles: Vec<u64> = if words.len() < SHINGLE_WORDS {
            vec![combine(&words)]
        } else {
            words.windows(SHINGLE_WORDS).map(combine).collect()
        };
        shingles.sort_unstable();
        shingles.dedup();
        Self(shingles)
    }

    /// Jaccard similarity of the two shingle sets, 0..1.
    pub fn similarity(&self, other: &Fingerprint) -> f32 {
        let (a, b) = (&self.0, &other.0);
        let (mut i, mut j, mut shared) = (0, 0, 0);
        while i < a.len() && j < b.len() {
            match a[i].cmp(&b[j]) {
                std::cmp::Ordering::Less => i += 1,
                std::cmp::Ordering::Greater => j += 1,
                std::cmp::Ordering::Equal => {
                    shared += 1;
                    i += 1;
                    j += 1;
                }
            }
        }
        let union = a.len() + b.len() - shared;
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
