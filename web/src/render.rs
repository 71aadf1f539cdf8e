//! Text to HTML: give it an answer or a document's text, get escaped HTML with citation links and
//! highlights, and the list of sources under an answer. The only place data turns into markup outside
//! the templates; the pages and the streamed answer of `/api/ask` (its `html` field) share it.

use lore_answer::guard::{self, CheckedSentence};
use lore_answer::Answer;
use lore_core::DocumentId;
use lore_retrieve::snippet::escape_html;

/// The document view of a span: its page opens with the span highlighted and scrolled into view.
pub fn span_url(document: DocumentId, start: usize, end: usize) -> String {
    format!("/documents/{}?start={start}&end={end}#cited", document.0)
}

/// The answer as HTML: each kept sentence with its `[n]` markers as links to the cited span; sentences
/// the check could not support (kept with `answer.unsupported = "flag"`, or with the guard off) marked.
pub fn answer_html(answer: &Answer) -> String {
    if answer.abstained || answer.sentences.is_empty() {
        return format!("<p>{}</p>", escape_html(&answer.text));
    }
    let sentences: Vec<String> =
        answer.sentences.iter().filter(|s| !s.removed).map(|sentence| sentence_html(answer, sentence)).collect();
    format!("<p>{}</p>", sentences.join(" "))
}

fn sentence_html(answer: &Answer, sentence: &CheckedSentence) -> String {
    let text = guard::render(std::slice::from_ref(sentence), |s| s.citations.clone());
    let mut html = String::new();
    let mut rest = text.as_str();
    while let Some(open) = rest.find('[') {
        let marker = rest[open + 1..].find(']').map(|close| &rest[open + 1..open + 1 + close]);
        let cited =
            marker.and_then(|m| m.parse::<usize>().ok()).and_then(|n| answer.citations.iter().find(|c| c.n == n));
        html.push_str(&escape_html(&rest[..open]));
        match (marker, cited) {
            (Some(marker), Some(citation)) => {
                html.push_str(&format!(
                    "<a class=\"cite\" href=\"{}\" title=\"{}\">[{marker}]</a>",
                    span_url(citation.document_id, citation.start, citation.end),
                    escape_html(&citation.title)
                ));
                rest = &rest[open + marker.len() + 2..];
            }
            _ => {
                html.push('[');
                rest = &rest[open + 1..];
            }
        }
    }
    html.push_str(&escape_html(rest));
    if sentence.supported {
        html
    } else {
        format!("<span class=\"unsupported\" title=\"Not supported by the documents\">{html}</span>")
    }
}

/// One page of a document as HTML.
pub struct PageHtml {
    /// From 1; `None` for formats without pages.
    pub number: Option<usize>,
    pub html: String,
}

/// A document's text, page by page, with the character span `highlight` marked; its first part gets
/// `id="cited"` so that the URL fragment scrolls to it.
pub fn document_pages(text: &str, page_starts: &[usize], highlight: Option<(usize, usize)>) -> Vec<PageHtml> {
    // Character offsets to byte offsets, once.
    let byte_at: Vec<usize> = text.char_indices().map(|(i, _)| i).chain(std::iter::once(text.len())).collect();
    let chars = byte_at.len() - 1;
    let byte = |char_offset: usize| byte_at[char_offset.min(chars)];
    let mut bounds: Vec<usize> = page_starts.iter().copied().filter(|&s| s <= chars).collect();
    if bounds.first() != Some(&0) {
        bounds.insert(0, 0);
    }
    let paginated = !page_starts.is_empty();
    let highlight = highlight.filter(|(start, end)| start < end && *start < chars);
    let mut first_mark = true;
    let mut pages = Vec::new();
    for (i, &start) in bounds.iter().enumerate() {
        let end = bounds.get(i + 1).copied().unwrap_or(chars);
        let mut html = String::new();
        match highlight {
            Some((h_start, h_end)) if h_start < end && h_end > start => {
                let (m_start, m_end) = (h_start.max(start), h_end.min(end));
                html.push_str(&escape_html(&text[byte(start)..byte(m_start)]));
                let id = if first_mark { " id=\"cited\"" } else { "" };
                first_mark = false;
                html.push_str(&format!("<mark{id}>{}</mark>", escape_html(&text[byte(m_start)..byte(m_end)])));
                html.push_str(&escape_html(&text[byte(m_end)..byte(end)]));
            }
            _ => html.push_str(&escape_html(&text[byte(start)..byte(end)])),
        }
        pages.push(PageHtml { number: paginated.then_some(i + 1), html });
    }
    pages
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_highlight_across_a_page_break_is_marked_on_both_pages_and_anchored_once() {
        let text = "Ünïcode page one. <b>Two</b> here.";
        let pages = document_pages(text, &[0, 18], Some((8, 22)));
        assert_eq!(pages.len(), 2);
        assert_eq!(pages[0].number, Some(1));
        assert_eq!(pages[0].html, "Ünïcode <mark id=\"cited\">page one. </mark>");
        assert_eq!(pages[1].html, "<mark>&lt;b&gt;T</mark>wo&lt;/b&gt; here.");
    }

    #[test]
    fn text_without_pages_is_one_unnumbered_page_and_bad_spans_are_ignored() {
        let pages = document_pages("a < b", &[], Some((9, 12)));
        assert_eq!(pages.len(), 1);
        assert_eq!((pages[0].number, pages[0].html.as_str()), (None, "a &lt; b"));
    }
}

/// A source listed under an answer: its number, title, link to the cited place and where it lives.
pub struct SourceView {
    pub n: usize,
    pub title: String,
    pub url: String,
    pub detail: String,
}

/// The sources listed under an answer: its citations, or for an abstention the passages it had.
pub fn answer_sources(answer: &lore_answer::Answer) -> Vec<SourceView> {
    if answer.abstained {
        return answer
            .passages
            .iter()
            .map(|p| SourceView {
                n: p.n,
                title: p.title.clone(),
                url: format!("/documents/{}", p.document_id.0),
                detail: format!("{}:{}", p.source, p.document_path),
            })
            .collect();
    }
    answer
        .citations
        .iter()
        .map(|c| SourceView {
            n: c.n,
            title: c.title.clone(),
            url: span_url(c.document_id, c.start, c.end),
            detail: match c.page {
                Some(page) => format!("{}:{}, page {page}", c.source, c.document_path),
                None => format!("{}:{}", c.source, c.document_path),
            },
        })
        .collect()
}
