//! Refusing to run a ceremony on a machine that is on a network.
//!
//! Root keys exist in the clear only during a ceremony, so the machine must
//! be air-gapped. We ask the kernel which interfaces are up rather than
//! trying to reach the network: a failed probe proves nothing (a firewall, a
//! captive portal), whereas an interface that is up is a risk whether or not
//! it routes anywhere.
//!
//! An interface counts as up when its `operstate` is `up`, or when the
//! driver does not report a state (`unknown`, as tun, WireGuard and some
//! virtual devices do) and `IFF_UP` is set in its `flags`. Loopback (named
//! `lo`, or with `IFF_LOOPBACK` set) never counts. Anything we cannot read
//! is an error rather than a pass: this check fails closed.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `IFF_UP` from `<linux/if.h>`: the administrator brought the interface up.
const IFF_UP: u32 = 0x1;
/// `IFF_LOOPBACK` from `<linux/if.h>`.
const IFF_LOOPBACK: u32 = 0x8;

/// Why the air-gap check refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AirgapError {
    /// Network interfaces other than loopback are up.
    #[error("network interfaces are up: {}", interfaces.join(", "))]
    Online {
        /// Their names, sorted.
        interfaces: Vec<String>,
    },
    /// The interface list could not be read, so we cannot tell.
    #[error("cannot read the network interface list at {}: {reason}", path.display())]
    Unreadable {
        /// The directory we tried to read (normally `/sys/class/net`).
        path: PathBuf,
        /// The underlying error.
        reason: String,
    },
}

/// The names of the non-loopback interfaces that are up, sorted.
///
/// `sys_class_net` is normally `/sys/class/net`; tests pass a fake tree.
pub fn up_interfaces(sys_class_net: &Path) -> io::Result<Vec<String>> {
    let mut up = Vec::new();
    for entry in fs::read_dir(sys_class_net)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // /sys/class/net holds one entry per interface, plus (on some
        // kernels) the bonding_masters file, which is not an interface.
        let dir = entry.path();
        if !dir.is_dir() {
            continue;
        }
        match interface_is_up(&dir, &name) {
            Ok(true) => up.push(name),
            Ok(false) => {}
            // An interface removed while we looked at it is no longer up.
            Err(e) if e.kind() == io::ErrorKind::NotFound && !dir.exists() => {}
            Err(e) => return Err(io::Error::new(e.kind(), format!("interface {name}: {e}"))),
        }
    }
    up.sort();
    Ok(up)
}

fn interface_is_up(dir: &Path, name: &str) -> io::Result<bool> {
    if name == "lo" {
        return Ok(false);
    }
    let operstate = match fs::read_to_string(dir.join("operstate")) {
        Ok(s) => s.trim().to_owned(),
        // Without a state we decide by the flags, as for "unknown".
        Err(e) if e.kind() == io::ErrorKind::NotFound => "unknown".to_owned(),
        Err(e) => return Err(e),
    };
    let flags = match fs::read_to_string(dir.join("flags")) {
        Ok(s) => Some(parse_flags(&s)?),
        // An interface reporting "up" is up whatever its flags say; for any
        // other state the flags decide, and then they must be readable.
        Err(e) if e.kind() == io::ErrorKind::NotFound && operstate == "up" => None,
        Err(e) => return Err(e),
    };
    if flags.is_some_and(|f| f & IFF_LOOPBACK != 0) {
        return Ok(false);
    }
    Ok(match operstate.as_str() {
        "up" => true,
        "unknown" => flags.is_some_and(|f| f & IFF_UP != 0),
        _ => false,
    })
}

/// Parses the kernel's `flags` file, written as `0x1003`.
fn parse_flags(s: &str) -> io::Result<u32> {
    let s = s.trim();
    let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    u32::from_str_radix(digits, 16)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("flags {s:?} are not hex")))
}

/// Refuses when any non-loopback interface under `sys_class_net` is up.
pub fn check_offline(sys_class_net: &Path) -> Result<(), AirgapError> {
    let interfaces = up_interfaces(sys_class_net)
        .map_err(|e| AirgapError::Unreadable { path: sys_class_net.to_path_buf(), reason: e.to_string() })?;
    if interfaces.is_empty() {
        Ok(())
    } else {
        Err(AirgapError::Online { interfaces })
    }
}

#[cfg(test)]
mod tests;
