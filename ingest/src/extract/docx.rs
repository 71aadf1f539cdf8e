//! DOCX (Office Open XML): paragraphs of `word/document.xml` to Markdown, with `Heading N` and `Title`
//! paragraph styles as headings and tables as Markdown tables.

use std::io::{Cursor, Read};

use lore_core::DocumentKind;
use quick_xml::events::Event;
use quick_xml::Reader;

use super::ExtractError;

/// A document.xml larger than this is a zip bomb, not a document.
const MAX_XML_BYTES: u64 = 256 * 1024 * 1024;

fn malformed(reason: impl ToString) -> ExtractError {
    ExtractError::Malformed { kind: DocumentKind::Docx, reason: reason.to_string() }
}

fn read_member(archive: &mut zip::ZipArchive<Cursor<&[u8]>>, name: &str) -> Result<Option<String>, ExtractError> {
    let member = match archive.by_name(name) {
        Ok(member) => member,
        Err(zip::result::ZipError::FileNotFound) => return Ok(None),
        Err(e) => return Err(malformed(e)),
    };
    let mut xml = String::new();
    member.take(MAX_XML_BYTES).read_to_string(&mut xml).map_err(malformed)?;
    Ok(Some(xml))
}

/// Returns the document's title (from its properties) and its body as Markdown.
pub fn to_markdown(bytes: &[u8]) -> Result<(Option<String>, String), ExtractError> {
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(malformed)?;
    let body = read_member(&mut archive, "word/document.xml")?.ok_or_else(|| malformed("no word/document.xml"))?;
    let title = read_member(&mut archive, "docProps/core.xml")?.and_then(|xml| core_title(&xml));
    Ok((title, body_markdown(&body)?))
}

fn core_title(xml: &str) -> Option<String> {
    let mut reader = Reader::from_str(xml);
    let mut in_title = false;
    loop {
        match reader.read_event().ok()? {
            Event::Start(e) if e.local_name().as_ref() == b"title" => in_title = true,
            Event::Text(t) if in_title => {
                let title = t.unescape().ok()?.trim().to_string();
                return (!title.is_empty()).then_some(title);
            }
            Event::End(_) => in_title = false,
            Event::Eof => return None,
            _ => {}
        }
    }
}

fn heading_level(style: &str) -> Option<usize> {
    let lower = style.to_ascii_lowercase();
    if lower == "title" {
        return Some(1);
    }
    let n = lower.strip_prefix("heading")?.trim().parse::<usize>().ok()?;
    (1..=6).contains(&n).then_some(n)
}

fn body_markdown(xml: &str) -> Result<String, ExtractError> {
    let mut reader = Reader::from_str(xml);
    let mut out = String::new();
    let mut paragraph = String::new();
    let mut style: Option<String> = None;
    let mut in_text = false;
    let mut table_depth = 0usize;
    let mut row: Vec<String> = Vec::new();
    let mut rows_in_table = 0usize;
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Start(e) | Event::Empty(e) if matches!(e.local_name().as_ref(), b"pStyle") => {
                style = e
                    .attributes()
                    .flatten()
                    .find(|a| a.key.local_name().as_ref() == b"val")
                    .and_then(|a| a.unescape_value().ok().map(|v| v.to_string()));
            }
            Event::Start(e) => match e.local_name().as_ref() {
                b"t" => in_text = true,
                b"tbl" => {
                    table_depth += 1;
                    rows_in_table = 0;
                    out.push('\n');
                }
                b"tr" => row.clear(),
                b"tc" => row.push(String::new()),
                _ => {}
            },
            Event::Empty(e) => match e.local_name().as_ref() {
                b"tab" => paragraph.push(' '),
                b"br" | b"cr" => paragraph.push('\n'),
                _ => {}
            },
            Event::Text(t) if in_text => paragraph.push_str(&t.unescape().map_err(malformed)?),
            Event::End(e) => match e.local_name().as_ref() {
                b"t" => in_text = false,
                b"p" => {
                    let text = paragraph.trim().to_string();
                    paragraph.clear();
                    if table_depth > 0 {
                        if let Some(cell) = row.last_mut() {
                            if !cell.is_empty() && !text.is_empty() {
                                cell.push(' ');
                            }
                            cell.push_str(&text.replace('|', "\\|").replace('\n', " "));
                        }
                    } else if !text.is_empty() {
                        match style.as_deref().and_then(heading_level) {
                            Some(level) => {
                                out.push_str(&format!("\n{} {}\n\n", "#".repeat(level), text.replace('\n', " ")))
                            }
                            None => out.push_str(&format!("{text}\n\n")),
                        }
                    }
                    style = None;
                }
                b"tr" => {
                    if !row.is_empty() {
                        out.push_str(&format!("| {} |\n", row.join(" | ")));
                        if rows_in_table == 0 {
                            out.push_str(&format!("|{}\n", " --- |".repeat(row.len())));
                        }
                        rows_in_table += 1;
                    }
                    row.clear();
                }
                b"tbl" => {
                    table_depth = table_depth.saturating_sub(1);
                    out.push('\n');
                }
                _ => {}
            },
            Event::Eof => break,
            _ => {}
        }
    }
    Ok(super::text::normalize(&out))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn headings_runs_and_tables_become_markdown() {
        let xml = r#"<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>
<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Expense rules</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">Meals are refunded up to </w:t></w:r><w:r><w:t>40 EUR &amp; taxis at cost.</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Item</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>Limit</w:t></w:r></w:p></w:tc></w:tr>
<w:tr><w:tc><w:p><w:r><w:t>Hotel</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>150 EUR</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
</w:body></w:document>"#;
        let md = body_markdown(xml).unwrap();
        assert!(md.starts_with("# Expense rules\n\nMeals are refunded up to 40 EUR & taxis at cost."), "{md}");
        assert!(md.contains("| Item | Limit |\n| --- | --- |\n| Hotel | 150 EUR |"), "{md}");
    }

    #[test]
    fn the_title_comes_from_the_document_properties() {
        let bytes = lore_testkit::docs::docx("Finance handbook", "Travel", &["Book trains."]);
        let (title, md) = to_markdown(&bytes).unwrap();
        assert_eq!(title.as_deref(), Some("Finance handbook"));
        assert_eq!(md, "# Travel\n\nBook trains.");
    }

    #[test]
    fn a_zip_without_a_document_is_malformed() {
        let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
        zip.start_file("other.txt", zip::write::SimpleFileOptions::default()).unwrap();
        zip.write_all(b"x").unwrap();
        let bytes = zip.finish().unwrap().into_inner();
        assert!(matches!(to_markdown(&bytes), Err(ExtractError::Malformed { .. })));
        assert!(matches!(to_markdown(b"not a zip"), Err(ExtractError::Malformed { .. })));
    }
}
