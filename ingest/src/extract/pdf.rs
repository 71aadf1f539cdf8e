//! PDF, page by page, with `pdf-extract` over `lopdf`: every page's text starts at a recorded offset so
//! that every chunk knows its page.
//!
//! A page that fails to parse is left empty (and logged) rather than failing the whole document; a
//! document where every page fails is malformed; one whose pages parse but hold no text is a scan
//! (`extract` reports it as [`super::ExtractError::NoTextLayer`]).

use lopdf::{Document, Object};
use lore_core::DocumentKind;
use pdf_extract::PlainTextOutput;

use super::text::normalize;
use super::{ExtractError, Extracted, TextLayout};

fn malformed(reason: impl ToString) -> ExtractError {
    ExtractError::Malformed { kind: DocumentKind::Pdf, reason: reason.to_string().to_lowercase() }
}

/// One page of text, as soon as it is extracted.
pub struct PdfPage<'a> {
    /// 1-based.
    pub number: u32,
    pub text: &'a str,
    /// Character offset of the page in the whole extracted text.
    pub char_start: usize,
}

/// Receives pages as they are extracted; returning `false` stops the extraction.
pub type PageSink<'s> = dyn FnMut(PdfPage<'_>) -> bool + 's;

pub fn extract(bytes: &[u8], on_page: &mut PageSink<'_>) -> Result<Extracted, ExtractError> {
    if !bytes.starts_with(b"%PDF") && !bytes[..bytes.len().min(1024)].windows(4).any(|w| w == b"%PDF") {
        return Err(malformed("no %PDF header"));
    }
    let mut doc = match Document::load_mem(bytes) {
        Ok(doc) => doc,
        Err(lopdf::Error::Decryption(_)) => return Err(ExtractError::Encrypted),
        Err(e) => return Err(malformed(e)),
    };
    if doc.is_encrypted() && doc.decrypt("").is_err() {
        // Many PDFs are encrypted only to set permissions, with an empty user password; the rest
        // need a password we do not have.
        return Err(ExtractError::Encrypted);
    }
    let pages = doc.get_pages();
    if pages.is_empty() {
        return Err(malformed("the document has no pages"));
    }
    let mut text = String::new();
    let mut page_starts = Vec::with_capacity(pages.len());
    let mut failed_pages = 0usize;
    let mut last_error = String::new();
    let mut chars = 0usize;
    for &number in pages.keys() {
        page_starts.push(text.len());
        let mut raw = String::new();
        let result = {
            let mut output = PlainTextOutput::new(&mut raw);
            pdf_extract::output_doc_page(&doc, &mut output, number)
        };
        if let Err(e) = result {
            failed_pages += 1;
            last_error = e.to_string();
            tracing::debug!(page = number, error = %e, "pdf page could not be read");
            raw.clear();
        }
        let page = normalize(&raw);
        if !on_page(PdfPage { number: page_starts.len() as u32, text: &page, char_start: chars }) {
            return Err(ExtractError::Cancelled);
        }
        chars += page.chars().count() + 2;
        text.push_str(&page);
        text.push_str("\n\n");
    }
    if failed_pages == pages.len() {
        return Err(malformed(format!("none of its {} pages could be read: {last_error}", pages.len())));
    }
    // Whether any page held text is judged by the caller, for every format alike.
    Ok(Extracted {
        title: info_title(&doc),
        layout: TextLayout::Plain,
        text,
        page_starts,
        headings: Vec::new(),
        page_acl: None,
    })
}

/// The `/Title` of the document information dictionary, when it is a real title.
fn info_title(doc: &Document) -> Option<String> {
    let info = match doc.trailer.get(b"Info").ok()? {
        Object::Reference(id) => doc.get_dictionary(*id).ok()?,
        Object::Dictionary(dict) => dict,
        _ => return None,
    };
    let title = lopdf::decode_text_string(info.get(b"Title").ok()?).ok()?;
    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
    (!super::is_placeholder_title(&title)).then_some(title)
}
