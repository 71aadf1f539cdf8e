//! Document permissions below the source. Give it the source's ACL, the nearest `.lore-acl` file's
//! principals and a page's own list (Markdown front matter), get the principals the document's chunks
//! carry, with where they came from.
//!
//! The rules, in order: a source has an ACL; an ACL file in a folder replaces it for that folder's
//! subtree (the nearest one wins); a page's front matter can only narrow what its folder grants (it
//! keeps the principals the folder also grants, any of them when the folder grants `everyone`).
//! Anything that cannot be read or parsed grants nobody (fail closed): an empty list is readable by
//! no one but administrators.

use serde::{Deserialize, Serialize};

use crate::types::EVERYONE;

/// The name of the file that sets the ACL of its folder's subtree.
pub const ACL_FILE_NAME: &str = ".lore-acl";
/// An ACL file larger than this is refused (it is a list of names, not a document).
pub const MAX_ACL_FILE_BYTES: u64 = 64 * 1024;
/// Principals in one ACL file or front matter list.
pub const MAX_PRINCIPALS: usize = 1_000;
/// Characters in one principal.
pub const MAX_PRINCIPAL_CHARS: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AclError {
    #[error("is over {} KiB", MAX_ACL_FILE_BYTES / 1024)]
    TooLarge,
    #[error("is not UTF-8 text")]
    NotText,
    #[error("lists more than {MAX_PRINCIPALS} principals")]
    TooMany,
    #[error("'{0}' is not a principal (no spaces, quotes or control characters, at most 256 characters)")]
    InvalidPrincipal(String),
}

/// Who may read one document, and why.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct DocumentAcl {
    /// The principals its chunks carry, sorted, without repeats. Empty: nobody (but administrators).
    pub principals: Vec<String>,
    /// The ACL file that governs its folder, relative to the source's folder; `None`: the source's ACL.
    pub file: Option<String>,
    /// The page's own list from its front matter, before narrowing; `None`: the page does not narrow.
    pub page: Option<Vec<String>>,
}

impl DocumentAcl {
    /// A document's ACL from what its folder grants (`inherited`: the ACL file's principals, or the
    /// source's when `file` is `None`) and its page's own list.
    pub fn resolve(inherited: &[String], file: Option<String>, page: Option<Vec<String>>) -> Self {
        let principals = match &page {
            Some(page) => narrow(inherited, page),
            None => normalize(inherited),
        };
        Self { principals, file, page }
    }
}

/// What a page's list leaves of what its folder grants: the principals both name, or the page's own
/// when the folder grants everyone. A page never widens its folder's ACL.
pub fn narrow(inherited: &[String], page: &[String]) -> Vec<String> {
    let page = normalize(page);
    if inherited.iter().any(|p| p == EVERYONE) {
        return page;
    }
    page.into_iter().filter(|p| inherited.contains(p)).collect()
}

/// Sorted, without repeats or blanks; an empty list stays empty (nobody).
pub fn normalize(principals: &[String]) -> Vec<String> {
    let mut out: Vec<String> = principals.iter().map(|p| p.trim().to_string()).filter(|p| !p.is_empty()).collect();
    out.sort();
    out.dedup();
    out
}

/// Whether `principal` may appear in an ACL: printable, no whitespace, quotes or commas, not too long.
pub fn check_principal(principal: &str) -> Result<(), AclError> {
    let valid = !principal.is_empty()
        && principal.chars().count() <= MAX_PRINCIPAL_CHARS
        && principal.chars().all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '"' | '\'' | ',' | '#'));
    if valid {
        Ok(())
    } else {
        let shown: String = principal.chars().take(40).filter(|c| !c.is_control()).collect();
        Err(AclError::InvalidPrincipal(shown))
    }
}

