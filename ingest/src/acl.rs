//! The ACL files of one source folder: give it the `.lore-acl` files discovery found, get for any
//! document path the principals its folder grants and the file they come from (the nearest one up the
//! tree, else the source's ACL). See `lore_core::acl` for the rules.

use std::collections::BTreeMap;
use std::path::Path;

use lore_core::acl::{parse_acl_file, MAX_ACL_FILE_BYTES};

use crate::read::read_source_file;

/// An ACL file that could not be used: its folder's subtree is readable by nobody until it is fixed.
#[derive(Debug, Clone, PartialEq)]
pub struct BrokenAclFile {
    pub path: String,
    pub error: String,
}

/// What one source's folders grant.
#[derive(Debug, Clone, Default)]
pub struct FolderAcls {
    source: Vec<String>,
    /// Folder (relative, `""` for the root) → its ACL file's path and principals.
    folders: BTreeMap<String, (String, Vec<String>)>,
}

impl FolderAcls {
    /// Reads every ACL file (`relative` paths under `root`); blocking. A file that cannot be read or
    /// parsed grants nobody and is reported.
    pub fn read(root: &Path, source_acl: &[String], acl_files: &[String]) -> (Self, Vec<BrokenAclFile>) {
        let mut folders = BTreeMap::new();
        let mut broken = Vec::new();
        for relative in acl_files {
            let principals = read_source_file(&root.join(relative), root, MAX_ACL_FILE_BYTES)
                .map_err(|e| e.to_string())
                .and_then(|bytes| parse_acl_file(&bytes).map_err(|e| format!("the ACL file {e}")));
            let principals = principals.unwrap_or_else(|error| {
                tracing::warn!(path = %relative, %error, "ACL file unusable: its folder is readable by nobody");
                broken.push(BrokenAclFile {
                    path: relative.clone(),
                    error: format!("{error}; nobody may read this folder until it is fixed"),
                });
                Vec::new()
            });
            folders.insert(folder_of(relative).to_string(), (relative.clone(), principals));
        }
        (Self { source: source_acl.to_vec(), folders }, broken)
    }

    /// What the folders grant the document at `path` (relative): the nearest ACL file's principals and
    /// its path, or the source's ACL and `None`.
    pub fn for_document(&self, path: &str) -> (&[String], Option<&str>) {
        let mut folder = folder_of(path);
        loop {
            if let Some((file, principals)) = self.folders.get(folder) {
                return (principals, Some(file));
            }
            if folder.is_empty() {
                return (&self.source, None);
            }
            folder = folder_of(folder);
        }
    }
}

/// The folder a relative path lies in (`""`: the root).
fn folder_of(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(folder, _)| folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nearest_acl_file_wins_and_a_broken_one_grants_nobody() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("hr/payroll")).unwrap();
        std::fs::create_dir_all(root.join("hr/open")).unwrap();
        std::fs::create_dir_all(root.join("eng")).unwrap();
        std::fs::write(root.join("hr/.lore-acl"), "group:hr\n").unwrap();
        std::fs::write(root.join("hr/payroll/.lore-acl"), "user:pat\n# only pat\n").unwrap();
        std::fs::write(root.join("hr/open/.lore-acl"), "not a principal\u{7}").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", root.join("eng/.lore-acl")).unwrap();
        let files: Vec<String> =
            ["eng/.lore-acl", "hr/.lore-acl", "hr/open/.lore-acl", "hr/payroll/.lore-acl"].map(String::from).into();
        let (acls, broken) = FolderAcls::read(root, &["everyone".to_string()], &files);

        assert_eq!(acls.for_document("top.md"), (&["everyone".to_string()][..], None));
        assert_eq!(acls.for_document("hr/a.md"), (&["group:hr".to_string()][..], Some("hr/.lore-acl")));
        assert_eq!(
            acls.for_document("hr/payroll/2026/q1.md"),
            (&["user:pat".to_string()][..], Some("hr/payroll/.lore-acl"))
        );
        assert_eq!(acls.for_document("hr/open/x.md"), (&[][..], Some("hr/open/.lore-acl")));
        assert_eq!(acls.for_document("eng/x.md"), (&[][..], Some("eng/.lore-acl")), "a link grants nobody");
        let paths: Vec<&str> = broken.iter().map(|b| b.path.as_str()).collect();
        assert_eq!(paths, ["eng/.lore-acl", "hr/open/.lore-acl"]);
        assert!(broken[1].error.contains("is not a principal"), "{}", broken[1].error);
    }
}
