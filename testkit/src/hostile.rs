//! Files written to break a parser: nesting that a recursive walk cannot survive, PDFs whose structure
//! loops. Each holds a little ordinary text so that a test can tell what was kept.

use lopdf::content::{Content, Operation};
use lopdf::{dictionary, Document, Object, Stream};

/// An HTML page whose text sits inside `depth` nested `<div>`s (20,000 is the 220 KB file of the report
/// that overflowed the stack).
pub fn nested_html(depth: usize, text: &str) -> String {
    format!("<html><body>{}{text}{}</body></html>", "<div>".repeat(depth), "</div>".repeat(depth))
}

/// Markdown with `depth` nested block quotes, then `depth` nested list items, each holding `text`.
pub fn nested_markdown(depth: usize, text: &str) -> String {
    let mut md = format!("# Deep\n\n{}{text}\n\n", "> ".repeat(depth));
    for level in 0..depth {
        md.push_str(&"  ".repeat(level));
        md.push_str("- ");
        if level + 1 == depth {
            md.push_str(text);
        }
        md.push('\n');
    }
    md
}

fn save(mut doc: Document) -> Vec<u8> {
    let mut bytes = Vec::new();
    doc.save_to(&mut bytes).expect("pdf serialises");
    bytes
}

fn text_ops(text: &str) -> Vec<Operation> {
    vec![
        Operation::new("BT", vec![]),
        Operation::new("Tf", vec!["F1".into(), 10.into()]),
        Operation::new("Td", vec![50.into(), 700.into()]),
        Operation::new("Tj", vec![Object::string_literal(text)]),
        Operation::new("ET", vec![]),
    ]
}

/// A one-page PDF with `text`, whose page draws a form XObject that draws itself.
pub fn self_drawing_form_pdf(text: &str) -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let form_id = doc.new_object_id();
    let font_id = doc.add_object(dictionary! {
        "Type" => "Font", "Subtype" => "Type1", "BaseFont" => "Helvetica", "Encoding" => "WinAnsiEncoding",
    });
    let draw_self = Content { operations: vec![Operation::new("Do", vec!["X1".into()])] };
    let form = Stream::new(
        dictionary! {
            "Type" => "XObject",
            "Subtype" => "Form",
            "BBox" => vec![0.into(), 0.into(), 100.into(), 100.into()],
            "Resources" => dictionary! { "XObject" => dictionary! { "X1" => form_id } },
        },
        draw_self.encode().expect("content encodes"),
    );
    doc.objects.insert(form_id, Object::Stream(form));
    let mut ops = text_ops(text);
    ops.push(Operation::new("Do", vec!["X1".into()]));
    let content_id = doc.add_object(Stream::new(dictionary! {}, Content { operations: ops }.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
        "Resources" => dictionary! {
            "Font" => dictionary! { "F1" => font_id },
            "XObject" => dictionary! { "X1" => form_id },
        },
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! { "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1 }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    save(doc)
}

/// A one-page PDF whose page inherits its resources from a page tree node that is its own parent.
pub fn parent_cycle_pdf() -> Vec<u8> {
    let mut doc = Document::with_version("1.5");
    let pages_id = doc.new_object_id();
    let drawing = Content {
        operations: vec![
            Operation::new("re", vec![72.into(), 72.into(), 300.into(), 400.into()]),
            Operation::new("S", vec![]),
        ],
    };
    let content_id = doc.add_object(Stream::new(dictionary! {}, drawing.encode().unwrap()));
    let page_id = doc.add_object(dictionary! {
        "Type" => "Page",
        "Parent" => pages_id,
        "Contents" => content_id,
        "MediaBox" => vec![0.into(), 0.into(), 595.into(), 842.into()],
    });
    doc.objects.insert(
        pages_id,
        Object::Dictionary(dictionary! {
            "Type" => "Pages", "Kids" => vec![page_id.into()], "Count" => 1, "Parent" => pages_id,
        }),
    );
    let catalog_id = doc.add_object(dictionary! { "Type" => "Catalog", "Pages" => pages_id });
    doc.trailer.set("Root", catalog_id);
    save(doc)
}
