//! The flags that say who is asking and what to look in, shared by `lore search`, `lore ask` and `lore chat`.

use clap::Args;
use lore_core::DocumentKind;
use lore_retrieve::{Access, Narrowing};

use crate::dates::parse_date_ms;

#[derive(Args, Clone)]
pub struct ScopeArgs {
    /// Only this source (repeatable).
    #[arg(long = "source", value_name = "NAME")]
    pub sources: Vec<String>,
    /// Only this document type: pdf, markdown (md), html, text (txt), docx (repeatable).
    #[arg(long = "type", value_name = "TYPE", value_parser = parse_kind)]
    pub kinds: Vec<DocumentKind>,
    /// Only documents modified on or after this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date_ms)]
    pub after: Option<i64>,
    /// Only documents modified before this day (YYYY-MM-DD, UTC).
    #[arg(long, value_name = "DATE", value_parser = parse_date_ms)]
    pub before: Option<i64>,
    /// Act as a user holding this principal (repeatable); `everyone` is always held.
    #[arg(long = "principal", short = 'p', value_name = "PRINCIPAL", conflicts_with = "unrestricted")]
    pub principals: Vec<String>,
    /// Ignore document permissions (administrators only: it reads every document).
    #[arg(long)]
    pub unrestricted: bool,
}

impl ScopeArgs {
    pub fn access(&self) -> Access {
        if self.unrestricted {
            Access::Unrestricted
        } else {
            Access::Principals(self.principals.clone())
        }
    }

    pub fn narrowing(&self) -> Narrowing {
        Narrowing {
            sources: self.sources.clone(),
            kinds: self.kinds.clone(),
            modified_after_ms: self.after,
            modified_before_ms: self.before,
        }
    }
}

fn parse_kind(name: &str) -> Result<DocumentKind, String> {
    let normalised = name.to_ascii_lowercase();
    DocumentKind::parse(&normalised).or_else(|| DocumentKind::from_extension(&normalised)).ok_or_else(|| {
        let known: Vec<&str> = DocumentKind::ALL.iter().map(|k| k.as_str()).collect();
        format!("unknown document type '{name}' (known: {})", known.join(", "))
    })
}
