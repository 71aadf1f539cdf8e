//! Give it a query and a hit's text, get the passage of the text that best shows why it matched, with
//! the query's words marked.

use std::collections::HashSet;
use std::ops::Range;

use lore_core::text::{analyze, for_each_term, is_stopword};
use serde::{Deserialize, Serialize};

/// A short extract of a hit's text, on one line.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snippet {
    pub text: String,
    /// Byte ranges of `text` that hold query words.
    pub highlights: Vec<Range<usize>>,
}

impl Snippet {
    /// HTML-escaped text with each highlight in `<mark>`: safe to insert into a page as is.
    pub fn to_html(&self) -> String {
        let mut html = String::with_capacity(self.text.len() + self.highlights.len() * 13);
        let mut at = 0;
        for range in &self.highlights {
            escape_into(&mut html, &self.text[at..range.start]);
            html.push_str("<mark>");
            escape_into(&mut html, &self.text[range.clone()]);
            html.push_str("</mark>");
            at = range.end;
        }
        escape_into(&mut html, &self.text[at..]);
        html
    }
}

/// `text` HTML-escaped (`&`, `<`, `>`, `"`, `'`), for pages that show passages and answers.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    escape_into(&mut out, text);
    out
}

fn escape_into(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
}

/// The query's words, analysed the way the index analyses text, so "Installing" marks "installation".
pub struct Highlighter {
    terms: HashSet<String>,
}

/// Matches considered when placing the window; a chunk rarely has more.
const MAX_MATCHES: usize = 256;

impl Highlighter {
    pub fn new(query: &str) -> Self {
        let all: Vec<String> = analyze(query).into_iter().map(|t| t.term).collect();
        let content: HashSet<String> = all.iter().filter(|t| !is_stopword(t)).cloned().collect();
        Self { terms: if content.is_empty() { all.into_iter().collect() } else { content } }
    }

    /// At most `max_chars` characters of `text` (plus ellipses), placed to hold as many distinct query
    /// words as possible, with some context before the first.
    pub fn snippet(&self, text: &str, max_chars: usize) -> Snippet {
        let mut matches: Vec<(Range<usize>, &str)> = Vec::new();
        for_each_term(text, |term, start, end| {
            if matches.len() < MAX_MATCHES {
                if let Some(known) = self.terms.get(term) {
                    matches.push((start..end, known.as_str()));
                }
            }
        });
        let lead = max_chars / 5;
        let mut best: Option<((usize, usize), usize)> = None;
        for (range, _) in &matches {
            let start = chars_before(text, range.start, lead);
            let end = chars_after(text, start, max_chars);
            let inside: Vec<&str> =
                matches.iter().filter(|(r, _)| r.start >= start && r.end <= end).map(|(_, t)| *t).collect();
            let distinct = inside.iter().collect::<HashSet<_>>().len();
            let rank = (distinct, inside.len());
            if best.is_none_or(|(b, _)| rank > b) {
                best = Some((rank, start));
            }
        }
        let start = word_start(text, best.map_or(0, |(_, start)| start));
        let end = word_end(text, start, chars_after(text, start, max_chars));
        let window: Vec<&Range<usize>> =
            matches.iter().map(|(r, _)| r).filter(|r| r.start >= start && r.end <= end).collect();
        build(text, start, end, &window)
    }
}

/// Byte offset `n` characters before `at` (or 0).
fn chars_before(text: &str, at: usize, n: usize) -> usize {
    text[..at].char_indices().rev().nth(n.saturating_sub(1)).map_or(0, |(i, _)| i)
}

/// Byte offset `n` characters after `from` (or the end).
fn chars_after(text: &str, from: usize, n: usize) -> usize {
    text[from..].char_indices().nth(n).map_or(text.len(), |(i, _)| from + i)
}

/// Moves a window start forward past a partial word, unless that would skip a long run of text.
fn word_start(text: &str, start: usize) -> usize {
    if start == 0 || text[..start].ends_with(char::is_whitespace) {
        return start;
    }
    match text[start..].char_indices().take(20).find(|(_, c)| c.is_whitespace()) {
        Some((i, _)) => start + i,
        None => start,
    }
}

/// Moves a window end back before a partial word, unless that would drop half the window.
fn word_end(text: &str, start: usize, end: usize) -> usize {
    if end >= text.len() || text[end..].starts_with(char::is_whitespace) {
        return end;
    }
    match text[start..end].rfind(char::is_whitespace) {
        Some(i) if i > (end - start) / 2 => start + i,
        _ => end,
    }
}

