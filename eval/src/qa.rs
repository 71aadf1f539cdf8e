//! Question answering evaluation data and scoring: SQuAD v2 questions with their gold paragraphs and
//! answers (or none), SQuAD's answer normalisation, and the rates `lore eval answers` reports.

use std::path::Path;

use serde::Serialize;

use crate::dataset::{EvalDocument, Squad};
use crate::metrics::percentile;
use crate::EvalError;

#[derive(Debug, Clone, PartialEq)]
pub struct QaQuestion {
    pub id: String,
    pub text: String,
    /// The paragraph that holds the answer; `None` for unanswerable questions.
    pub gold_document: Option<String>,
    /// Accepted answers (SQuAD's `answers[].text`); empty for unanswerable questions.
    pub answers: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QaSet {
    pub documents: Vec<EvalDocument>,
    pub questions: Vec<QaQuestion>,
}

impl QaSet {
    /// SQuAD v2 JSON: the documents as `Dataset::from_squad` makes them, and every question.
    pub fn from_squad(path: &Path) -> Result<Self, EvalError> {
        let squad = Squad::read(path)?;
        let documents = squad.documents();
        let mut questions = Vec::new();
        for (a, article) in squad.data.into_iter().enumerate() {
            for (p, paragraph) in article.paragraphs.into_iter().enumerate() {
                let id = Squad::paragraph_id(a, p);
                for qa in paragraph.qas {
                    let answerable = !qa.is_impossible;
                    questions.push(QaQuestion {
                        id: qa.id,
                        text: qa.question,
                        gold_document: answerable.then(|| id.clone()),
                        answers: if answerable { qa.answers.into_iter().map(|a| a.text).collect() } else { Vec::new() },
                    });
                }
            }
        }
        Ok(Self { documents, questions })
    }

