//! Give it a text, get its sentences with their character spans. Rule-based and English-leaning: a
//! sentence ends at `.`, `!` or `?` before whitespace and a capital, digit, quote or bracket, unless the
//! word before is a known abbreviation or a single letter (initials); a blank line or a list item also
//! ends one. Good enough to quote and check; never used to rewrite text.

/// One sentence of a text. `start..end` are character (not byte) offsets, trimmed of whitespace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Sentence {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

const ABBREVIATIONS: &[&str] = &[
    "e.g", "i.e", "etc", "vs", "cf", "dr", "mr", "mrs", "ms", "prof", "st", "jr", "sr", "no", "fig", "eq", "vol",
    "approx", "inc", "ltd", "co", "corp", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov",
    "dec", "u.s", "u.k", "ca", "al", "pp", "ed",
];

pub fn split(text: &str) -> Vec<Sentence> {
    let chars: Vec<char> = text.chars().collect();
    let mut sentences = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let end = if c == '\n' {
            // A blank line, or a new line that opens a list item or heading.
            let next = chars[i + 1..].iter().position(|c| *c != ' ' && *c != '\t').map(|p| i + 1 + p);
            let ends = match next {
                Some(j) => {
                    chars[j] == '\n' || matches!(chars[j], '-' | '*' | '•' | '#') || starts_numbered_item(&chars[j..])
                }
                None => true,
            };
            ends.then_some(i + 1)
        } else if matches!(c, '.' | '!' | '?') {
            sentence_end(&chars, i)
        } else {
            None
        };
        match end {
            Some(end) => {
                push_trimmed(&chars, start, end, &mut sentences);
                start = end;
                i = end;
            }
            None => i += 1,
        }
    }
    push_trimmed(&chars, start, chars.len(), &mut sentences);
    sentences
}

fn starts_numbered_item(chars: &[char]) -> bool {
    let digits = chars.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0
        && digits < 3
        && matches!(chars.get(digits), Some('.') | Some(')'))
        && chars.get(digits + 1) == Some(&' ')
}

/// Where the sentence ends if the terminal punctuation at `i` ends one (closing quotes and brackets
/// after it belong to it).
fn sentence_end(chars: &[char], i: usize) -> Option<usize> {
    let mut j = i + 1;
    while j < chars.len() && matches!(chars[j], '"' | '\'' | '”' | '’' | ')' | ']') {
        j += 1;
    }
    if j >= chars.len() {
        return Some(j);
    }
    if !chars[j].is_whitespace() {
        return None; // 3.14, e.g., example.com
    }
    let Some(&next) = chars[j..].iter().find(|c| !c.is_whitespace()) else { return Some(j) };
    if !(next.is_uppercase() || next.is_ascii_digit() || matches!(next, '"' | '“' | '(' | '[' | '\'' | '‘')) {
        return None;
    }
    if chars[i] != '.' {
        return Some(j);
    }
    let word_start = chars[..i].iter().rposition(|c| c.is_whitespace() || *c == '(').map_or(0, |p| p + 1);
    let word: String = chars[word_start..i].iter().collect::<String>().to_lowercase();
    let single_letter = word.chars().count() == 1 && word.chars().all(char::is_alphabetic);
    (!(single_letter || ABBREVIATIONS.contains(&word.as_str()))).then_some(j)
}

fn push_trimmed(chars: &[char], mut start: usize, mut end: usize, out: &mut Vec<Sentence>) {
    while start < end && chars[start].is_whitespace() {
        start += 1;
    }
    while end > start && chars[end - 1].is_whitespace() {
        end -= 1;
    }
    if end > start {
        out.push(Sentence { text: chars[start..end].iter().collect(), start, end });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(text: &str) -> Vec<String> {
        split(text).into_iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_at_sentence_ends_but_not_inside_numbers_abbreviations_or_initials() {
        assert_eq!(
            texts("Pi is 3.14 roughly. It was proved by J. H. Lambert, e.g. in 1761! Why? \"Because.\" Done"),
            ["Pi is 3.14 roughly.", "It was proved by J. H. Lambert, e.g. in 1761!", "Why?", "\"Because.\"", "Done"]
        );
    }

    #[test]
    fn lowercase_after_a_period_continues_the_sentence() {
        assert_eq!(
            texts("See the file foo. bar for details. Next one."),
            ["See the file foo. bar for details.", "Next one."]
        );
    }

    #[test]
    fn blank_lines_and_list_items_end_sentences() {
        assert_eq!(
            texts("Heading\n\nFirst item\n- second\n1. third\nstill third"),
            ["Heading", "First item", "- second", "1. third\nstill third"]
        );
    }

    #[test]
    fn spans_are_character_offsets_of_the_trimmed_sentence() {
        let text = "  Ünïcode café. Zweiter Satz.  ";
        for sentence in split(text) {
            let quoted: String = text.chars().skip(sentence.start).take(sentence.end - sentence.start).collect();
            assert_eq!(quoted, sentence.text);
        }
        assert_eq!(split(text)[1].start, 16);
    }
}
