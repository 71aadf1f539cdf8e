//! Give it a question and its search hits (with the embeddings of the question and of every sentence
//! of the hits), get every sentence scored as evidence for the question, best first. The answer is
//! built around the best few: they and their neighbours are what the prompt quotes (`context`), the
//! best one is shown to the reader before the model has read anything, and how good it is decides
//! whether the question is answered at all.
//!
//! A sentence's score mixes what survives paraphrase (the cosine of its embedding with the question's)
//! with what a small model needs to find the answer (the question's content words in the sentence or
//! in its passage's title and heading, and a number where the question asks for one), less a little
//! per search rank so that ties go to the better hit.

use std::collections::HashSet;

use lore_retrieve::Hit;

use crate::sentences::{self, Sentence};
use crate::terms::{content_terms, coverage, facts, term_set, Fact};

/// Weights of the signals in a sentence's score. The two main ones count equally (the prior, as for the
/// retrieval fusion); the number bonus lifts "in 1724" over "since then" for a "when" question.
const SEMANTIC_WEIGHT: f32 = 0.5;
const LEXICAL_WEIGHT: f32 = 0.5;
const NUMBER_BONUS: f32 = 0.1;
const RANK_PENALTY: f32 = 0.02;

/// A sentence's meaning (embedding cosine) and words (coverage) as evidence for a question, counted
/// equally: the ranking's main signals, and the guard's source relevance.
pub fn blend(semantic: f32, lexical: f32) -> f32 {
    SEMANTIC_WEIGHT * semantic + LEXICAL_WEIGHT * lexical
}

/// The sentences of one hit, analysed once for ranking, selection and the check.
#[derive(Debug, Clone, Default)]
pub struct HitSentences {
    pub sentences: Vec<Sentence>,
    /// The analysed terms of each sentence.
    pub terms: Vec<HashSet<String>>,
    /// The terms of the hit's title and heading, which the prompt shows beside its text.
    pub label_terms: HashSet<String>,
    /// One embedding per sentence; empty when none were made.
    pub vectors: Vec<Vec<f32>>,
}

impl HitSentences {
    /// Splits and analyses every hit (no embeddings yet).
    pub fn of(hits: &[Hit]) -> Vec<Self> {
        hits.iter()
            .map(|hit| {
                let sentences = sentences::split(&hit.text);
                let mut label = hit.title.clone();
                if let Some(heading) = &hit.heading {
                    label.push(' ');
                    label.push_str(heading);
                }
                Self {
                    terms: sentences.iter().map(|s| term_set(&s.text)).collect(),
                    sentences,
                    label_terms: term_set(&label),
                    vectors: Vec::new(),
                }
            })
            .collect()
    }
}

/// One sentence's score as evidence for the question.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Index of the hit, and of the sentence in it.
    pub hit: usize,
    pub sentence: usize,
    pub score: f32,
    /// Cosine of the sentence's embedding with the question's (0 without embeddings).
    pub semantic: f32,
    /// Share of the question's content words in the sentence, its title and its heading.
    pub lexical: f32,
}

/// Every sentence of the hits, scored, best first.
#[derive(Debug, Clone, Default)]
pub struct Ranking {
    pub hits: Vec<HitSentences>,
    pub best_first: Vec<Scored>,
    /// The question's content terms, as the scores counted them.
    question_terms: Vec<String>,
    /// The question's embedding (empty without one): the guard compares the answer's sources with it.
    pub question_vector: Vec<f32>,
}

