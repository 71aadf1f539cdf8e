//! The layout of one data directory, and the lock that lets only one process write to it.
//!
//! ```text
//! <data_dir>/
//!   catalog.sqlite   sources, documents, chunks, ingest runs (the system of record)
//!   vectors/         Qdrant Edge shard: one point per chunk
//!   text/            tantivy index: one document per chunk
//!   writer.lock      held by the process that writes (ingest, serve)
//! ```

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum DataDirError {
    #[error("cannot create data directory {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error(
        "data directory {path} is being written by another lore process ({holder}); \
         wait for it to finish or stop it"
    )]
    Busy { path: PathBuf, holder: String },
    #[error("cannot lock data directory {path}: {source}")]
    Lock { path: PathBuf, source: std::io::Error },
}

/// The name `lore serve` holds the lock under.
pub const SERVER_HOLDER: &str = "lore serve";

#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

impl DataDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Creates the directory when it does not exist yet.
    pub fn create(root: impl Into<PathBuf>) -> Result<Self, DataDirError> {
        let root = root.into();
        std::fs::create_dir_all(&root).map_err(|source| DataDirError::Create { path: root.clone(), source })?;
        Ok(Self { root })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn catalog_path(&self) -> PathBuf {
        self.root.join("catalog.sqlite")
    }

    pub fn vectors_dir(&self) -> PathBuf {
        self.root.join("vectors")
    }

    pub fn text_dir(&self) -> PathBuf {
        self.root.join("text")
    }

    /// Written by `lore serve` while it holds the directory (its URL and process id), so that other
    /// commands can point to it.
    pub fn server_note_path(&self) -> PathBuf {
        self.root.join("server.json")
    }

    /// Takes the writer lock, waiting up to `patience` for another holder to finish; a server (which never
    /// finishes by itself) gets the same error as [`Self::lock_for_writing`] at once.
    pub fn lock_waiting(&self, holder: &str, patience: std::time::Duration) -> Result<WriterLock, DataDirError> {
        let deadline = std::time::Instant::now() + patience;
        loop {
            match self.lock_for_writing(holder) {
                Err(DataDirError::Busy { holder, .. }) if holder.starts_with(SERVER_HOLDER) => {
                    return Err(DataDirError::Busy { path: self.root.clone(), holder })
                }
                Err(DataDirError::Busy { .. }) if std::time::Instant::now() < deadline => {
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                result => return result,
            }
        }
    }

    /// The process writing to this directory now ("lore serve, pid 42"), if any. Looks without waiting
    /// and without keeping the lock.
    pub fn current_writer(&self) -> Option<String> {
        match self.lock_for_writing("lore status") {
            Err(DataDirError::Busy { holder, .. }) => Some(holder),
            _ => None,
        }
    }

    /// Takes the writer lock without waiting. The lock is released when the returned guard drops or the
    /// process dies (it is an OS file lock, so a killed process never leaves it stuck).
    pub fn lock_for_writing(&self, holder: &str) -> Result<WriterLock, DataDirError> {
        let path = self.root.join("writer.lock");
        let lock_err = |source| DataDirError::Lock { path: path.clone(), source };
        let mut file =
            OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path).map_err(lock_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(DataDirError::Busy {
                    path: self.root.clone(),
                    holder: if holder.is_empty() { "unknown".into() } else { holder.to_string() },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(lock_err(e)),
        }
        let note = format!("{holder}, pid {}", std::process::id());
        let write = |file: &mut File| -> std::io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(note.as_bytes())
        };
        write(&mut file).map_err(lock_err)?;
        Ok(WriterLock { _file: file })
    }
}

/// Proof that this process is the only writer of a data directory.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_with_the_holder_named() {
        let dir = tempfile::tempdir().unwrap();
        let data = DataDir::create(dir.path().join("d")).unwrap();
        let lock = data.lock_for_writing("lore ingest").unwrap();
        let err = data.lock_for_writing("lore serve").unwrap_err();
        assert!(err.to_string().contains("lore ingest, pid"), "{err}");
        drop(lock);
        data.lock_for_writing("lore serve").unwrap();
    }
}
