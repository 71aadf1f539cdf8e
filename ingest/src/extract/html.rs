//! HTML wiki exports (Confluence, MediaWiki, Notion, static sites) to Markdown: the main content only,
//! headings kept, tables as Markdown tables, scripts, styles and navigation dropped.

use ego_tree::iter::Edge;
use ego_tree::NodeRef;
use scraper::{ElementRef, Html, Node, Selector};

use super::text::normalize;

/// Where wiki engines put the page's own content, most specific first.
const MAIN_CONTENT: &[&str] = &[
    "main",
    "[role=main]",
    "article",
    "#main-content",
    "#content .wiki-content",
    ".mw-parser-output",
    "#content",
    ".content",
];

/// Elements that never hold the page's content.
const DROPPED: &[&str] = &[
    "script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button", "svg", "iframe",
    "object", "canvas", "select", "head", "menu",
];

/// Element nesting the Markdown writer follows with its structure (it recurses, once per level); deeper
/// content is kept as plain text, walked without recursion. Real pages nest a few dozen levels; a
/// hostile one nests 100,000 `<div>`s to overflow the stack, which no panic handler can catch.
const MAX_NESTING: usize = 128;

/// Elements that start a new block when their content is flattened.
const BLOCKS: &[&str] = &[
    "p",
    "div",
    "section",
    "blockquote",
    "dl",
    "dt",
    "dd",
    "figure",
    "details",
    "li",
    "tr",
    "table",
    "pre",
    "br",
    "hr",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "ul",
    "ol",
    "article",
    "main",
];

