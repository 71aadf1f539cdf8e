//! Give it a question (and the conversation so far), get an answer written from the retrieved passages,
//! checked sentence by sentence, with citations that resolve to exact document spans. Events stream out
//! while it works: the passages, each token, each checked sentence.

use std::sync::Arc;
use std::time::{Duration, Instant};

use lore_core::config::AnswerConfig;
use lore_core::embed::Embedder;
use lore_core::DocumentId;
use lore_llm::{ChatModel, GenerationStats, Sampling, TokenChoice, TokenEvent};
use lore_retrieve::{Access, Narrowing, Retriever, SearchRequest};
use serde::Serialize;
use tokio::sync::mpsc::UnboundedSender;

use crate::confidence::DraftConfidence;
use crate::context::{self, Passage};
use crate::evidence::{HitSentences, Ranking};
use crate::guard::{self, CheckedSentence, Draft, Vectors};
use crate::links;
use crate::prompt;
use crate::terms::{facts_as_written, FactIndex};
use crate::AnswerError;

/// One earlier exchange of a conversation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Turn {
    pub question: String,
    pub answer: String,
}

#[derive(Debug, Clone)]
pub struct Question {
    pub text: String,
    pub access: Access,
    pub narrowing: Narrowing,
    /// Earlier turns, oldest first; the last `answer.history_turns` are used.
    pub history: Vec<Turn>,
    /// Overrides `answer.guard` (the evaluation compares both).
    pub guard: Option<bool>,
}

impl Question {
    pub fn new(text: impl Into<String>, access: Access) -> Self {
        Self { text: text.into(), access, narrowing: Narrowing::default(), history: Vec::new(), guard: None }
    }
}

/// Why no answer was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Abstention {
    /// The search found nothing this caller may read.
    NoPassages,
    /// The passages cover too little of the question (`answer.min_evidence`).
    WeakEvidence,
    /// The model said the passages do not answer.
    ModelDeclined,
    /// The check found no sentence of the answer supported by the passages.
    Unsupported,
    /// The passage sentences that support the answer do not speak of what was asked
    /// (`answer.min_source_relevance`): a fact copied from a sentence about something else.
    UnrelatedSource,
}

/// The guard's thresholds, as [`Answerer::apply_guard`] takes them (the evaluation passes 0 for both
/// and applies its own when scoring).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    pub min_evidence: f32,
    pub min_source_relevance: f32,
}

impl Thresholds {
    /// Declined before generation: too little evidence, or a number or name of the question that no
    /// hit mentions.
    pub fn weak_evidence(&self, answer: &Answer) -> bool {
        answer.evidence < self.min_evidence || !answer.missing_question_facts.is_empty()
    }

    /// Declined after the check: the answer's supporting sentences are far from the question.
    pub fn unrelated_source(&self, answer: &Answer) -> bool {
        answer.source_relevance.is_some_and(|r| r < self.min_source_relevance)
    }
}