impl Ranking {
    /// Scores every sentence of `hits` for `question`. `question_vector` and the hits' `vectors`, when
    /// present, come from the same embedder (normalised: their dot product is the cosine).
    pub fn new(question: &str, question_vector: Option<&[f32]>, hits: Vec<HitSentences>) -> Self {
        let question_terms = content_terms(question);
        let wants_number = asks_for_number(question);
        let mut best_first = Vec::new();
        for (h, hit) in hits.iter().enumerate() {
            for (s, terms) in hit.terms.iter().enumerate() {
                let mut shown = terms.clone();
                shown.extend(hit.label_terms.iter().cloned());
                let lexical = if question_terms.is_empty() { 0.0 } else { coverage(&question_terms, &shown) };
                let semantic = match (question_vector, hit.vectors.get(s)) {
                    (Some(q), Some(v)) => dot(q, v).max(0.0),
                    _ => 0.0,
                };
                let has_number =
                    wants_number && facts(&hit.sentences[s].text).iter().any(|f| matches!(f, Fact::Number(_)));
                let score =
                    blend(semantic, lexical) + if has_number { NUMBER_BONUS } else { 0.0 } - RANK_PENALTY * h as f32;
                best_first.push(Scored { hit: h, sentence: s, score, semantic, lexical });
            }
        }
        best_first
            .sort_by(|a, b| b.score.total_cmp(&a.score).then(a.hit.cmp(&b.hit)).then(a.sentence.cmp(&b.sentence)));
        Self {
            hits,
            best_first,
            question_terms,
            question_vector: question_vector.map(<[f32]>::to_vec).unwrap_or_default(),
        }
    }

    pub fn best(&self) -> Option<&Scored> {
        self.best_first.first()
    }

    /// How well the hits answer the question, 0..1: the best sentence's meaning and the question's
    /// words in it or its passage (title and heading included), counted equally. A question whose
    /// subject is in the documents but whose answer is not scores low on both.
    pub fn evidence(&self) -> f32 {
        let semantic = self.best_first.iter().map(|s| s.semantic).fold(0.0, f32::max);
        let lexical = self
            .hits
            .iter()
            .map(|hit| {
                let mut shown: HashSet<String> = hit.terms.iter().flatten().cloned().collect();
                shown.extend(hit.label_terms.iter().cloned());
                coverage(&self.question_terms, &shown)
            })
            .fold(0.0, f32::max);
        blend(semantic, lexical)
    }
}

/// "When", "what year", "how many": questions whose answer is a number or a date.
fn asks_for_number(question: &str) -> bool {
    let lowered = question.to_lowercase();
    let words: Vec<&str> = lowered.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.windows(2).any(|w| {
        w[0] == "how" && matches!(w[1], "many" | "much" | "long" | "old" | "far" | "big" | "large" | "often")
            || w[0] == "what" && matches!(w[1], "year" | "percentage" | "percent" | "number" | "date" | "age")
    }) || words.iter().any(|w| matches!(*w, "when" | "year"))
}

pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit_sentences(title: &str, text: &str) -> HitSentences {
        let sentences = sentences::split(text);
        HitSentences {
            terms: sentences.iter().map(|s| term_set(&s.text)).collect(),
            sentences,
            label_terms: term_set(title),
            vectors: Vec::new(),
        }
    }

    #[test]
    fn the_sentence_with_the_questions_words_and_the_asked_for_number_ranks_first() {
        let hits = vec![
            hit_sentences(
                "Black Eagle Brewery",
                "The brewery is in London. It changed its name to Old Truman Brewery in 1724. Beer is brewed there.",
            ),
            hit_sentences("Eagles", "The black eagle is a bird of prey."),
        ];
        let ranking = Ranking::new("When did the Black Eagle Brewery change its name?", None, hits);
        let best = ranking.best().unwrap();
        assert_eq!((best.hit, best.sentence), (0, 1), "{:?}", ranking.best_first);
        assert!(asks_for_number("How many people live there?") && !asks_for_number("Who built it?"));
    }

    #[test]
    fn embeddings_lift_a_paraphrase_and_count_in_the_evidence() {
        let mut hits = vec![hit_sentences("Policy", "Staff can telecommute twice weekly. Desks are shared.")];
        let question = "How often may employees work from home?";
        let lexical_only = Ranking::new(question, None, hits.clone()).evidence();
        hits[0].vectors = vec![vec![0.8, 0.6], vec![0.0, 1.0]];
        let ranking = Ranking::new(question, Some(&[1.0, 0.0]), hits);
        assert_eq!((ranking.best().unwrap().hit, ranking.best().unwrap().sentence), (0, 0));
        assert!((ranking.best().unwrap().semantic - 0.8).abs() < 1e-6);
        assert!(ranking.evidence() > lexical_only + 0.39, "{}", ranking.evidence());
    }
}
