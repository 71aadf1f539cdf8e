//! Plain text: decoding and whitespace normalisation shared by every extractor.

use lore_core::DocumentKind;

use super::ExtractError;

/// Decodes UTF-8 (with or without BOM) or UTF-16 with BOM; other single-byte text is read as Latin-1.
/// Content with NUL bytes or mostly control characters is refused as binary.
pub fn decode(bytes: &[u8], kind: DocumentKind) -> Result<String, ExtractError> {
    if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        return decode(rest, kind);
    }
    if let Some(text) = decode_utf16(bytes) {
        return Ok(text);
    }
    let sample = &bytes[..bytes.len().min(64 * 1024)];
    let controls = sample.iter().filter(|&&b| b < 0x20 && !matches!(b, b'\n' | b'\r' | b'\t' | 0x0c)).count();
    if sample.contains(&0) || controls * 10 > sample.len() {
        return Err(ExtractError::Binary(kind));
    }
    Ok(match std::str::from_utf8(bytes) {
        Ok(s) => s.to_string(),
        Err(_) => bytes.iter().map(|&b| b as char).collect(),
    })
}

fn decode_utf16(bytes: &[u8]) -> Option<String> {
    let (little_endian, body) = match bytes {
        [0xFF, 0xFE, rest @ ..] => (true, rest),
        [0xFE, 0xFF, rest @ ..] => (false, rest),
        _ => return None,
    };
    let units = body.chunks_exact(2).map(|p| {
        if little_endian {
            u16::from_le_bytes([p[0], p[1]])
        } else {
            u16::from_be_bytes([p[0], p[1]])
        }
    });
    Some(char::decode_utf16(units).map(|c| c.unwrap_or(char::REPLACEMENT_CHARACTER)).collect())
}

/// Unix line ends, no control characters, no trailing spaces, at most one blank line in a row, and runs
/// of spaces inside a line collapsed (PDF extraction pads columns with them). Leading indentation is
/// kept: it carries structure (nested lists, code).
pub fn normalize(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut blank_lines = 0;
    for line in text.replace("\r\n", "\n").replace('\r', "\n").split('\n') {
        let mut cleaned = String::with_capacity(line.len());
        let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
        cleaned.push_str(&" ".repeat(indent));
        let mut last_space = false;
        for c in line[indent..].chars() {
            let c = if c == '\t' || c == '\u{a0}' { ' ' } else { c };
            if c.is_control() {
                continue;
            }
            if c == ' ' {
                if last_space {
                    continue;
                }
                last_space = true;
            } else {
                last_space = false;
            }
            cleaned.push(c);
        }
        let cleaned = cleaned.trim_end();
        if cleaned.trim().is_empty() {
            blank_lines += 1;
            if blank_lines > 1 || out.is_empty() {
                continue;
            }
            out.push('\n');
        } else {
            blank_lines = 0;
            out.push_str(cleaned);
            out.push('\n');
        }
    }
    out.trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_utf8_utf16_and_latin1_and_refuses_binary() {
        assert_eq!(decode("héllo".as_bytes(), DocumentKind::Text).unwrap(), "héllo");
        assert_eq!(decode(&[0xEF, 0xBB, 0xBF, b'a'], DocumentKind::Text).unwrap(), "a");
        assert_eq!(decode(&[0xFF, 0xFE, b'h', 0, b'i', 0], DocumentKind::Text).unwrap(), "hi");
        assert_eq!(decode(&[b'c', b'a', b'f', 0xE9], DocumentKind::Text).unwrap(), "café");
        let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
        assert_eq!(decode(&garbage, DocumentKind::Text).unwrap_err(), ExtractError::Binary(DocumentKind::Text));
    }

    #[test]
    fn normalizes_whitespace() {
        assert_eq!(normalize("a  b\t c \r\n\r\n\r\n\n d\u{7}e  \n"), "a b c\n\n de");
        assert_eq!(normalize("- item\n  - nested   item\n"), "- item\n  - nested item");
    }
}