/// A citation a reader can check: the passage's number in the answer and its exact place.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Citation {
    pub n: usize,
    pub document_id: DocumentId,
    pub document_path: String,
    pub title: String,
    pub source: String,
    pub page: Option<u32>,
    /// Character span in the document's extracted text of the sentences that support the answer.
    pub start: usize,
    pub end: usize,
    /// The text at that span.
    pub quote: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct AnswerTimings {
    pub condense_ms: f64,
    pub retrieval_ms: f64,
    /// From the question to the first token of the answer.
    pub first_token_ms: f64,
    pub check_ms: f64,
    pub total_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Answer {
    /// The checked answer, with `[n]` citations; on abstention, why not.
    pub text: String,
    /// The answer as the model wrote it (empty when it was not asked).
    pub draft: String,
    pub abstained: bool,
    pub abstention: Option<Abstention>,
    /// 0..1: how well the passages support the answer's sentences (0 on abstention).
    pub support: f32,
    pub citations: Vec<Citation>,
    pub sentences: Vec<CheckedSentence>,
    /// The numbered passages the model read; on abstention, the closest sources.
    pub passages: Vec<Passage>,
    /// The question retrieval ran with: the follow-up rewritten to stand on its own.
    pub standalone_question: String,
    /// 0..1: how well the passages answer the question (`Ranking::evidence`: the best sentence's
    /// embedding similarity and the best passage's share of the question's words); below
    /// `answer.min_evidence` the question is not answered.
    pub evidence: f32,
    /// The sentence of the passages that best answers the question, as a citation of its passage
    /// (`quote` is the sentence): shown to the reader as soon as the search is done, while the model
    /// is still reading. `None` when nothing was found.
    pub best_evidence: Option<Citation>,
    /// Numbers and names of the question that no passage (nor its title) mentions: "When was AppleTalk
    /// released in 1995?" over passages that say 1985. With the guard on, such a question is declined
    /// as weak evidence.
    pub missing_question_facts: Vec<String>,
    /// The question has two or more numbers and names, each mentioned by some hit, but no hit mentions
    /// them all: "Who founded the Yale club in 1924?" over one hit on the club and another on 1924.
    pub question_facts_apart: bool,
    /// 0..1: how close the passage sentences that support the checked answer are to the question
    /// (`guard::source_relevance`: embedding similarity and the question's words, title and heading
    /// included); `None` unchecked or unsupported. Below `answer.min_source_relevance` it is declined.
    pub source_relevance: Option<f32>,
    /// The question's embedding, from the ranking (empty without one).
    #[serde(skip)]
    pub question_vector: Vec<f32>,
    /// How sure the model was of its draft (`None` when it was not asked, or its backend does not say).
    pub confidence: Option<DraftConfidence>,
    pub prompt_tokens: usize,
    pub generation: Option<GenerationStats>,
    pub timings: AnswerTimings,
}

/// What [`Answerer::ask`] reports while it works.
#[derive(Debug, Clone)]
pub enum AnswerEvent {
    /// The follow-up, rewritten for retrieval.
    Standalone(String),
    Passages(Vec<Passage>),
    /// The best evidence sentence, right after the passages and before the first token.
    Evidence(Citation),
    Token(String),
    /// The check found nothing of the draft supported: the tokens so far are void, and a second draft
    /// follows from the best passage alone.
    Retry,
    Sentence(CheckedSentence),
}

/// The question-answering pipeline over one retriever and one model; cheap to clone.
#[derive(Clone)]
pub struct Answerer {
    retriever: Retriever,
    model: Arc<dyn ChatModel>,
    embedder: Arc<dyn Embedder>,
    config: AnswerConfig,
    sampling: Sampling,
}

/// One generation as it streamed in.
#[derive(Default)]
struct Written {
    text: String,
    choices: Vec<TokenChoice>,
    stats: Option<GenerationStats>,
    first_token: Option<Instant>,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

impl Answerer {
    pub fn new(
        retriever: Retriever,
        model: Arc<dyn ChatModel>,
        embedder: Arc<dyn Embedder>,
        config: AnswerConfig,
        sampling: Sampling,
    ) -> Self {
        Self { retriever, model, embedder, config, sampling }
    }

    pub async fn ask(
        &self,
        question: Question,
        events: Option<UnboundedSender<AnswerEvent>>,
    ) -> Result<Answer, AnswerError> {
        let started = Instant::now();
        let emit = move |event: AnswerEvent| {
            if let Some(events) = &events {
                let _ = events.send(event);
            }
        };
        let guard_on = question.guard.unwrap_or(self.config.guard);
        let thresholds = Thresholds {
            min_evidence: self.config.min_evidence,
            min_source_relevance: self.config.min_source_relevance,
        };
        let mut timings = AnswerTimings::default();

        let standalone = self.standalone_question(&question).await?;
        timings.condense_ms = ms(started.elapsed());
        if standalone != question.text.trim() {
            emit(AnswerEvent::Standalone(standalone.clone()));
        }

        let retrieving = Instant::now();
        let mut request = SearchRequest::new(standalone.clone(), question.access.clone());
        request.narrowing = question.narrowing.clone();
        request.limit = self.config.passages;
        let hits = self.retriever.search(&request).await?.hits;
        let ranking = self.rank(&standalone, &hits).await?;
        let passages = context::select(&hits, &ranking, self.config.context_budget_tokens);
        let evidence = ranking.evidence();
        let best_evidence = best_evidence(&ranking, &passages);
        let question_facts = QuestionFacts::of(&standalone, &hits);
        timings.retrieval_ms = ms(retrieving.elapsed());
        emit(AnswerEvent::Passages(passages.clone()));
        if let Some(best) = &best_evidence {
            emit(AnswerEvent::Evidence(best.clone()));
        }

        let mut answer = Answer {
            text: String::new(),
            draft: String::new(),
            abstained: false,
            abstention: None,
            support: 0.0,
            citations: Vec::new(),
            sentences: Vec::new(),
            passages,
            standalone_question: standalone.clone(),
            evidence,
            best_evidence,
            missing_question_facts: question_facts.missing,
            question_facts_apart: question_facts.apart,
            source_relevance: None,
            question_vector: ranking.question_vector.clone(),
            confidence: None,
            prompt_tokens: 0,
            generation: None,
            timings,
        };
        let abstain_before = if answer.passages.is_empty() {
            Some(Abstention::NoPassages)
        } else if guard_on && thresholds.weak_evidence(&answer) {
            Some(Abstention::WeakEvidence)
        } else {
            None
        };
        if let Some(reason) = abstain_before {
            let answer = self.abstain(answer, reason);
            return Ok(self.finished(answer, started));
        }

        let messages = prompt::messages(&answer.passages, &question.text);
        let written = self.write_draft(messages, &emit).await?;
        answer.timings.first_token_ms = written.first_token.map_or(0.0, |t| ms(t.duration_since(started)));
        answer.prompt_tokens = written.stats.as_ref().map_or(0, |s| s.prompt_tokens);
        answer.generation = written.stats;
        answer.confidence = DraftConfidence::of(&written.choices);
        answer.draft = written.text.trim().to_string();
        let mut answer = self.conclude(answer, guard_on, thresholds, &emit).await?;
        if guard_on && answer.abstention == Some(Abstention::Unsupported) {
            answer = self.second_candidate(answer, &question.text, thresholds, &emit).await?;
        }
        Ok(self.finished(answer, started))
    }

    /// Streams one generation: the draft, its statistics, its tokens' probabilities and when its first
    /// token came.
    async fn write_draft(
        &self,
        messages: Vec<lore_llm::ChatMessage>,
        emit: &(dyn Fn(AnswerEvent) + Sync),
    ) -> Result<Written, AnswerError> {
        let mut generation = self.model.generate(messages, self.sampling.clone()).await?;
        let mut written = Written::default();
        while let Some(event) = generation.events.recv().await {
            match event {
                TokenEvent::Text(piece) => {
                    written.first_token.get_or_insert_with(Instant::now);
                    written.text.push_str(&piece);
                    emit(AnswerEvent::Token(piece));
                }
                TokenEvent::Choice(choice) => written.choices.push(choice),
                TokenEvent::Finished(finished) => {
                    written.stats = Some(finished);
                    return Ok(written);
                }
                TokenEvent::Failed(reason) => {
                    return Err(AnswerError::Generation(lore_llm::LlmError::Generation(reason)))
                }
            }
        }
        Ok(written)
    }

    /// When the check finds nothing of the draft supported, the model gets one more try with the
    /// passage that holds the best evidence alone: a small model that wandered off to a neighbouring
    /// fact usually copies the right one from a shorter prompt (about 100 tokens: under a second).
    /// The new draft is checked like the first; if it fails too, the answer abstains.
    async fn second_candidate(
        &self,
        answer: Answer,
        question: &str,
        thresholds: Thresholds,
        emit: &(dyn Fn(AnswerEvent) + Sync),
    ) -> Result<Answer, AnswerError> {
        let Some(best) = answer.best_evidence.as_ref() else { return Ok(answer) };
        let Some(mut alone) = answer.passages.iter().find(|p| p.n == best.n).cloned() else { return Ok(answer) };
        alone.n = 1;
        emit(AnswerEvent::Retry);
        let written = self.write_draft(prompt::messages(&[alone], question), emit).await?;
        let mut retried = answer;
        retried.abstained = false;
        retried.abstention = None;
        retried.text.clear();
        retried.sentences.clear();
        retried.source_relevance = None;
        retried.draft = written.text.trim().to_string();
        retried.confidence = DraftConfidence::of(&written.choices);
        retried.prompt_tokens += written.stats.as_ref().map_or(0, |s| s.prompt_tokens);
        self.conclude(retried, true, thresholds, emit).await
    }

    /// The guarded version of an answer made with the guard off, from the same passages and draft: what
    /// the guard changes (the evaluation compares both). The model is asked again only for the guard's
    /// second candidate, when nothing of the draft is supported. `thresholds` stand in for the
    /// configured ones.
    pub async fn apply_guard(&self, unchecked: &Answer, thresholds: Thresholds) -> Result<Answer, AnswerError> {
        let started = Instant::now();
        let mut answer = unchecked.clone();
        answer.source_relevance = None;
        answer.abstained = false;
        answer.abstention = None;
        answer.text.clear();
        answer.citations.clear();
        answer.sentences.clear();
        answer.support = 0.0;
        if answer.passages.is_empty() {
            return Ok(self.abstain(answer, Abstention::NoPassages));
        }
        if thresholds.weak_evidence(&answer) {
            return Ok(self.abstain(answer, Abstention::WeakEvidence));
        }
        let mut answer = self.conclude(answer, true, thresholds, &|_| {}).await?;
        if answer.abstention == Some(Abstention::Unsupported) {
            let question = unchecked.standalone_question.clone();
            answer = self.second_candidate(answer, &question, thresholds, &|_| {}).await?;
        }
        answer.timings.check_ms = ms(started.elapsed());
        Ok(answer)
    }

    /// From the model's draft to the answer: the decline test, the check (when on), the citations.
    async fn conclude(
        &self,
        mut answer: Answer,
        guard_on: bool,
        thresholds: Thresholds,
        emit: &(dyn Fn(AnswerEvent) + Sync),
    ) -> Result<Answer, AnswerError> {
        if prompt::declines(&answer.draft) {
            return Ok(self.abstain(answer, Abstention::ModelDeclined));
        }
        let checking = Instant::now();
        let drafts = guard::drafts(&answer.draft);
        let vectors = if guard_on { self.vectors(&drafts, &answer.passages).await? } else { Vectors::default() };
        let mut sentences =
            guard::check(&answer.standalone_question, &drafts, &answer.passages, &vectors, &self.config);
        if !guard_on {
            // Unchecked: the model's sentences and citations stand as written.
            for sentence in &mut sentences {
                sentence.removed = false;
                sentence.citations = sentence.cited.clone();
            }
        }
        answer.timings.check_ms = ms(checking.elapsed());
        for sentence in &sentences {
            emit(AnswerEvent::Sentence(sentence.clone()));
        }
        if guard_on && !sentences.iter().any(|s| !s.removed && s.checkable) {
            answer.sentences = sentences;
            return Ok(self.abstain(answer, Abstention::Unsupported));
        }
        if guard_on {
            answer.source_relevance = guard::source_relevance(
                &answer.standalone_question,
                &answer.question_vector,
                &sentences,
                &answer.passages,
            );
            if thresholds.unrelated_source(&answer) {
                answer.sentences = sentences;
                return Ok(self.abstain(answer, Abstention::UnrelatedSource));
            }
        }
        answer.support = guard::answer_support(&sentences);
        answer.citations = citations(&sentences, &answer.passages, guard_on);
        let cited: Vec<&str> = answer
            .passages
            .iter()
            .filter(|p| answer.citations.iter().any(|c| c.n == p.n))
            .map(|p| p.text.as_str())
            .collect();
        answer.text =
            links::confine_links(&guard::render(&sentences, |s| s.citations.clone()), &cited, &self.config.link_hosts);
        answer.sentences = sentences;
        Ok(answer)
    }

    fn finished(&self, mut answer: Answer, started: Instant) -> Answer {
        answer.timings.total_ms = ms(started.elapsed());
        answer
    }

    fn abstain(&self, mut answer: Answer, reason: Abstention) -> Answer {
        answer.text = match reason {
            Abstention::NoPassages => "The documents don't answer this: the search found nothing you may read.".into(),
            Abstention::WeakEvidence if !answer.missing_question_facts.is_empty() => format!(
                "The documents don't answer this: the closest passages never mention {}.",
                answer.missing_question_facts.iter().map(|f| format!("“{f}”")).collect::<Vec<_>>().join(", ")
            ),
            _ => prompt::DECLINE.into(),
        };
        answer.abstained = true;
        answer.abstention = Some(reason);
        answer.support = 0.0;
        answer.citations.clear();
        answer
    }

    /// The question retrieval should run with: a follow-up rewritten by the model to stand alone.
    async fn standalone_question(&self, question: &Question) -> Result<String, AnswerError> {
        let text = question.text.trim();
        let keep = self.config.history_turns.min(question.history.len());
        if keep == 0 {
            return Ok(text.to_string());
        }
        let history: Vec<(String, String)> = question.history[question.history.len() - keep..]
            .iter()
            .map(|turn| (turn.question.clone(), turn.answer.clone()))
            .collect();
        let sampling = Sampling { stop: vec!["\n".into()], ..Sampling::greedy(64) };
        let (rewritten, _) =
            self.model.generate(prompt::condense_messages(&history, text), sampling).await?.collect().await?;
        let rewritten = rewritten.trim().trim_matches('"').trim();
        // A rewrite that is empty, or rambles, is worse than the previous question plus the follow-up.
        if rewritten.is_empty() || rewritten.chars().count() > 3 * text.chars().count() + 200 {
            let previous = &history.last().expect("history is not empty").0;
            return Ok(format!("{previous} {text}"));
        }
        Ok(rewritten.to_string())
    }

    /// Every sentence of the hits scored as evidence for the question; the question and the sentences
    /// are embedded in one batch on a blocking thread.
    async fn rank(&self, question: &str, hits: &[lore_retrieve::Hit]) -> Result<Ranking, AnswerError> {
        let embedder = self.embedder.clone();
        let question = question.to_string();
        let mut analysed = HitSentences::of(hits);
        tokio::task::spawn_blocking(move || {
            let mut texts: Vec<&str> = vec![question.as_str()];
            for hit in &analysed {
                texts.extend(hit.sentences.iter().map(|s| s.text.as_str()));
            }
            let mut embedded = embedder.embed(&texts)?.into_iter();
            let question_vector = embedded.next();
            for hit in &mut analysed {
                hit.vectors = embedded.by_ref().take(hit.sentences.len()).collect();
            }
            Ok(Ranking::new(&question, question_vector.as_deref(), analysed))
        })
        .await
        .map_err(|_| AnswerError::Worker)?
    }

    /// Embeddings of the answer's sentences, on a blocking thread; the passages' sentences were embedded
    /// for the ranking and are reused.
    async fn vectors(&self, drafts: &[Draft], passages: &[Passage]) -> Result<Vectors, AnswerError> {
        let embedder = self.embedder.clone();
        let draft_texts: Vec<String> = drafts.iter().map(|d| d.text.clone()).collect();
        let passages = passages.iter().map(|p| p.sentence_vectors.clone()).collect();
        tokio::task::spawn_blocking(move || {
            let texts: Vec<&str> = draft_texts.iter().map(String::as_str).collect();
            Ok(Vectors { drafts: embedder.embed(&texts)?, passages })
        })
        .await
        .map_err(|_| AnswerError::Worker)?
    }
}

/// The question's numbers and names against the hits, each hit's text, title and heading read once.
/// The whole hit counts, not only the sentences the prompt quotes: a qualifier may sit outside the
/// budget.
struct QuestionFacts {
    /// Those no hit mentions, as the question spells them. SQuAD's unanswerable questions are mostly
    /// near-misses made this way ("When was AppleTalk released in 1995?" over a passage that says 1985).
    missing: Vec<String>,
    /// None is missing, there are two or more, and no one hit mentions them all.
    apart: bool,
}

impl QuestionFacts {
    fn of(question: &str, hits: &[lore_retrieve::Hit]) -> Self {
        let found: Vec<FactIndex> = hits
            .iter()
            .map(|hit| FactIndex::of(&format!("{} {} {}", hit.title, hit.heading.as_deref().unwrap_or(""), hit.text)))
            .collect();
        let wanted = facts_as_written(question);
        let missing: Vec<String> = wanted
            .iter()
            .filter(|(fact, _)| !found.iter().any(|index| index.contains(fact)))
            .map(|(_, written)| written.to_string())
            .collect();
        let apart = missing.is_empty()
            && wanted.len() >= 2
            && !found.iter().any(|index| wanted.iter().all(|(fact, _)| index.contains(fact)));
        Self { missing, apart }
    }
}

/// The best-ranked sentence that made it into a passage (the best one always does), cited.
fn best_evidence(ranking: &Ranking, passages: &[Passage]) -> Option<Citation> {
    ranking.best_first.iter().find_map(|scored| {
        let passage = passages.iter().find(|p| p.hit == scored.hit)?;
        let at = passage.sentence_indexes.iter().position(|&i| i == scored.sentence)?;
        Some(cite(passage, at, at))
    })
}

/// A citation of `passage` from its sentence `first` to its sentence `last` (indexes into
/// `passage.sentences`), gaps included.
fn cite(passage: &Passage, first: usize, last: usize) -> Citation {
    let (start, _) = passage.document_span(&passage.sentences[first]);
    let (_, end) = passage.document_span(&passage.sentences[last]);
    Citation {
        n: passage.n,
        document_id: passage.document_id,
        document_path: passage.document_path.clone(),
        title: passage.title.clone(),
        source: passage.source.clone(),
        page: passage.page,
        start,
        end,
        quote: passage.quote(&passage.sentences[first], &passage.sentences[last]),
    }
}

/// One citation per cited passage: the span from its first to its last supporting sentence.
fn citations(sentences: &[CheckedSentence], passages: &[Passage], checked: bool) -> Vec<Citation> {
    let mut cited: Vec<usize> = sentences.iter().filter(|s| !s.removed).flat_map(|s| s.citations.clone()).collect();
    cited.sort_unstable();
    cited.dedup();
    cited
        .into_iter()
        .filter_map(|n| {
            let passage = passages.iter().find(|p| p.n == n)?;
            let supporting: Vec<usize> = sentences
                .iter()
                .filter(|s| !s.removed)
                .flat_map(|s| s.evidence.iter().filter(|e| e.n == n).map(|e| e.sentence))
                .collect();
            // Unchecked citations point at the whole passage.
            let (first, last) = match (checked, supporting.iter().min(), supporting.iter().max()) {
                (true, Some(&first), Some(&last)) => (first, last),
                _ => (0, passage.sentences.len().checked_sub(1)?),
            };
            Some(cite(passage, first, last))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::tests::hit;

    #[test]
    fn a_question_naming_what_no_hit_mentions_is_found_out() {
        let hits = [
            hit(1, "AppleTalk", "AppleTalk was released by Apple in 1985 for the Macintosh."),
            hit(2, "Networks", "The Huguenot settlers built a church."),
        ];
        assert_eq!(QuestionFacts::of("When did Apple release AppleTalk in 1995?", &hits).missing, ["1995"]);
        assert!(QuestionFacts::of("What did Apple release for the Macintosh in 1985?", &hits).missing.is_empty());
        // A plural or possessive form of a name counts, either way round.
        assert!(QuestionFacts::of("Which church did the Huguenots build?", &hits).missing.is_empty());
        assert_eq!(QuestionFacts::of("Which church did the Normans' king build?", &hits).missing, ["Normans"]);

        assert!(QuestionFacts::of("Did the Huguenot settlers use AppleTalk?", &hits).apart);
        assert!(!QuestionFacts::of("Did Apple sell AppleTalk in 1985?", &hits).apart);
        assert!(!QuestionFacts::of("What did the Huguenot settlers build?", &hits).apart, "one fact stands alone");
    }
}
