//! Give it the search hits and their sentences ranked as evidence (`evidence::Ranking`), get the
//! numbered passages a prompt quotes, within a token budget. Every prompt token costs time before the
//! first word (the default model reads about 140 a second on two cores), and a small model answers
//! better from a few sentences that matter than from whole chunks: the best evidence sentences go in
//! with their neighbours, while the budget lasts.

use std::collections::HashSet;

use lore_core::DocumentId;
use lore_retrieve::Hit;
use serde::Serialize;

use crate::evidence::Ranking;
use crate::sentences::Sentence;
use crate::terms::FactIndex;

/// Characters per token assumed while selecting; the prompt's real count is measured afterwards. English
/// prose is about four characters per token in the usual BPE vocabularies; code and tables less.
const CHARS_PER_TOKEN: f32 = 3.5;

/// Marks a gap between two selected sentences of one passage.
pub const GAP: &str = " … ";

/// One numbered passage of the prompt.
#[derive(Debug, Clone, Serialize)]
pub struct Passage {
    /// The number the prompt and the citations use, from 1.
    pub n: usize,
    pub document_id: DocumentId,
    pub document_path: String,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    pub heading: Option<String>,
    /// Character offset of the hit's chunk in the document's extracted text.
    #[serde(skip)]
    pub chunk_start: usize,
    /// The hit's whole chunk; sentence spans index into it.
    #[serde(skip)]
    pub chunk_text: String,
    /// The selected sentences, in their order in the chunk.
    pub sentences: Vec<Sentence>,
    /// What the prompt quotes: the sentences, with [`GAP`] where some were left out.
    pub text: String,
    #[serde(skip)]
    pub terms: HashSet<String>,
    /// The content terms of each of `sentences`, in order: the guard compares every answer sentence
    /// with every passage sentence, so they are analysed once, here.
    #[serde(skip)]
    pub sentence_terms: Vec<HashSet<String>>,
    #[serde(skip)]
    pub facts: FactIndex,
    /// The embedding of each of `sentences`, in order, when they were embedded for ranking (the check
    /// reuses them); empty otherwise.
    #[serde(skip)]
    pub sentence_vectors: Vec<Vec<f32>>,
    /// The hit this passage is from (its index in the search results), and the index of each of
    /// `sentences` among the hit's sentences.
    #[serde(skip)]
    pub hit: usize,
    #[serde(skip)]
    pub sentence_indexes: Vec<usize>,
}

impl Passage {
    /// Document character span of one of this passage's sentences.
    pub fn document_span(&self, sentence: &Sentence) -> (usize, usize) {
        (self.chunk_start + sentence.start, self.chunk_start + sentence.end)
    }

    /// The chunk's text from the start of sentence `first` to the end of sentence `last` (gaps included).
    pub fn quote(&self, first: &Sentence, last: &Sentence) -> String {
        self.chunk_text.chars().skip(first.start).take(last.end.saturating_sub(first.start)).collect()
    }
}

