//! Give it a text, get what a check compares: its content terms (as the search index analyses them, so
//! "installing" meets "installation") and its facts (numbers, dates and names), which a supporting
//! passage must contain (numbers also as words: "five" holds the fact "5").

use std::collections::HashSet;

use lore_core::text::{for_each_term, is_stopword};

/// Distinct analysed terms of `text` that are not function words, in order of appearance.
pub fn content_terms(text: &str) -> Vec<String> {
    let mut seen = HashSet::new();
    let mut terms = Vec::new();
    for_each_term(text, |term, _, _| {
        if !is_stopword(term) && seen.insert(term.to_string()) {
            terms.push(term.to_string());
        }
    });
    terms
}

/// The set of analysed terms of `text`, function words included (for lookups).
pub fn term_set(text: &str) -> HashSet<String> {
    let mut set = HashSet::new();
    for_each_term(text, |term, _, _| {
        set.insert(term.to_string());
    });
    set
}

/// Share of `terms` found in `set`: 1 when there is nothing to find.
pub fn coverage(terms: &[String], set: &HashSet<String>) -> f32 {
    if terms.is_empty() {
        return 1.0;
    }
    terms.iter().filter(|t| set.contains(*t)).count() as f32 / terms.len() as f32
}

/// A fact an answer sentence states, normalised for lookup in a passage.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Fact {
    /// Digits with thousands separators removed: "1,200" is "1200", "3.5" stays, "1990s" is "1990".
    Number(String),
    /// A capitalised word that does not open the sentence, lower-cased and without a possessive "'s": a
    /// name, place, product or acronym.
    Name(String),
}

/// The numbers, dates and names of a sentence.
pub fn facts(sentence: &str) -> Vec<Fact> {
    facts_as_written(sentence).into_iter().map(|(fact, _)| fact).collect()
}

/// [`facts`], each with the word it was read from, as the sentence spells it (without a possessive
/// ending): for telling a reader which of their words the documents lack.
pub fn facts_as_written(sentence: &str) -> Vec<(Fact, &str)> {
    let mut facts = Vec::new();
    let mut seen = HashSet::new();
    for (index, word) in words(sentence).enumerate() {
        let fact = if word.chars().any(|c| c.is_ascii_digit()) {
            normalise_number(word).map(Fact::Number)
        } else if index > 0 && is_name(word) {
            Some(Fact::Name(without_possessive(&word.to_lowercase()).to_string()))
        } else {
            None
        };
        if let Some(fact) = fact.filter(|f| seen.insert(f.clone())) {
            facts.push((fact, without_possessive(word)));
        }
    }
    facts
}

/// What a passage offers to look facts up in.
#[derive(Debug, Clone, Default)]
pub struct FactIndex {
    numbers: HashSet<String>,
    words: HashSet<String>,
}

impl FactIndex {
    pub fn of(text: &str) -> Self {
        let mut index = Self::default();
        for word in words(text) {
            let lowered = word.to_lowercase();
            let number = if word.chars().any(|c| c.is_ascii_digit()) {
                normalise_number(word)
            } else {
                number_word(&lowered).map(|n| n.to_string())
            };
            index.numbers.extend(number);
            index.words.insert(without_possessive(&lowered).to_string());
        }
        index
    }

    pub fn contains(&self, fact: &Fact) -> bool {
        match fact {
            Fact::Number(n) => self.numbers.contains(n),
            // A possessive or plural form of the name counts, either way round ("Huguenots" is in a
            // passage about "the Huguenot church", and "Huguenot" in one about "the Huguenots").
            Fact::Name(name) => {
                self.words.contains(name)
                    || self.words.iter().any(|w| {
                        (w.starts_with(name.as_str()) && w.len() <= name.len() + 2)
                            || (w.len() >= 4 && name.starts_with(w.as_str()) && name.len() <= w.len() + 2)
                    })
            }
        }
    }
}

