//! Markdown, HTML wiki pages and DOCX files for tests, and realistic filler prose.

use std::io::{Cursor, Write};

/// A wiki export page in the shape Confluence and MediaWiki produce: navigation, sidebar and footer
/// around a main content element.
pub fn wiki_page(title: &str, body_html: &str) -> String {
    format!(
        "<!doctype html><html><head><title>{title} - Company Wiki</title><style>body{{font:14px sans-serif}}</style>\
         <script>window.analytics = 'should not be indexed';</script></head><body>\
         <nav class=\"top-nav\"><a href=\"/\">Home</a> <a href=\"/spaces\">Spaces</a></nav>\
         <div class=\"sidebar\">Recently viewed pages</div>\
         <main id=\"main-content\"><h1>{title}</h1>{body_html}</main>\
         <footer>Powered by the wiki engine</footer></body></html>"
    )
}

/// A DOCX with a `Heading 1` paragraph, body paragraphs and a document title property.
pub fn docx(title: &str, heading: &str, paragraphs: &[&str]) -> Vec<u8> {
    let escape = |s: &str| s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    let mut body =
        format!("<w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>{}</w:t></w:r></w:p>", escape(heading));
    for p in paragraphs {
        body.push_str(&format!("<w:p><w:r><w:t xml:space=\"preserve\">{}</w:t></w:r></w:p>", escape(p)));
    }
    let document = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?>\
         <w:document xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\"><w:body>{body}</w:body></w:document>"
    );
    let core = format!(
        "<?xml version=\"1.0\"?><cp:coreProperties xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" \
         xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>{}</dc:title></cp:coreProperties>",
        escape(title)
    );
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default();
    for (name, content) in [("word/document.xml", document), ("docProps/core.xml", core)] {
        zip.start_file(name, options).expect("zip entry starts");
        zip.write_all(content.as_bytes()).expect("zip entry writes");
    }
    zip.finish().expect("zip finishes").into_inner()
}

const WORDS: &[&str] = &[
    "the",
    "quarterly",
    "report",
    "describes",
    "how",
    "our",
    "teams",
    "plan",
    "budgets",
    "for",
    "hardware",
    "and",
    "software",
    "projects",
    "across",
    "several",
    "regions",
    "while",
    "keeping",
    "costs",
    "within",
    "agreed",
    "limits",
    "every",
    "manager",
    "reviews",
    "requests",
    "before",
    "approval",
    "is",
    "given",
    "employees",
    "should",
    "document",
    "decisions",
    "in",
    "shared",
    "folders",
    "so",
    "auditors",
    "can",
    "trace",
    "them",
    "later",
    "during",
    "annual",
    "checks",
];

/// `sentences` deterministic filler sentences (for bulk and for pushing text over chunk boundaries).
pub fn filler(seed: usize, sentences: usize) -> String {
    let mut out = String::new();
    let mut state = seed.wrapping_mul(2654435761).wrapping_add(1);
    for _ in 0..sentences {
        let len = 8 + state % 10;
        for i in 0..len {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let word = WORDS[(state >> 33) % WORDS.len()];
            if i == 0 {
                let mut chars = word.chars();
                let first = chars.next().map(|c| c.to_ascii_uppercase()).unwrap_or(' ');
                out.push(first);
                out.push_str(chars.as_str());
            } else {
                out.push(' ');
                out.push_str(word);
            }
        }
        out.push_str(". ");
    }
    out.trim_end().to_string()
}

/// A small mixed folder: a two-page PDF, a wiki page, Markdown, text, and one broken PDF that fails.
pub fn sample_folder(dir: &std::path::Path) {
    let files: [(&str, Vec<u8>); 5] = [
        (
            "manual.pdf",
            crate::pdf::text_pdf(
                Some("Printer manual"),
                &["Load paper into tray two.", "Replace toner when the light blinks."],
            ),
        ),
        ("wiki/vpn.html", wiki_page("VPN", "<p>Connect to the VPN before opening the intranet.</p>").into_bytes()),
        ("notes/lunch.md", b"# Lunch\n\nThe canteen serves soup on Wednesdays.\n".to_vec()),
        ("readme.txt", b"Ask the help desk for a new badge.".to_vec()),
        ("broken.pdf", b"%PDF-1.4 this is not really a pdf".to_vec()),
    ];
    for (relative, bytes) in files {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("fixture paths have a folder")).expect("fixture folder");
        std::fs::write(path, bytes).expect("fixture file");
    }
}
