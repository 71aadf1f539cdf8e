//! The grounding check: give it the model's answer and the passages it was given, get every sentence
//! judged against the passages. A sentence is supported by a passage when enough of its words appear
//! there (lexical) or its meaning is close to one of the passage's sentences (embedding), and every
//! number, date and name it states appears in that passage, together: its numbers and the question's
//! in one passage sentence, its names there or next to it. Citations that point at a passage which
//! does not support the sentence are moved to one that does, or dropped; unsupported sentences are
//! flagged or removed.

use lore_core::config::{AnswerConfig, UnsupportedSentences};
use serde::Serialize;

use crate::context::Passage;
use crate::evidence;
use crate::sentences;
use crate::terms::{content_terms, coverage, facts, term_set, Fact, FactIndex};

/// A sentence of the answer as the model wrote it, its citations taken out.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub text: String,
    pub cited: Vec<usize>,
}

/// Where in a passage an answer sentence finds its support.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Support {
    /// The passage's number.
    pub n: usize,
    /// Index of the passage sentence that supports best.
    #[serde(skip)]
    pub sentence: usize,
    /// 0..1: how well the passage supports the sentence.
    pub score: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckedSentence {
    pub text: String,
    /// Passages the model cited.
    pub cited: Vec<usize>,
    /// Passages cited after the check: those that support the sentence.
    pub citations: Vec<usize>,
    /// 0..1, the best passage's support.
    pub support: f32,
    pub supported: bool,
    /// Left out of the answer (`answer.unsupported = "remove"`).
    pub removed: bool,
    /// Numbers and names of the sentence that no supporting passage contains.
    pub missing_facts: Vec<String>,
    /// Unsupported only because its facts (with the question's numbers) are not together in one
    /// passage sentence, though a passage holds them all and says something similar.
    pub facts_apart: bool,
    /// Where each citation's support is.
    #[serde(skip)]
    pub evidence: Vec<Support>,
    /// Whether the sentence states anything to check (not "Yes." or "In short:").
    #[serde(skip)]
    pub checkable: bool,
}

/// How much the passage sentences that support the answer speak of what was asked, 0..1: for each
/// supporting sentence, its embedding's cosine with the question's blended with the share of the
/// question's content words in it and its passage's title and heading (as the evidence ranking does:
/// words alone when there are no embeddings), the best over the answer's kept sentences. `None` when
/// no sentence is supported. Low when the model copied a fact from a sentence about something else,
/// as a small model does for a question its passages come close to but do not answer. Neighbouring
/// sentences do not count: on SQuAD they separated answerable from unanswerable questions worse
/// (BENCHMARKS.md, issue 14).
pub fn source_relevance(
    question: &str,
    question_vector: &[f32],
    sentences: &[CheckedSentence],
    passages: &[Passage],
) -> Option<f32> {
    let wanted = content_terms(question);
    sentences
        .iter()
        .filter(|s| s.supported && s.checkable && !s.removed)
        .flat_map(|s| s.evidence.iter())
        .filter_map(|support| {
            let passage = passages.iter().find(|p| p.n == support.n)?;
            let mut shown = passage.sentence_terms.get(support.sentence)?.clone();
            shown.extend(term_set(&format!("{} {}", passage.title, passage.heading.as_deref().unwrap_or(""))));
            let lexical = coverage(&wanted, &shown);
            Some(match passage.sentence_vectors.get(support.sentence) {
                Some(vector) if !question_vector.is_empty() => {
                    evidence::blend(evidence::dot(question_vector, vector).max(0.0), lexical)
                }
                _ => lexical,
            })
        })
        .reduce(f32::max)
}

/// Splits an answer into sentences and takes their `[n]` citations out. Citations that open a sentence
/// ("... 1066. [2] Then ...") belong to the sentence before.
pub fn drafts(answer: &str) -> Vec<Draft> {
    let mut drafts: Vec<Draft> = Vec::new();
    for sentence in sentences::split(answer) {
        let (leading, text, cited) = take_citations(&sentence.text);
        if let Some(previous) = drafts.last_mut() {
            previous.cited.extend(leading);
        }
        if text.chars().any(char::is_alphanumeric) {
            drafts.push(Draft { text, cited });
        } else if let Some(previous) = drafts.last_mut() {
            previous.cited.extend(cited);
        }
    }
    for draft in &mut drafts {
        draft.cited.dedup();
    }
    drafts
}

