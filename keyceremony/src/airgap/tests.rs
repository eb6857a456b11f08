use super::*;
use std::fs;

/// Adds an interface to a fake `/sys/class/net`; `None` leaves a file out.
fn iface(root: &Path, name: &str, operstate: Option<&str>, flags: Option<&str>) {
    let dir = root.join(name);
    fs::create_dir_all(&dir).unwrap();
    if let Some(s) = operstate {
        fs::write(dir.join("operstate"), format!("{s}\n")).unwrap();
    }
    if let Some(f) = flags {
        fs::write(dir.join("flags"), format!("{f}\n")).unwrap();
    }
}

#[test]
fn loopback_only_is_offline() {
    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "lo", Some("unknown"), Some("0x9"));
    assert_eq!(check_offline(t.path()), Ok(()));
}

#[test]
fn an_interface_that_is_up_is_online() {
    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "lo", Some("unknown"), Some("0x9"));
    iface(t.path(), "eth0", Some("up"), Some("0x1003"));
    assert_eq!(check_offline(t.path()), Err(AirgapError::Online { interfaces: vec!["eth0".into()] }));
}

#[test]
fn an_interface_that_is_down_is_offline() {
    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "lo", Some("unknown"), Some("0x9"));
    iface(t.path(), "eth0", Some("down"), Some("0x1002"));
    // Administratively up but no carrier: no link, so nothing to reach.
    iface(t.path(), "wlan0", Some("down"), Some("0x1003"));
    assert_eq!(check_offline(t.path()), Ok(()));
}

#[test]
fn unknown_state_is_decided_by_the_flags() {
    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "wg0", Some("unknown"), Some("0x91"));
    iface(t.path(), "tun0", Some("unknown"), Some("0x1090"));
    iface(t.path(), "dummy0", None, Some("0x83"));
    iface(t.path(), "tun1", None, Some("0x90"));
    assert_eq!(
        check_offline(t.path()),
        Err(AirgapError::Online { interfaces: vec!["dummy0".into(), "wg0".into()] })
    );
}

#[test]
fn loopback_by_flag_does_not_count() {
    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "lo2", Some("up"), Some("0x9"));
    assert_eq!(up_interfaces(t.path()).unwrap(), Vec::<String>::new());
}

#[test]
fn interfaces_are_sorted_and_stray_files_ignored() {
    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "eth1", Some("up"), Some("0x1003"));
    iface(t.path(), "eth0", Some("up"), Some("0x1003"));
    fs::write(t.path().join("bonding_masters"), "\n").unwrap();
    assert_eq!(up_interfaces(t.path()).unwrap(), vec!["eth0".to_owned(), "eth1".to_owned()]);
}

#[test]
fn what_cannot_be_read_fails_closed() {
    let t = tempfile::tempdir().unwrap();
    let missing = t.path().join("nope");
    assert!(matches!(check_offline(&missing), Err(AirgapError::Unreadable { path, .. }) if path == missing));

    iface(t.path(), "eth0", Some("unknown"), Some("zz"));
    assert!(matches!(check_offline(t.path()), Err(AirgapError::Unreadable { .. })));

    let t = tempfile::tempdir().unwrap();
    iface(t.path(), "eth0", Some("unknown"), None);
    assert!(matches!(check_offline(t.path()), Err(AirgapError::Unreadable { .. })));
}
