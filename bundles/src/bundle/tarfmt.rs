//! The one tar dialect bundles use: plain ustar regular files, mode 0644,
//! owner 0:0, mtime 0, paths of at most 255 bytes split into ustar's
//! prefix and name. No PAX or GNU extension headers, no directories.

use std::io::{self, Write};

/// Largest path ustar can hold without extension headers.
pub const MAX_USTAR_PATH: usize = 255;

/// Appends one regular file entry with fixed metadata.
pub fn append<W: Write>(
    builder: &mut tar::Builder<W>,
    path: &str,
    data: &mut dyn io::Read,
    len: u64,
) -> io::Result<()> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_size(len);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    builder.append(&h, data)
}

/// A name for an entry type, for error messages.
pub fn type_name(t: tar::EntryType) -> String {
    match t {
        tar::EntryType::Symlink => "symbolic link".into(),
        tar::EntryType::Link => "hard link".into(),
        tar::EntryType::Char => "character device".into(),
        tar::EntryType::Block => "block device".into(),
        tar::EntryType::Fifo => "FIFO".into(),
        tar::EntryType::Directory => "directory".into(),
        tar::EntryType::XHeader => "PAX extended header".into(),
        tar::EntryType::XGlobalHeader => "PAX global header".into(),
        tar::EntryType::GNULongName => "GNU long name".into(),
        tar::EntryType::GNULongLink => "GNU long link".into(),
        tar::EntryType::GNUSparse => "GNU sparse".into(),
        other => format!("type {:?}", other.as_byte() as char),
    }
}
