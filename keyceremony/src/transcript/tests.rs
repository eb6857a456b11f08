use super::*;
use serde_json::json;

fn entry(step: &str, files: Vec<FileEntry>) -> NewRecord {
    NewRecord {
        time: Timestamp::parse("2030-01-02T03:04:05Z").unwrap(),
        step: step.into(),
        rehearsal: true,
        allow_online: false,
        key_ids: vec!["ab".repeat(32)],
        files,
        details: json!({"threshold": 2, "note": "a \"quoted\" word"}),
    }
}

/// A ceremony directory with a three-record transcript listing two files.
fn three_records() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let t = base.join("transcript.jsonl");
    fs::create_dir(base.join("keys")).unwrap();
    fs::write(base.join("1.root.json"), b"draft").unwrap();
    fs::write(base.join("keys/a.pub"), b"public").unwrap();
    let e = vec![file_entry(base, &base.join("1.root.json")).unwrap()];
    append(&t, entry("ceremony init", e)).unwrap();
    let e = vec![file_entry(base, &base.join("keys/a.pub")).unwrap()];
    append(&t, entry("ceremony keygen", e)).unwrap();
    fs::write(base.join("1.root.json"), b"draft + signature").unwrap();
    let e = vec![file_entry(base, &base.join("1.root.json")).unwrap()];
    append(&t, entry("ceremony sign", e)).unwrap();
    (dir, t)
}

fn lines(t: &Path) -> Vec<String> {
    fs::read_to_string(t).unwrap().lines().map(str::to_owned).collect()
}

fn write_lines(t: &Path, lines: &[String]) {
    fs::write(t, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).unwrap();
}

