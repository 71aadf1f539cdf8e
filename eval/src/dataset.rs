//! Labelled retrieval data in one form: documents, and queries with the documents that answer them.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use serde::Deserialize;

use crate::EvalError;

#[derive(Debug, Clone, PartialEq)]
pub struct EvalDocument {
    pub id: String,
    pub title: String,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct EvalQuery {
    pub id: String,
    pub text: String,
    /// Relevant document ids and their grades (> 0).
    pub relevant: HashMap<String, u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    pub documents: Vec<EvalDocument>,
    pub queries: Vec<EvalQuery>,
}

fn read(path: &Path) -> Result<String, EvalError> {
    std::fs::read_to_string(path).map_err(|source| EvalError::Read { path: path.to_path_buf(), source })
}

fn format_error(path: &Path, format: &'static str, reason: impl ToString) -> EvalError {
    EvalError::Format { path: path.to_path_buf(), format, reason: reason.to_string() }
}

/// A SQuAD v2 file as it is stored; [`Squad::read`] parses one.
#[derive(Deserialize)]
pub(crate) struct Squad {
    pub data: Vec<SquadArticle>,
}

#[derive(Deserialize)]
pub(crate) struct SquadArticle {
    pub title: String,
    pub paragraphs: Vec<SquadParagraph>,
}

#[derive(Deserialize)]
pub(crate) struct SquadParagraph {
    pub context: String,
    pub qas: Vec<SquadQuestion>,
}

#[derive(Deserialize)]
pub(crate) struct SquadQuestion {
    pub id: String,
    pub question: String,
    #[serde(default)]
    pub is_impossible: bool,
    #[serde(default)]
    pub answers: Vec<SquadAnswer>,
}

#[derive(Deserialize)]
pub(crate) struct SquadAnswer {
    pub text: String,
}

impl Squad {
    pub fn read(path: &Path) -> Result<Self, EvalError> {
        serde_json::from_str(&read(path)?).map_err(|e| format_error(path, "SQuAD JSON", e))
    }

    /// The id every evaluation gives the `p`th paragraph of the `a`th article.
    pub fn paragraph_id(a: usize, p: usize) -> String {
        format!("a{a:03}-p{p:04}")
    }

    /// Each paragraph as a document, titled by its article.
    pub fn documents(&self) -> Vec<EvalDocument> {
        let mut documents = Vec::new();
        for (a, article) in self.data.iter().enumerate() {
            let title = article.title.replace('_', " ");
            for (p, paragraph) in article.paragraphs.iter().enumerate() {
                let text = paragraph.context.clone();
                documents.push(EvalDocument { id: Self::paragraph_id(a, p), title: title.clone(), text });
            }
        }
        documents
    }
}

impl Dataset {
    /// SQuAD v2 JSON: each paragraph is a document (titled by its article); each answerable question is a
    /// query whose one relevant document is its paragraph. Unanswerable questions have no gold passage.
    pub fn from_squad(path: &Path) -> Result<Self, EvalError> {
        let squad = Squad::read(path)?;
        let documents = squad.documents();
        let mut queries = Vec::new();
        for (a, article) in squad.data.into_iter().enumerate() {
            for (p, paragraph) in article.paragraphs.into_iter().enumerate() {
                for question in paragraph.qas.into_iter().filter(|q| !q.is_impossible) {
                    let relevant = HashMap::from([(Squad::paragraph_id(a, p), 1)]);
                    queries.push(EvalQuery { id: question.id, text: question.question, relevant });
                }
            }
        }
        if queries.is_empty() {
            return Err(EvalError::NoQueries(path.to_path_buf()));
        }
        Ok(Self { documents, queries })
    }

