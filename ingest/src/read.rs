//! Reading a scanned file: give it the file discovery found and its source folder, get its bytes, or
//! why they were not read.
//!
//! The file may have changed since the scan: swapped for a symbolic link to a secret elsewhere, for a
//! link to `/dev/zero`, a pipe that never ends, or grown past the size limit. So the file is opened
//! without following a final link, the opened handle (not the path) is checked to be a regular file
//! inside the source folder, and at most the size limit is read from it.

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::extract::{check_size, ExtractError};

/// Reads at most `max_bytes` of `path`, which must be a regular file inside `root` (a canonical path).
pub fn read_source_file(path: &Path, root: &Path, max_bytes: u64) -> Result<Vec<u8>, ExtractError> {
    let (file, len) = open_source_file(path, root)?;
    check_size(len, max_bytes)?;
    let mut bytes = Vec::with_capacity(len.min(max_bytes) as usize);
    file.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes).map_err(io)?;
    check_size(bytes.len() as u64, max_bytes)?;
    Ok(bytes)
}

fn io(e: std::io::Error) -> ExtractError {
    ExtractError::Io(e.to_string().to_lowercase())
}

/// Opens `path` for reading if it is a regular file inside `root` (a canonical path), checked on the
/// opened handle; returns it with its length at opening.
pub fn open_source_file(path: &Path, root: &Path) -> Result<(File, u64), ExtractError> {
    let file = OpenOptions::new()
        .read(true)
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            Some(libc::ELOOP) => ExtractError::Refused("it became a symbolic link, which is not followed".into()),
            _ => io(e),
        })?;
    let meta = file.metadata().map_err(io)?;
    if !meta.file_type().is_file() {
        return Err(ExtractError::Refused("it is not a regular file (a device, pipe or socket)".into()));
    }
    // A folder on the way may have been swapped for a link too: where the handle really points decides.
    let real = opened_path(&file).or_else(|| std::fs::canonicalize(path).ok());
    if !real.is_some_and(|real| real.starts_with(root)) {
        return Err(ExtractError::Refused("it resolves outside the source folder".into()));
    }
    Ok((file, meta.len()))
}

/// The path the kernel has for an open file (Linux).
fn opened_path(file: &File) -> Option<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd())).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regular_files_inside_the_folder_are_read_up_to_the_limit() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(root.join("a.txt"), "hello").unwrap();
        assert_eq!(read_source_file(&root.join("a.txt"), &root, 5).unwrap(), b"hello");
        let err = read_source_file(&root.join("a.txt"), &root, 4).unwrap_err();
        assert!(matches!(err, ExtractError::TooLarge { .. }), "{err:?}");
    }

    #[test]
    fn links_devices_and_pipes_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let root = std::fs::canonicalize(dir.path()).unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "salary").unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret.txt"), root.join("link.txt")).unwrap();
        std::os::unix::fs::symlink("/dev/zero", root.join("zero.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), root.join("dir")).unwrap();
        for name in ["link.txt", "zero.txt", "dir/secret.txt"] {
            let err = read_source_file(&root.join(name), &root, 1 << 20).unwrap_err();
            assert!(matches!(err, ExtractError::Refused(_)), "{name}: {err:?}");
        }
        let fifo = root.join("pipe.txt");
        let made = std::process::Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(made.success());
        let err = read_source_file(&fifo, &root, 1 << 20).unwrap_err();
        assert!(matches!(err, ExtractError::Refused(_)), "{err:?}");
    }
}