/// "Harold's" and "Normans'" are forms of the names "Harold" and "Normans".
fn without_possessive(word: &str) -> &str {
    ["'s", "’s", "'", "’"].iter().find_map(|suffix| word.strip_suffix(suffix)).unwrap_or(word)
}

/// The value of a number written as a word, as passages often do ("five princes", "the third day").
fn number_word(word: &str) -> Option<u32> {
    const CARDINALS: &str = "zero one two three four five six seven eight nine ten eleven twelve thirteen \
                             fourteen fifteen sixteen seventeen eighteen nineteen twenty";
    const TENS: &str = "thirty forty fifty sixty seventy eighty ninety";
    const ORDINALS: &str = "first second third fourth fifth sixth seventh eighth ninth tenth";
    let position = |list: &str| list.split_whitespace().position(|w| w == word).map(|n| n as u32);
    position(CARDINALS).or_else(|| position(TENS).map(|n| 30 + 10 * n)).or_else(|| position(ORDINALS).map(|n| n + 1))
}

/// Words with their inner punctuation ("3.5", "1,200", "U.S.", "O'Brien") but no surrounding punctuation.
fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| {
        c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"' | '“' | '”' | '/' | ';' | '—' | '–')
    })
    .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
    .filter(|w| !w.is_empty())
}

fn normalise_number(word: &str) -> Option<String> {
    // The leading run of digits and separators: "1990s" -> "1990", "42%" -> "42", "v2" -> none.
    let start = word.find(|c: char| c.is_ascii_digit())?;
    if start > 0 && word[..start].chars().any(char::is_alphabetic) {
        return None; // identifiers such as "v2", "H2O", "x86"
    }
    let digits: String = word[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == ',' || *c == '.')
        .filter(|c| *c != ',')
        .collect();
    let digits = digits.trim_end_matches('.').to_string();
    (!digits.is_empty()).then_some(digits)
}

fn is_name(word: &str) -> bool {
    let mut chars = word.chars();
    let first_upper = chars.next().is_some_and(char::is_uppercase);
    // "I" and one-letter words are not names.
    first_upper && word.chars().count() > 1 && !is_stopword(&word.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_terms_are_stemmed_and_skip_function_words() {
        assert_eq!(content_terms("How do I install the printer and installing it?"), ["instal", "printer"]);
    }

    #[test]
    fn facts_are_numbers_and_names_after_the_first_word() {
        let facts = facts("In 1990s the Normans paid 1,200 marks (3.5%) to King Harold in v2.");
        assert_eq!(
            facts,
            [
                Fact::Number("1990".into()),
                Fact::Name("normans".into()),
                Fact::Number("1200".into()),
                Fact::Number("3.5".into()),
                Fact::Name("king".into()),
                Fact::Name("harold".into()),
            ]
        );
    }

    #[test]
    fn a_passage_contains_a_fact_written_the_same_way_or_possessive() {
        let index = FactIndex::of("Harold's army of 1200 men met the Normans in 1066.");
        assert!(index.contains(&Fact::Number("1200".into())));
        assert!(index.contains(&Fact::Name("harold".into())));
        assert!(index.contains(&Fact::Name("normans".into())));
        assert!(!index.contains(&Fact::Number("1067".into())));
        assert!(!index.contains(&Fact::Name("william".into())));
    }

    #[test]
    fn possessives_and_numbers_in_words_hold_the_same_facts() {
        let index = FactIndex::of("Gou derived it; Guo Shoujing was killed by five princes on the third day.");
        for fact in facts("It was Gou Shoujing's idea: 5 princes, day 3.") {
            assert!(index.contains(&fact), "{fact:?}");
        }
        assert!(!index.contains(&Fact::Number("6".into())));
    }

    #[test]
    fn coverage_counts_found_terms() {
        let set = term_set("The installer installs packages");
        assert_eq!(coverage(&content_terms("install packages quickly"), &set), 2.0 / 3.0);
        assert_eq!(coverage(&[], &set), 1.0);
    }
}