/// Byte ranges of Markdown heading marks (`## ` at the start of a line) within `start..end`: the
/// snippet shows the heading's words, not its syntax.
fn heading_marks(text: &str, start: usize, end: usize) -> Vec<Range<usize>> {
    let mut marks = Vec::new();
    let mut line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    while line_start < end {
        let line = &text[line_start..end];
        let hashes = line.bytes().take_while(|&b| b == b'#').count();
        if (1..=6).contains(&hashes) && line[hashes..].starts_with(' ') && line_start + hashes > start {
            marks.push(line_start.max(start)..line_start + hashes);
        }
        match line.find('\n') {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    marks
}

/// The window's text on one line (whitespace runs and table borders collapsed, heading marks dropped), highlights
/// re-mapped onto it.
fn build(text: &str, start: usize, end: usize, matches: &[&Range<usize>]) -> Snippet {
    let marks = heading_marks(text, start, end);
    let mut out = String::new();
    let mut highlights = Vec::new();
    let push_collapsed = |out: &mut String, from: usize, to: usize| {
        for (i, c) in text[from..to].char_indices() {
            if marks.iter().any(|m| m.contains(&(from + i))) {
                continue;
            }
            // Table cell borders read as spaces on one line.
            if c.is_whitespace() || c == '|' {
                if !out.is_empty() && !out.ends_with(' ') {
                    out.push(' ');
                }
            } else {
                out.push(c);
            }
        }
    };
    if start > 0 {
        out.push_str("… ");
    }
    let mut at = start;
    for range in matches {
        push_collapsed(&mut out, at, range.start);
        let from = out.len();
        push_collapsed(&mut out, range.start, range.end);
        highlights.push(from..out.len());
        at = range.end;
    }
    push_collapsed(&mut out, at, end);
    let trimmed = out.trim_end().len();
    out.truncate(trimmed);
    if end < text.len() {
        out.push_str(" …");
    }
    Snippet { text: out, highlights }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(s: &Snippet) -> String {
        let mut out = String::new();
        let mut at = 0;
        for r in &s.highlights {
            out.push_str(&s.text[at..r.start]);
            out.push('[');
            out.push_str(&s.text[r.clone()]);
            out.push(']');
            at = r.end;
        }
        out + &s.text[at..]
    }

    #[test]
    fn stemmed_query_words_are_marked_and_function_words_are_not() {
        let s = Highlighter::new("how to install the printers").snippet("Installing a printer:\n\nthe  driver.", 100);
        assert_eq!(marked(&s), "[Installing] a [printer]: the driver.");
    }

    #[test]
    fn the_window_goes_where_the_query_words_are() {
        let text = format!("{} the vacation policy allows twenty days {}", "filler ".repeat(50), "tail ".repeat(50));
        let s = Highlighter::new("vacation days").snippet(&text, 60);
        assert!(s.text.starts_with("… ") && s.text.ends_with(" …"), "{}", s.text);
        assert!(marked(&s).contains("[vacation] policy allows twenty [days]"), "{}", marked(&s));
        assert!(s.text.chars().count() <= 60 + 4);
    }

    #[test]
    fn text_without_matches_shows_its_beginning() {
        let s = Highlighter::new("zebra").snippet("Alpha beta gamma delta epsilon", 12);
        assert_eq!(s.text, "Alpha beta …");
        assert!(s.highlights.is_empty());
    }

    #[test]
    fn markdown_heading_marks_are_dropped() {
        let s = Highlighter::new("vpn").snippet("# VPN setup\n\nThe VPN is required.\n\n## Install #1\n| a | b |", 100);
        assert_eq!(marked(&s), "[VPN] setup The [VPN] is required. Install #1 a b");
    }

    #[test]
    fn html_is_escaped_around_marks() {
        let s = Highlighter::new("x").snippet("a<b & x > \"y\"", 50);
        assert_eq!(s.to_html(), "a&lt;b &amp; <mark>x</mark> &gt; &quot;y&quot;");
    }

    #[test]
    fn multibyte_text_is_cut_on_character_boundaries() {
        let text = "日本語のテキスト ".repeat(40) + "Zürich Straße café";
        let s = Highlighter::new("zurich cafe").snippet(&text, 30);
        assert!(marked(&s).contains("[Zürich] Straße [café]"), "{}", marked(&s));
    }
}