/// `(citations opening the text, text without citations, the other citations)`.
fn take_citations(sentence: &str) -> (Vec<usize>, String, Vec<usize>) {
    let mut leading = Vec::new();
    let mut cited = Vec::new();
    let mut text = String::new();
    let mut rest = sentence;
    let mut at_start = true;
    while let Some(open) = rest.find('[') {
        let Some(close) = rest[open..].find(']').map(|c| open + c) else { break };
        let inside = &rest[open + 1..close];
        let numbers: Option<Vec<usize>> = inside
            .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(|p| p.trim().parse().ok())
            .collect();
        text.push_str(&rest[..open]);
        match numbers.filter(|n| !n.is_empty()) {
            Some(numbers) => {
                if at_start && text.trim().is_empty() {
                    leading.extend(numbers);
                } else {
                    cited.extend(numbers);
                }
            }
            None => text.push_str(&rest[open..=close]),
        }
        if !text.trim().is_empty() {
            at_start = false;
        }
        rest = &rest[close + 1..];
    }
    text.push_str(rest);
    let text = tidy(&text);
    (leading, text, cited)
}

/// Collapses the spaces citations leave behind, and a space before closing punctuation.
fn tidy(text: &str) -> String {
    let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut out = String::with_capacity(collapsed.len());
    for c in collapsed.chars() {
        if matches!(c, '.' | ',' | ';' | ':' | '!' | '?') && out.ends_with(' ') {
            out.pop();
        }
        out.push(c);
    }
    out
}

/// What one passage offers the fact check: each sentence's facts, and its label's (title, heading).
struct PassageFacts {
    sentences: Vec<FactIndex>,
    label: FactIndex,
}

impl PassageFacts {
    fn of(passage: &Passage) -> Self {
        Self {
            sentences: passage.sentences.iter().map(|s| FactIndex::of(&s.text)).collect(),
            label: FactIndex::of(&crate::prompt::label(passage)),
        }
    }
}

/// Whether the facts of an answer sentence stand together in the passage as they do in the answer:
/// its numbers and the question's (the qualifiers: "in 1990", "the 2004 season") all in one passage
/// sentence, its names in that sentence, a neighbour or the passage's title. Present somewhere is not
/// enough: a passage giving one figure in general and another for the case asked about supports only
/// the second.
fn facts_together(draft_facts: &[Fact], qualifiers: &[Fact], passage: &Passage, facts: &PassageFacts) -> bool {
    if draft_facts.is_empty() {
        return true;
    }
    let numbers: Vec<&Fact> = draft_facts.iter().chain(qualifiers).filter(|f| matches!(f, Fact::Number(_))).collect();
    let names: Vec<&Fact> = draft_facts.iter().filter(|f| matches!(f, Fact::Name(_))).collect();
    let neighbours = |i: usize| {
        let at = passage.sentence_indexes.get(i).copied();
        (0..facts.sentences.len()).filter(move |&j| {
            j == i || matches!((at, passage.sentence_indexes.get(j)), (Some(a), Some(&b)) if a.abs_diff(b) <= 1)
        })
    };
    (0..facts.sentences.len()).any(|i| {
        numbers.iter().all(|f| facts.sentences[i].contains(f))
            && names.iter().all(|f| facts.label.contains(f) || neighbours(i).any(|j| facts.sentences[j].contains(f)))
    })
}

/// The support of `draft` by `passage`, and the passage's best sentence for it: the one that holds the
/// draft's facts first (an answer of one number has no words to compare), then the most similar.
fn support_in(
    draft_terms: &[String],
    draft_facts: &[Fact],
    draft_vector: Option<&[f32]>,
    passage: &Passage,
    facts: &PassageFacts,
    passage_vectors: Option<&[Vec<f32>]>,
) -> (f32, f32, usize, Vec<String>) {
    let lexical = coverage(draft_terms, &passage.terms);
    let mut best_sentence = 0;
    let mut best_sentence_score = f32::MIN;
    let mut semantic = 0.0f32;
    for (index, sentence_terms) in passage.sentence_terms.iter().enumerate() {
        let cosine = match (draft_vector, passage_vectors.and_then(|v| v.get(index))) {
            (Some(a), Some(b)) => evidence::dot(a, b),
            _ => 0.0,
        };
        semantic = semantic.max(cosine);
        let holds_facts = !draft_facts.is_empty()
            && facts.sentences.get(index).is_some_and(|found| draft_facts.iter().all(|f| found.contains(f)));
        let score = cosine + coverage(draft_terms, sentence_terms) + if holds_facts { 2.0 } else { 0.0 };
        if score > best_sentence_score {
            best_sentence_score = score;
            best_sentence = index;
        }
    }
    let missing: Vec<String> = draft_facts.iter().filter(|f| !passage.facts.contains(f)).map(fact_text).collect();
    (lexical, semantic, best_sentence, missing)
}

