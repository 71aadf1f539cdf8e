//! Discovery: give it a folder, get the files Lore indexes in it, with size and modification time.
//!
//! Hidden files and folders, editor lock files and symbolic links are skipped (a link could lead out of
//! the folder a source was given). Folders that cannot be read are reported, so that their files are
//! not mistaken for deleted ones. ACL files (`.lore-acl`) are listed apart: they are not documents.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use lore_core::acl::ACL_FILE_NAME;
use lore_core::DocumentKind;
use walkdir::WalkDir;

#[derive(Debug, Clone, PartialEq)]
pub struct FoundFile {
    pub absolute: PathBuf,
    /// Relative to the root, `/`-separated: the document's path in the catalog.
    pub relative: String,
    pub kind: DocumentKind,
    pub size: u64,
    pub modified_ms: i64,
}

#[derive(Debug, Default)]
pub struct Discovery {
    pub files: Vec<FoundFile>,
    /// Relative paths that could not be read, with the reason. Nothing below them counts as removed.
    pub unreadable: Vec<(String, String)>,
    /// Every `.lore-acl` entry but a folder (relative path): one that is not a regular file (a link)
    /// still governs its folder, and grants nobody.
    pub acl_files: Vec<String>,
}

impl Discovery {
    /// Whether `relative` lies in (or is) a path that could not be read.
    pub fn is_shadowed(&self, relative: &str) -> bool {
        self.unreadable.iter().any(|(dir, _)| {
            dir.is_empty() || relative == dir || relative.strip_prefix(dir.as_str()).is_some_and(|r| r.starts_with('/'))
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{0} is not a folder")]
    NotAFolder(PathBuf),
}

fn relative_path(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).unwrap_or(path);
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

fn is_skipped_name(name: &str) -> bool {
    name.starts_with('.') || name.starts_with("~$") || name.ends_with('~')
}

pub fn discover(root: &Path) -> Result<Discovery, DiscoverError> {
    if !root.exists() {
        return Err(DiscoverError::Missing(root.to_path_buf()));
    }
    if !root.is_dir() {
        return Err(DiscoverError::NotAFolder(root.to_path_buf()));
    }
    let mut discovery = Discovery::default();
    let walker = WalkDir::new(root).follow_links(false).sort_by_file_name().into_iter().filter_entry(|e| {
        let name = e.file_name().to_string_lossy();
        e.depth() == 0 || (name == ACL_FILE_NAME && !e.file_type().is_dir()) || !is_skipped_name(&name)
    });
    for entry in walker {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                let path = e.path().map(|p| relative_path(root, p)).unwrap_or_default();
                let reason = e.io_error().map_or_else(|| e.to_string(), |io| io.to_string()).to_lowercase();
                discovery.unreadable.push((path, reason));
                continue;
            }
        };
        if entry.depth() > 0 && entry.file_name() == ACL_FILE_NAME {
            discovery.acl_files.push(relative_path(root, entry.path()));
            continue;
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let Some(kind) = entry.path().extension().and_then(|e| e.to_str()).and_then(DocumentKind::from_extension)
        else {
            continue;
        };
        let relative = relative_path(root, entry.path());
        match entry.metadata() {
            Ok(meta) => {
                let modified_ms = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64);
                discovery.files.push(FoundFile {
                    absolute: entry.path().to_path_buf(),
                    relative,
                    kind,
                    size: meta.len(),
                    modified_ms,
                });
            }
            Err(e) => discovery.unreadable.push((relative, e.to_string().to_lowercase())),
        }
    }
    Ok(discovery)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_supported_files_and_skips_hidden_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("wiki/sub")).unwrap();
        std::fs::create_dir_all(root.join(".git")).unwrap();
        for f in [
            "a.md",
            "wiki/b.html",
            "wiki/sub/c.PDF",
            "notes.txt",
            "image.png",
            ".hidden.md",
            ".git/x.md",
            "~$lock.docx",
        ] {
            std::fs::write(root.join(f), "x").unwrap();
        }
        let found = discover(root).unwrap();
        let paths: Vec<_> = found.files.iter().map(|f| f.relative.as_str()).collect();
        assert_eq!(paths, ["a.md", "notes.txt", "wiki/b.html", "wiki/sub/c.PDF"]);
        assert!(found.unreadable.is_empty());
        assert!(found.acl_files.is_empty());
        assert!(matches!(discover(&root.join("nope")), Err(DiscoverError::Missing(_))));
        assert!(matches!(discover(&root.join("a.md")), Err(DiscoverError::NotAFolder(_))));
    }

    #[test]
    fn acl_files_are_listed_apart_links_included() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("hr/payroll")).unwrap();
        std::fs::write(root.join(".lore-acl"), "group:staff").unwrap();
        std::fs::write(root.join("hr/.lore-acl"), "group:hr").unwrap();
        std::fs::write(root.join("hr/payroll/a.md"), "x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", root.join("hr/payroll/.lore-acl")).unwrap();
        let found = discover(root).unwrap();
        assert_eq!(found.acl_files, [".lore-acl", "hr/.lore-acl", "hr/payroll/.lore-acl"]);
        assert_eq!(found.files.len(), 1, "an ACL file is not a document");
    }

    #[test]
    fn unreadable_folders_shadow_their_files() {
        let d = Discovery {
            files: vec![],
            unreadable: vec![("wiki/private".into(), "permission denied".into())],
            acl_files: vec![],
        };
        assert!(d.is_shadowed("wiki/private/a.md"));
        assert!(d.is_shadowed("wiki/private"));
        assert!(!d.is_shadowed("wiki/private2/a.md"));
        assert!(!d.is_shadowed("wiki/a.md"));
    }
}
