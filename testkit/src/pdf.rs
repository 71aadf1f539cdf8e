//! PDFs with a real text layer (standard Type 1 font, WinAnsi encoding), written with `lopdf`.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

const LINE_CHARS: usize = 90;
const LINES_PER_PAGE: usize = 60;

fn wrap(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for paragraph in text.split('\n') {
        let mut line = String::new();
        for word in paragraph.split_whitespace() {
            if !line.is_empty() && line.len() + 1 + word.len() > LINE_CHARS {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        lines.push(line);
    }
    lines
}

/// A PDF whose page `i` holds `pages[i]` (wrapped; at most 60 lines of 90 characters fit on a page).
pub fn text_pdf(title: Option<&str>, pages: &[&str]) -> Vec<u8> {
    build(title, pages.iter().map(|text| text_page(text)).collect())
}

/// A one-page PDF with only a drawing on it: what a scan without OCR looks like to a text extractor.
pub fn image_only_pdf() -> Vec<u8> {
    let drawing = Content {
        operations: vec![
            Operation::new("re", vec![72.into(), 72.into(), 300.into(), 400.into()]),
            Operation::new("S", vec![]),
        ],
    };
    build(None, vec![drawing])
}

fn text_page(text: &str) -> Content {
    let lines = wrap(text);
    assert!(lines.len() <= LINES_PER_PAGE, "fixture page text is too long for one page");
    let mut ops = vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 10.into()]),
        Operation::new("TL", vec![12.into()]),
        Operation::new("Td", vec![50.into(), 790.into()]),
    ];
    for line in lines {
        ops.push(Operation::new("Tj", vec![Object::string_literal(line)]));
        ops.push(Operation::new("T*", vec![]));
    }
    ops.push(Operation::new("ET", vec![]));
    Content { operations: ops }
}

fn build(title: Option<&str>, pages: Vec<Content>) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font",
        "Subtype" => "Type1",
        "BaseFont" => "Helvetica",
        "Encoding" => "WinAnsiEncoding",
    });
    let resources_id = doc.add_object(dictionary! { "Font" => dictionary! { "F1" => font_id } });
    let mut kids = Vec::new();
    for content in pages {
        let stream = Stream::new(dictionary! {}, content.encode().expect("content encodes"));
        let content_id = doc.add_object(stream);
        let page_id = doc.add_object(dictionary! {
            "Type" => "Page",
            "Parent" => pages_id,
            "Contents" => content_id,
        });
        kids.push(Object::from(page_id));
    }
    let count = kids.len() as i64;
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages",
            "Kids" => kids,
            "Count" => count,
            "Resources" => resources_id,
            "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    if let Some(title) = title {
        let info_id = doc.add_object(dictionary! { "Title" => Object::string_literal(title) });
        doc.trailer.set("Info", info_id);
    }
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("pdf serialises");
    bytes
}