fn fact_text(fact: &Fact) -> String {
    match fact {
        Fact::Number(n) | Fact::Name(n) => n.clone(),
    }
}

/// Embeddings for the check: one per draft, and per passage one per sentence. Without them only the
/// lexical and fact checks run.
#[derive(Debug, Clone, Default)]
pub struct Vectors {
    pub drafts: Vec<Vec<f32>>,
    pub passages: Vec<Vec<Vec<f32>>>,
}

/// Judges each draft sentence against every passage, for `question` (whose numbers a sentence's
/// facts must stand with).
pub fn check(
    question: &str,
    drafts: &[Draft],
    passages: &[Passage],
    vectors: &Vectors,
    config: &AnswerConfig,
) -> Vec<CheckedSentence> {
    let qualifiers: Vec<Fact> = facts(question).into_iter().filter(|f| matches!(f, Fact::Number(_))).collect();
    let passage_facts: Vec<PassageFacts> = passages.iter().map(PassageFacts::of).collect();
    drafts
        .iter()
        .enumerate()
        .map(|(index, draft)| {
            let facts = facts(&draft.text);
            // Numbers are checked as facts, which also find them written as words ("5" in "five").
            let terms: Vec<String> =
                content_terms(&draft.text).into_iter().filter(|t| !t.chars().all(|c| c.is_ascii_digit())).collect();
            let checkable = !terms.is_empty() || !facts.is_empty();
            let draft_vector = vectors.drafts.get(index).map(Vec::as_slice);
            let mut judged: Vec<(Support, bool, Vec<String>, bool)> = passages
                .iter()
                .enumerate()
                .map(|(p, passage)| {
                    let (lexical, semantic, sentence, missing) = support_in(
                        &terms,
                        &facts,
                        draft_vector,
                        passage,
                        &passage_facts[p],
                        vectors.passages.get(p).map(Vec::as_slice),
                    );
                    let found = if facts.is_empty() { 1.0 } else { 1.0 - missing.len() as f32 / facts.len() as f32 };
                    let together =
                        missing.is_empty() && facts_together(&facts, &qualifiers, passage, &passage_facts[p]);
                    let score = ((0.5 * lexical + 0.5 * semantic.max(0.0)) * found * if together { 1.0 } else { 0.5 })
                        .clamp(0.0, 1.0);
                    let similar = lexical >= config.min_lexical_support || semantic >= config.min_semantic_support;
                    let supported = together && similar;
                    let apart = missing.is_empty() && !together && similar;
                    (Support { n: passage.n, sentence, score }, supported, missing, apart)
                })
                .collect();
            judged.sort_by(|a, b| b.1.cmp(&a.1).then(b.0.score.total_cmp(&a.0.score)));
            let supporting: Vec<Support> = judged.iter().filter(|j| j.1).map(|j| j.0).collect();
            let cited_supporting: Vec<Support> =
                supporting.iter().filter(|s| draft.cited.contains(&s.n)).copied().collect();
            let evidence = if !cited_supporting.is_empty() {
                cited_supporting
            } else {
                // The model cited the wrong passage, or none: the best supporting one takes its place.
                supporting.first().copied().into_iter().collect()
            };
            let supported = !checkable || !evidence.is_empty();
            let support = if checkable { judged.first().map_or(0.0, |j| j.0.score) } else { 1.0 };
            let missing_facts =
                if supported { Vec::new() } else { judged.first().map(|j| j.2.clone()).unwrap_or_default() };
            let facts_apart = !supported && judged.iter().any(|j| j.3);
            CheckedSentence {
                text: draft.text.clone(),
                cited: draft.cited.clone(),
                citations: if checkable { evidence.iter().map(|s| s.n).collect() } else { draft.cited.clone() },
                support,
                supported,
                removed: !supported && config.unsupported == UnsupportedSentences::Remove,
                missing_facts,
                facts_apart,
                evidence,
                checkable,
            }
        })
        .collect()
}