/// Picks the sentences of `hits` the prompt quotes, within `budget_tokens`: the best evidence first
/// (`ranking`), each with the sentences just before and after it (an answer often sits next to the
/// sentence that names its subject), while the budget lasts. The passage holding the best sentence is
/// passage 1, so a small model reads the likeliest answer first.
pub fn select(hits: &[Hit], ranking: &Ranking, budget_tokens: usize) -> Vec<Passage> {
    let budget_chars = (budget_tokens as f32 * CHARS_PER_TOKEN) as usize;
    let split = &ranking.hits;
    let mut chosen: Vec<Vec<bool>> = split.iter().map(|h| vec![false; h.sentences.len()]).collect();
    let mut used = 0usize;
    let take = |hit: usize, index: usize, chosen: &mut Vec<Vec<bool>>, used: &mut usize| {
        let Some(sentence) = split.get(hit).and_then(|h| h.sentences.get(index)) else { return };
        let cost = sentence.text.chars().count() + 1;
        // The best sentence is always read, even when it alone is over the budget.
        if chosen[hit][index] || (*used > 0 && *used + cost > budget_chars) {
            return;
        }
        chosen[hit][index] = true;
        *used += cost;
    };
    for scored in &ranking.best_first {
        if used >= budget_chars {
            break;
        }
        take(scored.hit, scored.sentence, &mut chosen, &mut used);
        if chosen[scored.hit][scored.sentence] {
            if let Some(before) = scored.sentence.checked_sub(1) {
                take(scored.hit, before, &mut chosen, &mut used);
            }
            take(scored.hit, scored.sentence + 1, &mut chosen, &mut used);
        }
    }

    // Passages in the order of their best sentence.
    let mut order: Vec<usize> = Vec::new();
    for scored in &ranking.best_first {
        if chosen[scored.hit].iter().any(|c| *c) && !order.contains(&scored.hit) {
            order.push(scored.hit);
        }
    }
    let mut passages = Vec::new();
    for hit_index in order {
        let (Some(hit), Some(analysed)) = (hits.get(hit_index), split.get(hit_index)) else { continue };
        let kept: Vec<usize> = (0..analysed.sentences.len()).filter(|&i| chosen[hit_index][i]).collect();
        let mut text = String::new();
        let mut previous: Option<usize> = None;
        for &index in &kept {
            match previous {
                None if index > 0 => text.push_str(GAP.trim_start()),
                None => {}
                Some(p) if p + 1 == index => text.push(' '),
                Some(_) => text.push_str(GAP),
            }
            text.push_str(&analysed.sentences[index].text);
            previous = Some(index);
        }
        let sentence_terms: Vec<HashSet<String>> = kept.iter().map(|&i| analysed.terms[i].clone()).collect();
        passages.push(Passage {
            n: passages.len() + 1,
            document_id: hit.document_id,
            document_path: hit.document_path.clone(),
            title: hit.title.clone(),
            source: hit.source.clone(),
            page: hit.page,
            heading: hit.heading.clone(),
            chunk_start: hit.start,
            chunk_text: hit.text.clone(),
            // The union of the sentences' terms: the text is those sentences, so no second analysis.
            terms: sentence_terms.iter().flatten().cloned().collect(),
            facts: FactIndex::of(&text),
            sentences: kept.iter().map(|&i| analysed.sentences[i].clone()).collect(),
            sentence_vectors: kept.iter().filter_map(|&i| analysed.vectors.get(i).cloned()).collect(),
            hit: hit_index,
            sentence_indexes: kept,
            sentence_terms,
            text,
        });
    }
    passages
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::evidence::HitSentences;
    use crate::sentences;
    use crate::terms::term_set;
    use lore_core::{ChunkId, DocumentKind};
    use lore_retrieve::snippet::Snippet;

    /// A passage of `text` from "Doc n", as `select` makes them.
    pub(crate) fn passage(n: usize, text: &str) -> Passage {
        let sentences = sentences::split(text);
        Passage {
            n,
            document_id: DocumentId(n as i64),
            document_path: format!("doc{n}.md"),
            title: format!("Doc {n}"),
            source: "s".into(),
            page: None,
            heading: None,
            chunk_start: 100,
            chunk_text: text.into(),
            sentence_terms: sentences.iter().map(|s| term_set(&s.text)).collect(),
            sentence_indexes: (0..sentences.len()).collect(),
            sentences,
            text: text.into(),
            terms: term_set(text),
            facts: FactIndex::of(text),
            sentence_vectors: Vec::new(),
            hit: n.saturating_sub(1),
        }
    }

    pub(crate) fn hit(n: usize, title: &str, text: &str) -> Hit {
        Hit {
            chunk_id: ChunkId(n as u64),
            document_id: DocumentId(n as i64),
            source: "s".into(),
            kind: DocumentKind::Markdown,
            document_path: format!("doc{n}.md"),
            title: title.into(),
            page: None,
            heading: None,
            text: text.into(),
            snippet: Snippet::default(),
            score: 1.0,
            start: 0,
            end: text.chars().count(),
            also_in: Vec::new(),
        }
    }

    #[test]
    fn the_best_sentence_leads_with_its_neighbours_and_the_budget_holds() {
        let hits = [
            hit(
                1,
                "Kitchen",
                "The kitchen has a fridge. Coffee is free. The microwave is new. Tea is in the cupboard.",
            ),
            hit(
                2,
                "Network",
                "Printers are on every floor. The guest network is called Lobby. Its wifi password is pineapple. \
                 Cables are in the store room. Laptops are lent by the help desk.",
            ),
        ];
        let question = "What is the wifi password of the guest network?";
        let ranking = Ranking::new(question, None, HitSentences::of(&hits));
        let passages = select(&hits, &ranking, 30);
        assert_eq!(passages[0].title, "Network", "{passages:?}");
        assert_eq!(
            passages[0].text,
            "… The guest network is called Lobby. Its wifi password is pineapple. Cables are in the store room."
        );
        assert_eq!(passages[0].sentence_indexes, [1, 2, 3]);
        let chars: usize =
            passages.iter().map(|p| p.sentences.iter().map(|s| s.text.chars().count() + 1).sum::<usize>()).sum();
        assert!(chars <= (30.0 * CHARS_PER_TOKEN) as usize, "{chars}");
        // A budget too small for anything still reads the best sentence.
        let tiny = select(&hits, &ranking, 1);
        assert_eq!(tiny.len(), 1);
        assert_eq!(tiny[0].text, "… Its wifi password is pineapple.");
    }
}