    /// At most `limit` questions, half answerable and half not, spread evenly over the whole set (the
    /// file groups questions by article, so its first questions would all be about one topic).
    pub fn sample(&mut self, limit: usize) {
        let (answerable, unanswerable): (Vec<QaQuestion>, Vec<QaQuestion>) =
            self.questions.drain(..).partition(|q| q.gold_document.is_some());
        let half = limit / 2;
        let mut picked = spread(answerable, limit - half.min(unanswerable.len()));
        picked.extend(spread(unanswerable, half));
        self.questions = picked;
    }
}

fn spread(items: Vec<QaQuestion>, count: usize) -> Vec<QaQuestion> {
    if count >= items.len() {
        return items;
    }
    let step = items.len() as f64 / count as f64;
    (0..count).map(|i| items[(i as f64 * step) as usize].clone()).collect()
}

/// SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces.
pub fn normalise(text: &str) -> String {
    let lowered = text.to_lowercase();
    let no_punctuation: String = lowered.chars().map(|c| if c.is_ascii_punctuation() { ' ' } else { c }).collect();
    no_punctuation.split_whitespace().filter(|w| !matches!(*w, "a" | "an" | "the")).collect::<Vec<_>>().join(" ")
}

/// Whether `answer` contains one of the gold answers, as whole words after normalisation. Citation
/// markers are not part of the answer: "[2]" must not match the gold answer "2".
pub fn contains_gold(answer: &str, golds: &[String]) -> bool {
    let answer = format!(" {} ", normalise(&without_citations(answer)));
    golds.iter().map(|g| normalise(g)).filter(|g| !g.is_empty()).any(|g| answer.contains(&format!(" {g} ")))
}

/// `text` without its `[n]` / `[n, m]` citation markers.
pub fn without_citations(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        match after.find(']') {
            Some(close) if after[..close].chars().all(|c| c.is_ascii_digit() || c == ',' || c == ' ') && close > 0 => {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('[');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// One question's outcome under one setting.
#[derive(Debug, Clone, PartialEq)]
pub struct QaOutcome {
    pub answerable: bool,
    pub abstained: bool,
    pub contains_gold: bool,
    pub cites_gold: bool,
    /// Checkable sentences delivered to the reader, and how many of them the check finds unsupported.
    pub sentences: usize,
    pub unsupported: usize,
    /// Sentences the guard removed.
    pub removed: usize,
    pub support: f32,
    pub first_token_ms: Option<f64>,
    pub decode_tokens_per_s: Option<f64>,
}

/// The rates `lore eval answers` reports for one setting (guard on or off). Rates are fractions 0..1.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct QaReport {
    /// Answerable questions whose answer contains a gold answer.
    pub answer_contains_gold: f64,
    /// Answerable questions whose answer cites the gold paragraph.
    pub gold_citation: f64,
    /// Of the answerable questions answered (not declined), the share citing the gold paragraph.
    pub gold_citation_answered: f64,
    /// Unanswerable questions the answer abstains on.
    pub abstention_unanswerable: f64,
    /// Answerable questions the answer (wrongly) abstains on.
    pub abstention_answerable: f64,
    /// Delivered answer sentences that no passage supports.
    pub unsupported_sentences: f64,
    /// Answer sentences the guard removed.
    pub removed_sentences: f64,
    /// Mean support of the answers given.
    pub mean_support: f64,
    pub ttft_p50_ms: f64,
    pub ttft_p95_ms: f64,
    /// Mean over generations.
    pub decode_tokens_per_s: f64,
    pub answerable: usize,
    pub unanswerable: usize,
}

impl QaReport {
    pub fn of(outcomes: &[QaOutcome]) -> Self {
        let answerable: Vec<&QaOutcome> = outcomes.iter().filter(|o| o.answerable).collect();
        let unanswerable: Vec<&QaOutcome> = outcomes.iter().filter(|o| !o.answerable).collect();
        let share = |items: &[&QaOutcome], test: fn(&QaOutcome) -> bool| {
            if items.is_empty() {
                0.0
            } else {
                items.iter().filter(|o| test(o)).count() as f64 / items.len() as f64
            }
        };
        let answered: Vec<&QaOutcome> = outcomes.iter().filter(|o| !o.abstained).collect();
        let sentences: usize = answered.iter().map(|o| o.sentences).sum();
        let unsupported: usize = answered.iter().map(|o| o.unsupported).sum();
        let removed: usize = outcomes.iter().map(|o| o.removed).sum();
        let written = sentences + removed;
        let ttft: Vec<f64> = outcomes.iter().filter_map(|o| o.first_token_ms).collect();
        let decode: Vec<f64> = outcomes.iter().filter_map(|o| o.decode_tokens_per_s).filter(|r| *r > 0.0).collect();
        Self {
            answer_contains_gold: share(&answerable, |o| !o.abstained && o.contains_gold),
            gold_citation: share(&answerable, |o| !o.abstained && o.cites_gold),
            gold_citation_answered: share(
                &answerable.iter().copied().filter(|o| !o.abstained).collect::<Vec<_>>(),
                |o| o.cites_gold,
            ),
            abstention_unanswerable: share(&unanswerable, |o| o.abstained),
            abstention_answerable: share(&answerable, |o| o.abstained),
            unsupported_sentences: if sentences == 0 { 0.0 } else { unsupported as f64 / sentences as f64 },
            removed_sentences: if written == 0 { 0.0 } else { removed as f64 / written as f64 },
            mean_support: if answered.is_empty() {
                0.0
            } else {
                answered.iter().map(|o| o.support as f64).sum::<f64>() / answered.len() as f64
            },
            ttft_p50_ms: percentile(&ttft, 50.0),
            ttft_p95_ms: percentile(&ttft, 95.0),
            decode_tokens_per_s: if decode.is_empty() { 0.0 } else { decode.iter().sum::<f64>() / decode.len() as f64 },
            answerable: answerable.len(),
            unanswerable: unanswerable.len(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_normalisation_ignores_case_punctuation_and_articles() {
        assert_eq!(normalise("The  Normans, of Normandy!"), "normans of normandy");
        assert!(contains_gold("They were the Normans [1].", &["Normans".into()]));
        assert!(contains_gold("In 1066.", &["1066".into(), "the year 1066".into()]));
        assert!(!contains_gold("In 10660.", &["1066".into()]));
        assert!(!contains_gold("anything", &[]));
        assert!(!contains_gold("It was built in spring [2].", &["2".into()]));
        assert_eq!(without_citations("A [1, 2]. B [x] [3]"), "A . B [x] ");
    }

    fn outcome(answerable: bool, abstained: bool, gold: bool) -> QaOutcome {
        QaOutcome {
            answerable,
            abstained,
            contains_gold: gold,
            cites_gold: gold,
            sentences: if abstained { 0 } else { 2 },
            unsupported: if abstained { 0 } else { 1 },
            removed: 0,
            support: 0.5,
            first_token_ms: Some(1000.0),
            decode_tokens_per_s: Some(20.0),
        }
    }

    #[test]
    fn report_rates_count_the_right_questions() {
        let report = QaReport::of(&[
            outcome(true, false, true),
            outcome(true, false, false),
            outcome(true, true, false),
            outcome(false, true, false),
            outcome(false, false, false),
        ]);
        assert_eq!(report.answer_contains_gold, 1.0 / 3.0);
        assert_eq!(report.abstention_unanswerable, 0.5);
        assert_eq!(report.abstention_answerable, 1.0 / 3.0);
        assert_eq!(report.gold_citation_answered, 0.5);
        assert_eq!(report.unsupported_sentences, 0.5);
        assert_eq!((report.answerable, report.unanswerable), (3, 2));
    }
}
