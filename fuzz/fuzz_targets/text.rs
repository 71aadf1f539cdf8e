//! Any bytes as a text file: extraction returns text or an error, never crashes or overflows its stack.
#![no_main]

use libfuzzer_sys::fuzz_target;
use lore_core::DocumentKind;

fuzz_target!(|bytes: &[u8]| {
    let _ = lore_ingest::extract::extract(bytes, DocumentKind::Text);
});
