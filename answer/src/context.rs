//! Give it a question and its search hits, get the numbered passages a prompt quotes, within a token
//! budget. The default small model reads a prompt at about 20 tokens a second on two cores, so whole
//! chunks of five hits (1,500+ tokens) would cost over a minute before the first word: the sentences
//! that share the most words with the question go in first, then their neighbours in the best hits,
//! while the budget lasts.

use std::collections::HashSet;

use lore_core::DocumentId;
use lore_retrieve::Hit;
use serde::Serialize;

use crate::sentences::{self, Sentence};
use crate::terms::{content_terms, coverage, term_set, FactIndex};

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

/// Picks sentences of `hits` (best first) for `question` within `budget_tokens`.
pub fn select(question: &str, hits: &[Hit], budget_tokens: usize) -> Vec<Passage> {
    let question_terms = content_terms(question);
    let budget_chars = (budget_tokens as f32 * CHARS_PER_TOKEN) as usize;
    let split: Vec<Vec<Sentence>> = hits.iter().map(|hit| sentences::split(&hit.text)).collect();
    let mut split_terms: Vec<Vec<HashSet<String>>> =
        split.iter().map(|sentences| sentences.iter().map(|s| term_set(&s.text)).collect()).collect();
    let mut chosen: Vec<Vec<bool>> = split.iter().map(|s| vec![false; s.len()]).collect();
    let mut used = 0usize;
    let mut take = |hit: usize, index: usize, chosen: &mut Vec<Vec<bool>>| {
        let cost = split[hit][index].text.chars().count() + 1;
        if chosen[hit][index] || used + cost > budget_chars {
            return false;
        }
        chosen[hit][index] = true;
        used += cost;
        true
    };

    // First the sentences that match the question, best first; the hit's rank breaks ties.
    let mut matching: Vec<(f32, usize, usize)> = Vec::new();
    for (hit, sentence_terms) in split_terms.iter().enumerate() {
        for (index, terms) in sentence_terms.iter().enumerate() {
            let score = coverage(&question_terms, terms);
            if score > 0.0 && !question_terms.is_empty() {
                matching.push((score - hit as f32 * 0.05, hit, index));
            }
        }
    }
    matching.sort_by(|a, b| b.0.total_cmp(&a.0));
    for &(_, hit, index) in &matching {
        take(hit, index, &mut chosen);
    }
    // A hit with no matching words still leads with its first sentence (the vector search found it).
    for hit in 0..split.len() {
        if !split[hit].is_empty() && !chosen[hit].iter().any(|c| *c) {
            take(hit, 0, &mut chosen);
        }
    }
    // Then context around what was chosen, in the best hits first: answers often sit in the sentence
    // after the one that names the subject.
    for hit in 0..split.len() {
        let mut grew = true;
        while grew {
            grew = false;
            for index in 0..split[hit].len() {
                let beside_chosen =
                    (index > 0 && chosen[hit][index - 1]) || (index + 1 < split[hit].len() && chosen[hit][index + 1]);
                if !chosen[hit][index] && beside_chosen && take(hit, index, &mut chosen) {
                    grew = true;
                }
            }
        }
    }

    let mut passages = Vec::new();
    for (hit_index, (hit, sentences)) in hits.iter().zip(split).enumerate() {
        let kept: Vec<(usize, Sentence, HashSet<String>)> = sentences
            .into_iter()
            .zip(std::mem::take(&mut split_terms[hit_index]))
            .enumerate()
            .filter(|(i, _)| chosen[hit_index][*i])
            .map(|(i, (sentence, terms))| (i, sentence, terms))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let mut text = String::new();
        let mut previous: Option<usize> = None;
        for (index, sentence, _) in &kept {
            match previous {
                None if *index > 0 => text.push_str(GAP.trim_start()),
                None => {}
                Some(p) if p + 1 == *index => text.push(' '),
                Some(_) => text.push_str(GAP),
            }
            text.push_str(&sentence.text);
            previous = Some(*index);
        }
        let (sentences, sentence_terms): (Vec<Sentence>, Vec<HashSet<String>>) =
            kept.into_iter().map(|(_, sentence, terms)| (sentence, terms)).unzip();
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
            sentences,
            sentence_terms,
            text,
        });
    }
    passages
}

/// How well the passages cover the question: the best passage's share of the question's content words,
/// counting the title and heading the prompt shows with it ("Which port does the VPN use?" is covered
/// by "UDP port 51820" under "VPN setup"). Low values mean the search found related text, not an answer.
pub fn evidence(question: &str, passages: &[Passage]) -> f32 {
    let terms = content_terms(question);
    passages
        .iter()
        .map(|p| {
            let mut shown = term_set(&crate::prompt::label(p));
            shown.extend(p.terms.iter().cloned());
            coverage(&terms, &shown)
        })
        .fold(0.0, f32::max)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

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
            sentences,
            text: text.into(),
            terms: term_set(text),
            facts: FactIndex::of(text),
        }
    }

    #[test]
    fn evidence_is_the_best_passage_share_of_question_words_with_its_title() {
        let question = "Which UDP port does the VPN use?";
        let mut vpn = passage(1, "The tunnel uses UDP port 51820.");
        assert_eq!(evidence(question, &[vpn.clone()]), 0.75);
        vpn.title = "VPN setup".into();
        let printer = passage(2, "The printer uses port 9100.");
        assert_eq!(evidence(question, &[printer, vpn]), 1.0);
        assert_eq!(evidence("What is the capital of Peru?", &[passage(3, "Lima has a port.")]), 0.0);
    }
}