/// Returns the page title and its main content as Markdown.
pub fn to_markdown(source: &str) -> (Option<String>, String) {
    let document = Html::parse_document(source);
    let title = Selector::parse("title")
        .ok()
        .and_then(|s| document.select(&s).next())
        .map(|t| collapse(&t.text().collect::<String>()))
        .filter(|t| !t.is_empty());
    let root = MAIN_CONTENT
        .iter()
        .filter_map(|css| Selector::parse(css).ok())
        .find_map(|s| document.select(&s).find(|e| e.text().any(|t| !t.trim().is_empty())))
        .unwrap_or_else(|| document.root_element());
    let mut out = Writer::default();
    out.children(*root);
    // A page's own first heading names it better than a <title> stuffed with the site's name.
    let markdown = normalize(&out.buf);
    (title, markdown)
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn is_navigation(element: &ElementRef<'_>) -> bool {
    let e = element.value();
    if DROPPED.contains(&e.name()) || e.attr("hidden").is_some() || e.attr("aria-hidden") == Some("true") {
        return true;
    }
    if matches!(e.attr("role"), Some("navigation" | "banner" | "contentinfo" | "search")) {
        return true;
    }
    let marker = |s: &str| ["sidebar", "breadcrumb", "navbar", "toc", "footer", "cookie"].iter().any(|m| s.contains(m));
    e.classes().any(marker) || e.id().is_some_and(marker)
}

#[derive(Default)]
struct Writer {
    buf: String,
    list_depth: usize,
    /// Elements entered on the way to the current node.
    nesting: usize,
}

impl Writer {
    fn block_break(&mut self) {
        if !self.buf.is_empty() && !self.buf.ends_with("\n\n") {
            self.buf.push_str(if self.buf.ends_with('\n') { "\n" } else { "\n\n" });
        }
    }

    fn children(&mut self, node: NodeRef<'_, Node>) {
        if self.nesting >= MAX_NESTING {
            self.flattened_children(node);
            return;
        }
        self.nesting += 1;
        for child in node.children() {
            self.node(child);
        }
        self.nesting -= 1;
    }

    /// The visible text under `node`, one block per line, walked iteratively (any depth).
    fn flattened_children(&mut self, node: NodeRef<'_, Node>) {
        let mut skipping: Option<ego_tree::NodeId> = None;
        for edge in node.traverse() {
            match edge {
                Edge::Open(n) if n.id() == node.id() => {}
                Edge::Open(n) if skipping.is_none() => match n.value() {
                    Node::Text(text) => self.text(text),
                    Node::Element(e) => {
                        if ElementRef::wrap(n).is_some_and(|element| is_navigation(&element)) {
                            skipping = Some(n.id());
                        } else if BLOCKS.contains(&e.name()) {
                            self.block_break();
                        }
                    }
                    _ => {}
                },
                Edge::Close(n) if skipping == Some(n.id()) => skipping = None,
                _ => {}
            }
        }
    }

    fn text(&mut self, text: &str) {
        let collapsed = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if collapsed.is_empty() {
            if !text.is_empty() && !self.buf.ends_with([' ', '\n']) && !self.buf.is_empty() {
                self.buf.push(' ');
            }
            return;
        }
        if text.starts_with(char::is_whitespace) && !self.buf.ends_with([' ', '\n']) && !self.buf.is_empty() {
            self.buf.push(' ');
        }
        self.buf.push_str(&collapsed);
        if text.ends_with(char::is_whitespace) {
            self.buf.push(' ');
        }
    }

    fn node(&mut self, node: NodeRef<'_, Node>) {
        match node.value() {
            Node::Text(text) => self.text(text),
            Node::Element(_) => {
                let Some(element) = ElementRef::wrap(node) else { return };
                self.element(element);
            }
            _ => {}
        }
    }

    fn element(&mut self, element: ElementRef<'_>) {
        if is_navigation(&element) {
            return;
        }
        let name = element.value().name();
        match name {
            "h1" | "h2" | "h3" | "h4" | "h5" | "h6" => {
                let level = usize::from(name.as_bytes()[1] - b'0');
                let text = collapse(&element.text().collect::<String>());
                if !text.is_empty() {
                    self.block_break();
                    self.buf.push_str(&"#".repeat(level));
                    self.buf.push(' ');
                    self.buf.push_str(&text);
                    self.buf.push_str("\n\n");
                }
            }
            "p" | "div" | "section" | "blockquote" | "dl" | "figure" | "details" => {
                self.block_break();
                self.children(*element);
                self.block_break();
            }
            "br" => self.buf.push('\n'),
            "hr" => {
                self.block_break();
            }
            "pre" => {
                self.block_break();
                self.buf.push_str("```\n");
                self.buf.push_str(element.text().collect::<String>().trim_end());
                self.buf.push_str("\n```\n\n");
            }
            "code" | "kbd" | "samp" => {
                let text = element.text().collect::<String>();
                self.buf.push('`');
                self.buf.push_str(text.trim());
                self.buf.push('`');
            }
            "ul" | "ol" => {
                self.block_break();
                self.list_depth += 1;
                let ordered = name == "ol";
                let mut n = 0;
                for item in element.children().filter_map(ElementRef::wrap) {
                    if item.value().name() != "li" {
                        continue;
                    }
                    n += 1;
                    if !self.buf.ends_with('\n') && !self.buf.is_empty() {
                        self.buf.push('\n');
                    }
                    self.buf.push_str(&"  ".repeat(self.list_depth - 1));
                    if ordered {
                        self.buf.push_str(&format!("{n}. "));
                    } else {
                        self.buf.push_str("- ");
                    }
                    self.children(*item);
                }
                self.list_depth -= 1;
                self.buf.push('\n');
                if self.list_depth == 0 {
                    self.block_break();
                }
            }
            "table" => self.table(element),
            "img" => {
                if let Some(alt) = element.value().attr("alt").map(collapse).filter(|a| !a.is_empty()) {
                    self.buf.push_str(&alt);
                }
            }
            _ => self.children(*element),
        }
    }

    fn table(&mut self, table: ElementRef<'_>) {
        let row_selector = Selector::parse("tr").expect("static selector");
        let rows: Vec<Vec<String>> = table
            .select(&row_selector)
            .map(|row| {
                row.children()
                    .filter_map(ElementRef::wrap)
                    .filter(|c| matches!(c.value().name(), "td" | "th"))
                    .map(|cell| collapse(&cell.text().collect::<String>()).replace('|', "\\|"))
                    .collect::<Vec<_>>()
            })
            .filter(|cells| !cells.is_empty())
            .collect();
        let Some(width) = rows.iter().map(Vec::len).max() else { return };
        self.block_break();
        for (i, row) in rows.iter().enumerate() {
            self.buf.push('|');
            for col in 0..width {
                self.buf.push(' ');
                self.buf.push_str(row.get(col).map_or("", String::as_str));
                self.buf.push_str(" |");
            }
            self.buf.push('\n');
            if i == 0 {
                self.buf.push('|');
                self.buf.push_str(&" --- |".repeat(width));
                self.buf.push('\n');
            }
        }
        self.buf.push('\n');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<!doctype html><html><head><title>Travel policy - Wiki</title>
        <style>.x{color:red}</style><script>var tracking = 1;</script></head>
        <body><nav><a href="/">Home</a> | <a href="/hr">HR</a></nav>
        <div class="sidebar">Recent changes</div>
        <main><h1>Travel policy</h1><p>Employees book trains for trips under <b>4 hours</b>.</p>
        <h2>Per diem</h2><table><tr><th>City</th><th>Rate</th></tr><tr><td>Paris</td><td>90 EUR</td></tr></table>
        <ul><li>Keep receipts</li><li>Submit within 30 days</li></ul></main>
        <footer>Copyright</footer></body></html>"#;

    #[test]
    fn keeps_main_content_headings_and_tables() {
        let (title, md) = to_markdown(PAGE);
        assert_eq!(title.as_deref(), Some("Travel policy - Wiki"));
        assert!(md.starts_with("# Travel policy\n\nEmployees book trains for trips under 4 hours."), "{md}");
        assert!(md.contains("## Per diem"), "{md}");
        assert!(md.contains("| City | Rate |\n| --- | --- |\n| Paris | 90 EUR |"), "{md}");
        assert!(md.contains("- Keep receipts\n- Submit within 30 days"), "{md}");
        for dropped in ["tracking", "color:red", "Home", "Recent changes", "Copyright"] {
            assert!(!md.contains(dropped), "{dropped} leaked into {md}");
        }
    }

    #[test]
    fn deep_nesting_keeps_its_text_without_recursing_that_deep() {
        // The 220 KB file of the report: 20,000 levels overflowed the recursive writer's stack.
        let depth = 20_000;
        let page = format!(
            "<html><body>{}deep words<script>hidden()</script>{}</body></html>",
            "<div>".repeat(depth),
            "</div>".repeat(depth)
        );
        let (_, md) = std::thread::Builder::new()
            .stack_size(1024 * 1024)
            .spawn(move || to_markdown(&page))
            .unwrap()
            .join()
            .expect("a small stack is enough");
        assert_eq!(md, "deep words");
    }

    #[test]
    fn falls_back_to_body_without_main_element() {
        let (_, md) = to_markdown("<html><body><h2>Notes</h2><p>plain page</p></body></html>");
        assert_eq!(md, "## Notes\n\nplain page");
    }
}