#[test]
fn a_three_record_transcript_verifies() {
    let (dir, t) = three_records();
    let report = verify(&t, dir.path()).unwrap();
    assert_eq!(report.records, 3);
    assert!(report.rehearsal);
    assert!(!report.allow_online);
    let l = lines(&t);
    assert_eq!(report.head, sha256_hex(l[2].as_bytes()));
    // The re-listed root is checked against its last listing only.
    assert_eq!(report.files.len(), 2);
    assert_eq!(report.files[0].path, "keys/a.pub");
    assert_eq!(report.files[1].path, "1.root.json");
    assert_eq!(report.files[1].sha256, sha256_hex(b"draft + signature"));

    let records = read(&t).unwrap();
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2, 3]);
    assert_eq!(records[0].prev, GENESIS_PREV);
    assert_eq!(records[1].prev, sha256_hex(l[0].as_bytes()));
    assert_eq!(records[2].prev, sha256_hex(l[1].as_bytes()));
    assert_eq!(records[0].time.to_string(), "2030-01-02T03:04:05Z");
    // Canonical JSON: sorted keys, no whitespace.
    assert!(
        l[0].starts_with(r#"{"airlock":""#)
            && l[0]
                .contains(r#"","allow_online":false,"details":{"note":"a \"quoted\" word","threshold":2},"#),
        "{}",
        l[0]
    );
}

#[test]
fn editing_a_record_breaks_the_chain_at_the_next() {
    let (dir, t) = three_records();
    let mut l = lines(&t);
    l[1] = l[1].replace(r#""threshold":2"#, r#""threshold":3"#);
    write_lines(&t, &l);
    assert!(matches!(verify(&t, dir.path()), Err(TranscriptError::ChainBroken { seq: 3, .. })));
}

#[test]
fn editing_the_last_record_into_another_spelling_is_refused() {
    let (dir, t) = three_records();
    let mut l = lines(&t);
    l[2] = l[2].replacen('{', "{ ", 1);
    write_lines(&t, &l);
    assert!(matches!(verify(&t, dir.path()), Err(TranscriptError::Malformed { line: 3, .. })));
}

#[test]
fn deleting_a_middle_record_is_detected() {
    let (dir, t) = three_records();
    let mut l = lines(&t);
    l.remove(1);
    write_lines(&t, &l);
    assert_eq!(verify(&t, dir.path()), Err(TranscriptError::SeqGap { line: 2, expected: 2, found: 3 }));
}

#[test]
fn renumbering_after_a_deletion_still_breaks_the_chain() {
    let (dir, t) = three_records();
    let mut l = lines(&t);
    l.remove(1);
    l[1] = l[1].replace(r#""seq":3"#, r#""seq":2"#);
    write_lines(&t, &l);
    assert!(matches!(verify(&t, dir.path()), Err(TranscriptError::ChainBroken { seq: 2, .. })));
}

#[test]
fn a_changed_file_is_named() {
    let (dir, t) = three_records();
    fs::write(dir.path().join("keys/a.pub"), b"other").unwrap();
    assert_eq!(
        verify(&t, dir.path()),
        Err(TranscriptError::FileChanged {
            seq: 2,
            path: "keys/a.pub".into(),
            expected: sha256_hex(b"public"),
            found: sha256_hex(b"other"),
        })
    );
}

#[test]
fn a_missing_file_is_named() {
    let (dir, t) = three_records();
    fs::remove_file(dir.path().join("1.root.json")).unwrap();
    assert_eq!(
        verify(&t, dir.path()),
        Err(TranscriptError::FileMissing { seq: 3, path: "1.root.json".into() })
    );
}

#[test]
fn appending_to_a_tampered_transcript_is_refused() {
    let (_dir, t) = three_records();
    let mut l = lines(&t);
    l[0] = l[0].replace("ceremony init", "ceremony lnit");
    write_lines(&t, &l);
    let before = fs::read(&t).unwrap();
    assert!(matches!(append(&t, entry("more", vec![])), Err(TranscriptError::ChainBroken { seq: 2, .. })));
    assert_eq!(fs::read(&t).unwrap(), before);
}

#[test]
fn appending_after_an_interrupted_write_is_refused() {
    let (_dir, t) = three_records();
    let mut bytes = fs::read(&t).unwrap();
    bytes.extend_from_slice(br#"{"seq":4"#);
    fs::write(&t, &bytes).unwrap();
    assert!(matches!(append(&t, entry("more", vec![])), Err(TranscriptError::Malformed { line: 4, .. })));
}

#[test]
fn unknown_members_and_duplicate_keys_are_malformed() {
    let (dir, t) = three_records();
    let l = lines(&t);
    let extra = vec![l[0].replacen('{', r#"{"actor":"x","#, 1)];
    write_lines(&t, &extra);
    assert!(matches!(verify(&t, dir.path()), Err(TranscriptError::Malformed { line: 1, .. })));
    let dup = vec![l[0].replacen('{', r#"{"allow_online":true,"#, 1)];
    write_lines(&t, &dup);
    assert!(matches!(verify(&t, dir.path()), Err(TranscriptError::Malformed { line: 1, .. })));
}

#[test]
fn records_are_checked_before_writing() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let mut e = entry("x", vec![]);
    e.details = json!([1]);
    assert!(matches!(append(&t, e), Err(TranscriptError::BadDetails { .. })));
    let mut e = entry("x", vec![]);
    e.details = json!({"ratio": 0.5});
    assert!(matches!(append(&t, e), Err(TranscriptError::BadDetails { .. })));
    for bad in ["../etc/passwd", "/etc/passwd", "a//b", "./a", ""] {
        let e = entry("x", vec![FileEntry { path: bad.into(), sha256: "00".into() }]);
        assert_eq!(append(&t, e), Err(TranscriptError::UnsafePath { seq: 1, path: bad.into() }));
    }
    // Nothing was written by the refused appends.
    assert_eq!(verify(&t, dir.path()).unwrap().records, 0);
}

#[test]
fn file_entries_are_relative_to_the_base() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("out");
    fs::create_dir_all(base.join("sub")).unwrap();
    fs::write(base.join("sub/f"), b"x").unwrap();
    let e = file_entry(&base, &base.join("sub/f")).unwrap();
    assert_eq!(e, FileEntry { path: "sub/f".into(), sha256: sha256_hex(b"x") });
    // Through a `..` the lexical form fails, the resolved one works.
    let e = file_entry(&base, &base.join("sub/../sub/f")).unwrap();
    assert_eq!(e.path, "sub/f");
    fs::write(dir.path().join("outside"), b"y").unwrap();
    assert!(matches!(
        file_entry(&base, &dir.path().join("outside")),
        Err(TranscriptError::OutsideBase { .. })
    ));
    assert!(matches!(file_entry(&base, &base.join("absent")), Err(TranscriptError::Io { .. })));
}

#[test]
fn any_text_reads_back_exactly_and_no_line_holds_a_control_byte() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("audit.jsonl");
    // Every character below U+0100, some terminal sequences, a bidi
    // override, and astral text: each a step name and a detail value.
    let mut texts: Vec<String> = (0u32..0x100).filter_map(char::from_u32).map(|c| format!("a{c}b")).collect();
    texts.push("\u{1b}[2K\rok  forged\n\u{7}".into());
    texts.push("\u{202e}gpj.exe \\ \" 𝄞".into());
    for text in &texts {
        let mut e = entry(text, Vec::new());
        e.details = json!({"reason": text, text.clone(): [text]});
        append_to_log(&t, e).unwrap();
    }
    let bytes = fs::read(&t).unwrap();
    assert!(
        bytes.iter().all(|&b| b == b'\n' || (b >= 0x20 && b != 0x7f)),
        "a raw control byte reached the log"
    );
    let records = parse(&bytes).unwrap();
    assert_eq!(records.len(), texts.len());
    for (r, text) in records.iter().zip(&texts) {
        assert_eq!(&r.step, text);
        assert_eq!(r.details["reason"], json!(text));
        assert_eq!(r.details[text.as_str()], json!([text]));
    }
}

#[test]
fn a_log_goes_on_past_a_damaged_line_and_the_damage_stays_visible() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("audit.jsonl");
    append_to_log(&t, entry("import accepted", Vec::new())).unwrap();
    let mut bytes = fs::read(&t).unwrap();
    bytes.extend_from_slice(b"not json at all\x1b\n");
    bytes.extend_from_slice(b"{\"cut\": "); // an interrupted write
    fs::write(&t, &bytes).unwrap();
    // A ceremony transcript is never extended past damage ...
    assert!(append(&t, entry("ceremony sign", Vec::new())).is_err());
    // ... a log of routine work is, numbered after every line and chained
    // to the raw bytes of the last one.
    let r = append_to_log(&t, entry("import refused", Vec::new())).unwrap();
    assert_eq!(r.seq, 4);
    assert_eq!(r.prev, sha256_hex(b"{\"cut\": "));
    let s = scan(&fs::read(&t).unwrap());
    assert_eq!(s.lines, 4);
    assert_eq!(s.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 4]);
    assert_eq!(s.damage.len(), 2, "{:?}", s.damage);
    assert!(
        s.damage.iter().all(|d| matches!(d, TranscriptError::Malformed { line: 2 | 3, .. })),
        "{:?}",
        s.damage
    );
    assert!(parse(&fs::read(&t).unwrap()).is_err(), "the strict reader still refuses it");
}

#[test]
fn every_record_names_the_build_that_wrote_it_and_older_records_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let t = dir.path().join("t.jsonl");
    let r = append(&t, entry("ceremony init", Vec::new())).unwrap();
    assert_eq!(r.airlock.as_deref(), Some(crate::BUILD));
    assert!(crate::BUILD.contains("(commit "), "{}", crate::BUILD);
    // A record written before builds named themselves has no `airlock`.
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(&t).unwrap()).unwrap();
    v.as_object_mut().unwrap().remove("airlock");
    let mut line = airlock_core::to_log_line(&v).unwrap();
    line.push(b'\n');
    fs::write(&t, &line).unwrap();
    assert_eq!(read(&t).unwrap()[0].airlock, None);
    append(&t, entry("ceremony sign", Vec::new())).unwrap();
    assert_eq!(read(&t).unwrap().len(), 2);
}