/// The answer text after the check: kept sentences with their corrected citations.
pub fn render(sentences: &[CheckedSentence], with_citations: impl Fn(&CheckedSentence) -> Vec<usize>) -> String {
    let mut out = String::new();
    for sentence in sentences.iter().filter(|s| !s.removed) {
        if !out.is_empty() {
            out.push(' ');
        }
        let citations: String = with_citations(sentence).iter().map(|n| format!("[{n}]")).collect();
        let text = sentence.text.trim_end();
        match text.char_indices().last() {
            _ if citations.is_empty() => out.push_str(text),
            Some((i, c)) if matches!(c, '.' | '!' | '?') => {
                out.push_str(text[..i].trim_end());
                out.push(' ');
                out.push_str(&citations);
                out.push(c);
            }
            _ => {
                out.push_str(text);
                out.push(' ');
                out.push_str(&citations);
            }
        }
    }
    out
}

/// The answer's support: the mean of its kept, checkable sentences' support (0 when none is left).
pub fn answer_support(sentences: &[CheckedSentence]) -> f32 {
    let kept: Vec<f32> = sentences.iter().filter(|s| !s.removed && s.checkable).map(|s| s.support).collect();
    if kept.is_empty() {
        0.0
    } else {
        kept.iter().sum::<f32>() / kept.len() as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::tests::passage;

    fn config(unsupported: UnsupportedSentences) -> AnswerConfig {
        AnswerConfig { unsupported, ..AnswerConfig::default() }
    }

    #[test]
    fn drafts_take_citations_out_and_give_leading_ones_to_the_sentence_before() {
        let drafts = drafts("The Normans took Sicily in 1091 [1]. They ruled it. [2, 3] Done [x].");
        assert_eq!(
            drafts,
            [
                Draft { text: "The Normans took Sicily in 1091.".into(), cited: vec![1] },
                Draft { text: "They ruled it.".into(), cited: vec![2, 3] },
                Draft { text: "Done [x].".into(), cited: vec![] },
            ]
        );
    }

    #[test]
    fn a_supported_sentence_keeps_its_citation_and_a_wrong_one_is_corrected() {
        let passages = [
            passage(1, "Bread needs flour and water. It bakes for 40 minutes."),
            passage(2, "The Normans conquered Sicily in 1091 after thirty years."),
        ];
        let drafts = drafts("The Normans conquered Sicily in 1091 [1]. Bread bakes for 40 minutes [1].");
        let checked = check("", &drafts, &passages, &Vectors::default(), &config(UnsupportedSentences::Remove));
        assert!(checked.iter().all(|s| s.supported && !s.removed));
        assert_eq!(checked[0].citations, [2]);
        assert_eq!(checked[1].citations, [1]);
        assert_eq!(
            render(&checked, |s| s.citations.clone()),
            "The Normans conquered Sicily in 1091 [2]. Bread bakes for 40 minutes [1]."
        );
    }

    #[test]
    fn a_sentence_with_a_number_or_name_no_passage_has_is_unsupported() {
        let passages = [passage(1, "The Normans conquered Sicily in 1091 after thirty years.")];
        let drafts = drafts("The Normans conquered Sicily in 1092 [1]. The Saxons conquered Sicily [1].");
        let removed = check("", &drafts, &passages, &Vectors::default(), &config(UnsupportedSentences::Remove));
        assert!(removed.iter().all(|s| !s.supported && s.removed && s.citations.is_empty()));
        assert_eq!(removed[0].missing_facts, ["1092"]);
        assert_eq!(removed[1].missing_facts, ["saxons"]);
        assert_eq!(render(&removed, |s| s.citations.clone()), "");
        assert_eq!(answer_support(&removed), 0.0);
        let flagged = check("", &drafts, &passages, &Vectors::default(), &config(UnsupportedSentences::Flag));
        assert!(flagged.iter().all(|s| !s.supported && !s.removed));
    }

    #[test]
    fn a_bare_number_is_supported_by_the_passage_that_states_it_even_in_words() {
        let passages = [
            passage(1, "The Normans raided Paris in 845."),
            passage(2, "Gegeen was assassinated in a coup involving five princes from a rival faction."),
        ];
        let checked = check("", &drafts("5"), &passages, &Vectors::default(), &config(UnsupportedSentences::Remove));
        assert!(checked[0].supported, "{checked:?}");
        assert_eq!(checked[0].citations, [2]);
        let checked = check("", &drafts("6"), &passages, &Vectors::default(), &config(UnsupportedSentences::Remove));
        assert!(!checked[0].supported);
    }

    #[test]
    fn a_figure_for_another_case_than_the_one_asked_about_is_unsupported() {
        let passages = [passage(
            1,
            "The company has 4,000 employees worldwide. In 2019 it had 2,500 employees. Its founder, Ada Lind, retired.",
        )];
        let question = "How many employees did the company have in 2019?";
        let config = config(UnsupportedSentences::Remove);
        let general =
            check(question, &drafts("The company had 4,000 employees."), &passages, &Vectors::default(), &config);
        assert!(!general[0].supported, "{general:?}");
        let asked =
            check(question, &drafts("The company had 2,500 employees."), &passages, &Vectors::default(), &config);
        assert!(asked[0].supported, "{asked:?}");
        // A name may sit in the sentence next to the figure ("Its founder, Ada Lind" / "In 2019 ...").
        let named =
            check("", &drafts("Ada Lind's company had 2,500 employees."), &passages, &Vectors::default(), &config);
        assert!(named[0].supported, "{named:?}");
    }

    #[test]
    fn embeddings_support_a_paraphrase_the_words_miss() {
        let passages = [passage(1, "Employees may work from home two days a week.")];
        let drafts = drafts("Staff can telecommute twice weekly [1].");
        let lexical_only = check("", &drafts, &passages, &Vectors::default(), &config(UnsupportedSentences::Remove));
        assert!(!lexical_only[0].supported);
        let vectors = Vectors { drafts: vec![vec![1.0, 0.0]], passages: vec![vec![vec![0.8, 0.6]]] };
        let with_vectors = check("", &drafts, &passages, &vectors, &config(UnsupportedSentences::Remove));
        assert!(with_vectors[0].supported);
        assert_eq!(with_vectors[0].citations, [1]);
    }

    #[test]
    fn an_answer_from_a_sentence_about_something_else_has_low_source_relevance() {
        let mut passages = [passage(
            1,
            "The Protestant Reformation reached the country late. In 1294 the king quarrelled with the pope over taxes.",
        )];
        let question = "In what year did the Protestant Reformation reach France?";
        let config = config(UnsupportedSentences::Remove);
        let copied = check(question, &drafts("1294"), &passages, &Vectors::default(), &config);
        let relevance = source_relevance(question, &[], &copied, &passages).unwrap();
        assert!(relevance < 0.3, "the 1294 sentence is about taxes: {relevance} {copied:?}");

        let on_topic = check(
            question,
            &drafts("The Reformation reached the country late."),
            &passages,
            &Vectors::default(),
            &config,
        );
        assert!(source_relevance(question, &[], &on_topic, &passages).unwrap() >= 0.5);

        // A heading counts as part of what a sentence speaks of ("It costs 40 euros." under "Parking fee").
        passages[0] = passage(1, "It costs 40 euros a month.");
        let fee = check("How much is the parking fee?", &drafts("40 euros"), &passages, &Vectors::default(), &config);
        assert!(source_relevance("How much is the parking fee?", &[], &fee, &passages).unwrap() < 0.3);
        passages[0].heading = Some("Parking fee".into());
        assert!(source_relevance("How much is the parking fee?", &[], &fee, &passages).unwrap() >= 0.5);
        assert_eq!(source_relevance(question, &[], &[], &passages), None, "nothing supported, nothing to judge");

        // A paraphrase shares no words with its source, but its meaning: the embeddings carry it.
        passages[0] = passage(1, "Employees may work from home two days a week.");
        passages[0].sentence_vectors = vec![vec![0.8, 0.6]];
        let asked = "How often can staff telecommute?";
        let vectors = Vectors { drafts: vec![vec![0.8, 0.6]], passages: vec![passages[0].sentence_vectors.clone()] };
        let twice = check(asked, &drafts("Two days a week."), &passages, &vectors, &config);
        assert!(source_relevance(asked, &[], &twice, &passages).unwrap() < 0.3, "words alone miss it");
        assert!(source_relevance(asked, &[1.0, 0.0], &twice, &passages).unwrap() >= 0.4);
    }
}
