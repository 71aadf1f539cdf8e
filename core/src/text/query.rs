//! User input to query terms. Any string is accepted: there is no syntax to get wrong. Words are matched
//! (BM25 ranks them); text between double quotes must also appear as a phrase; everything else,
//! `:`, `(`, `AND`, `*`, is read as the words it contains.

use super::schema::{analyze, is_stopword};

/// What a user's query asks the full-text index for, in analysed form.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueryTerms {
    /// Distinct terms to rank by, in the order typed. Function words are dropped when other words remain.
    pub words: Vec<String>,
    /// Quoted phrases of two or more terms, which a chunk must contain.
    pub phrases: Vec<Vec<String>>,
}

impl QueryTerms {
    pub fn parse(input: &str) -> Self {
        let segments: Vec<&str> = input.split('"').collect();
        // Segments at odd positions sit between a pair of quotes; an unmatched last quote opens nothing.
        let quoted_segments = if segments.len() % 2 == 1 { segments.len() } else { segments.len() - 1 };
        let mut all_words = Vec::new();
        let mut phrases = Vec::new();
        for (i, segment) in segments.iter().enumerate() {
            let terms: Vec<String> = analyze(segment).into_iter().map(|t| t.term).collect();
            if i % 2 == 1 && i < quoted_segments && terms.len() >= 2 {
                phrases.push(terms.clone());
            }
            all_words.extend(terms);
        }
        let has_content_word = all_words.iter().any(|w| !is_stopword(w));
        let mut words: Vec<String> = Vec::new();
        for word in all_words {
            if (!has_content_word || !is_stopword(&word)) && !words.contains(&word) {
                words.push(word);
            }
        }
        Self { words, phrases }
    }

    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_characters_are_read_as_words() {
        let q = QueryTerms::parse("title:(install AND \"linux\") OR -foo*");
        assert_eq!(q.words, ["titl", "instal", "linux", "foo"]);
        assert!(q.phrases.is_empty(), "a one-word quote is just a word");
    }

    #[test]
    fn quoted_text_becomes_a_phrase_and_unmatched_quotes_are_ignored() {
        let q = QueryTerms::parse("how to \"reset the password\" for \"vpn access");
        assert_eq!(q.phrases, [vec!["reset", "the", "password"]]);
        assert_eq!(q.words, ["reset", "password", "vpn", "access"]);
    }

    #[test]
    fn function_words_stay_when_they_are_all_there_is() {
        assert_eq!(QueryTerms::parse("to be or not to be").words, ["to", "be", "or", "not"]);
        assert!(QueryTerms::parse("  ?! ").is_empty());
    }
}