/// The principals of an ACL file: separated by lines, commas or spaces; `#` starts a comment to the
/// end of the line. An empty file grants nobody.
pub fn parse_acl_file(bytes: &[u8]) -> Result<Vec<String>, AclError> {
    if bytes.len() as u64 > MAX_ACL_FILE_BYTES {
        return Err(AclError::TooLarge);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| AclError::NotText)?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut principals = Vec::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or_default();
        for principal in line.split(|c: char| c == ',' || c.is_whitespace()).filter(|p| !p.is_empty()) {
            check_principal(principal)?;
            principals.push(principal.to_string());
            if principals.len() > MAX_PRINCIPALS {
                return Err(AclError::TooMany);
            }
        }
    }
    Ok(normalize(&principals))
}

/// The principals of a front matter value: `[a, b]`, `a, b` or `a` (a YAML flow list or scalar), or
/// the items of a block list (`- a` lines) when the value is empty.
pub fn parse_front_matter_list(value: &str, items: &[&str]) -> Result<Vec<String>, AclError> {
    let value = value.trim();
    let listed: Vec<&str> = if value.is_empty() {
        items.to_vec()
    } else {
        let inner = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')).unwrap_or(value);
        inner.split(',').collect()
    };
    let mut principals = Vec::new();
    for item in listed {
        let item = item.trim().trim_matches(['"', '\'']).trim();
        if item.is_empty() {
            continue;
        }
        check_principal(item)?;
        principals.push(item.to_string());
        if principals.len() > MAX_PRINCIPALS {
            return Err(AclError::TooMany);
        }
    }
    Ok(normalize(&principals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_page_narrows_and_never_widens() {
        assert_eq!(narrow(&list(&["everyone"]), &list(&["group:hr"])), list(&["group:hr"]));
        assert_eq!(
            narrow(&list(&["group:eng", "group:hr"]), &list(&["group:hr", "user:mallory"])),
            list(&["group:hr"])
        );
        assert!(narrow(&list(&["group:eng"]), &list(&["everyone"])).is_empty(), "everyone is not granted by eng");
        let acl = DocumentAcl::resolve(&list(&["group:eng"]), Some("a/.lore-acl".into()), Some(list(&["user:x"])));
        assert!(acl.principals.is_empty(), "nothing in common: nobody");
        assert_eq!(DocumentAcl::resolve(&list(&["b", "a", "a"]), None, None).principals, list(&["a", "b"]));
    }

    #[test]
    fn acl_files_are_lists_of_principals_with_comments() {
        let text = "\u{feff}# who may read this folder\ngroup:hr, user:ann@example.com\n\n  group:hr  # again\n";
        assert_eq!(parse_acl_file(text.as_bytes()).unwrap(), list(&["group:hr", "user:ann@example.com"]));
        assert_eq!(parse_acl_file(b"# nobody\n").unwrap(), Vec::<String>::new());
        assert_eq!(parse_acl_file(&[0xff, 0xfe, 0]).unwrap_err(), AclError::NotText);
        assert_eq!(parse_acl_file(&vec![b'a'; 70 * 1024]).unwrap_err(), AclError::TooLarge);
        assert!(matches!(parse_acl_file(b"group:hr\x07").unwrap_err(), AclError::InvalidPrincipal(_)));
        let many = (0..=MAX_PRINCIPALS).map(|i| format!("user:{i}")).collect::<Vec<_>>().join("\n");
        assert_eq!(parse_acl_file(many.as_bytes()).unwrap_err(), AclError::TooMany);
    }

    #[test]
    fn front_matter_lists_take_the_usual_yaml_shapes() {
        assert_eq!(parse_front_matter_list("[group:hr, 'user:bo']", &[]).unwrap(), list(&["group:hr", "user:bo"]));
        assert_eq!(parse_front_matter_list("group:hr", &[]).unwrap(), list(&["group:hr"]));
        assert_eq!(parse_front_matter_list("", &["group:a", "\"group:b\""]).unwrap(), list(&["group:a", "group:b"]));
        assert_eq!(parse_front_matter_list("[]", &[]).unwrap(), Vec::<String>::new());
        assert!(parse_front_matter_list("[group hr]", &[]).is_err());
    }
}