    /// A BEIR folder: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`) and
    /// `qrels/test.tsv` (`query-id`, `corpus-id`, `score`, with a header line). Queries without a
    /// positive judgement are left out.
    pub fn from_beir(dir: &Path) -> Result<Self, EvalError> {
        #[derive(Deserialize)]
        struct Line {
            #[serde(rename = "_id")]
            id: String,
            #[serde(default)]
            title: String,
            text: String,
        }
        let jsonl = |name: &str| -> Result<Vec<Line>, EvalError> {
            let path = dir.join(name);
            let mut lines = Vec::new();
            for (n, line) in read(&path)?.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let parsed = serde_json::from_str(line)
                    .map_err(|e| format_error(&path, "JSON Lines", format!("line {}: {e}", n + 1)))?;
                lines.push(parsed);
            }
            Ok(lines)
        };
        let corpus = jsonl("corpus.jsonl")?;
        let query_lines = jsonl("queries.jsonl")?;
        let qrels_path = dir.join("qrels").join("test.tsv");
        let mut judgements: BTreeMap<String, HashMap<String, u32>> = BTreeMap::new();
        for (n, line) in read(&qrels_path)?.lines().enumerate() {
            let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
            if line.trim().is_empty() || (n == 0 && fields.first() == Some(&"query-id")) {
                continue;
            }
            let [query, document, grade] = fields[..] else {
                return Err(format_error(
                    &qrels_path,
                    "BEIR qrels",
                    format!("line {}: expected 3 tab-separated fields", n + 1),
                ));
            };
            let grade: i64 = grade.parse().map_err(|_| {
                format_error(&qrels_path, "BEIR qrels", format!("line {}: score '{grade}' is not a number", n + 1))
            })?;
            if grade > 0 {
                judgements.entry(query.to_string()).or_default().insert(document.to_string(), grade as u32);
            }
        }
        let known: HashSet<&str> = corpus.iter().map(|d| d.id.as_str()).collect();
        let queries: Vec<EvalQuery> = query_lines
            .into_iter()
            .filter_map(|q| {
                let mut relevant = judgements.remove(&q.id)?;
                relevant.retain(|doc, _| known.contains(doc.as_str()));
                (!relevant.is_empty()).then_some(EvalQuery { id: q.id, text: q.text, relevant })
            })
            .collect();
        if queries.is_empty() {
            return Err(EvalError::NoQueries(dir.to_path_buf()));
        }
        let documents = corpus.into_iter().map(|d| EvalDocument { id: d.id, title: d.title, text: d.text }).collect();
        Ok(Self { documents, queries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squad_paragraphs_become_documents_and_answerable_questions_queries() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("squad.json");
        let json = r#"{"version":"v2.0","data":[{"title":"Super_Bowl_50","paragraphs":[
            {"context":"Denver won.","qas":[{"id":"q1","question":"Who won?","answers":[{"text":"Denver","answer_start":0}],"is_impossible":false},
                                            {"id":"q2","question":"Who lost badly?","answers":[],"is_impossible":true}]},
            {"context":"It was in Santa Clara.","qas":[{"id":"q3","question":"Where?","answers":[],"is_impossible":false}]}]}]}"#;
        std::fs::write(&path, json).unwrap();
        let data = Dataset::from_squad(&path).unwrap();
        assert_eq!(data.documents.len(), 2);
        assert_eq!(data.documents[0].title, "Super Bowl 50");
        let ids: Vec<&str> = data.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(ids, ["q1", "q3"]);
        assert_eq!(data.queries[1].relevant, HashMap::from([(data.documents[1].id.clone(), 1)]));
    }

    #[test]
    fn beir_folders_keep_judged_queries_and_report_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("qrels")).unwrap();
        std::fs::write(
            dir.path().join("corpus.jsonl"),
            "{\"_id\":\"d1\",\"title\":\"T\",\"text\":\"one\"}\n{\"_id\":\"d2\",\"text\":\"two\"}\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("queries.jsonl"),
            "{\"_id\":\"q1\",\"text\":\"first\"}\n{\"_id\":\"q2\",\"text\":\"unjudged\"}\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("qrels/test.tsv"), "query-id\tcorpus-id\tscore\nq1\td2\t2\nq1\td1\t0\n")
            .unwrap();
        let data = Dataset::from_beir(dir.path()).unwrap();
        assert_eq!(data.documents.len(), 2);
        assert_eq!(data.queries.len(), 1);
        assert_eq!(data.queries[0].relevant, HashMap::from([("d2".to_string(), 2)]));

        std::fs::write(dir.path().join("qrels/test.tsv"), "q1\td2\tmany\n").unwrap();
        let err = Dataset::from_beir(dir.path()).unwrap_err().to_string();
        assert!(err.contains("line 1: score 'many' is not a number"), "{err}");
    }
}
