//! The registry files: generated deterministically, validated, imported.

use super::*;

#[test]
fn generate_is_deterministic_and_every_record_validates() {
    let dir = scratch("generate");
    let (a, b, c) = (
        dir.join("a.jsonl"),
        dir.join("b.jsonl"),
        dir.join("c.jsonl"),
    );
    assert!(generate(&a, "7").status.success());
    assert!(generate(&b, "7").status.success());
    assert!(generate(&c, "8").status.success());
    let bytes = std::fs::read(&a).unwrap();
    assert_eq!(bytes.iter().filter(|&&b| b == b'\n').count(), 20_000);
    assert_eq!(
        bytes,
        std::fs::read(&b).unwrap(),
        "same seed, different files"
    );
    assert_ne!(bytes, std::fs::read(&c).unwrap(), "other seed, same file");
    assert!(!dir.join("a.partial").exists());

    let out = eid(&[
        "registry",
        "validate",
        "--as-of",
        "2026-11-23",
        a.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["valid"], 20_000);

    // One changed digit in one number: that record fails, the exit code says so.
    let text = String::from_utf8(bytes).unwrap();
    let first = text.lines().next().unwrap();
    let number = &first[first.find("\"id_number\":\"").unwrap() + 13..][..18];
    let digit = number.as_bytes()[10];
    let other = if digit == b'0' { "1" } else { "0" };
    let tampered = format!("{}{}{}", &number[..10], other, &number[11..]);
    std::fs::write(&b, text.replacen(number, &tampered, 1)).unwrap();
    let out = eid(&[
        "registry",
        "validate",
        "--as-of",
        "2026-11-23",
        b.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["invalid"], 1);
    assert!(!String::from_utf8_lossy(&out.stdout).contains(&tampered));
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn registry_import_is_idempotent_and_stops_at_a_bad_line_keeping_what_came_before() {
    let dir = scratch("import");
    let file = dir.join("p.jsonl");
    let p = |path: &Path| path.to_str().unwrap().to_owned();
    let db = format!("sqlite:{}", p(&dir.join("store/eid.db")));
    assert!(
        eid(&[
            "registry",
            "generate",
            "--count",
            "700",
            "--seed",
            "9",
            "--as-of",
            "2026-11-23",
            "--quiet",
            "--out",
            &p(&file)
        ])
        .status
        .success()
    );
    let import = |path: &Path| {
        eid(&[
            "registry",
            "import",
            &p(path),
            "--quiet",
            "--batch",
            "300",
            "--database",
            &db,
        ])
    };
    let report =
        |out: &Output| -> serde_json::Value { serde_json::from_slice(&out.stdout).unwrap() };
    let first = import(&file);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_eq!(report(&first)["new_or_changed"], 700);
    let again = import(&file);
    assert_eq!(report(&again)["new_or_changed"], 0);
    assert_eq!(report(&again)["residents_in_store"], 700);

    // A bad line: exit 2, its number in the message, no record content, earlier lines kept.
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let other = dir.join("other.jsonl");
    std::fs::write(
        &other,
        format!(
            "{}\n{{\"id_number\": \"x\"}}\n{}\n",
            lines[..2].join("\n"),
            lines[2]
        ),
    )
    .unwrap();
    let db2 = format!("sqlite:{}", p(&dir.join("store/other.db")));
    let bad = eid(&[
        "registry",
        "import",
        &p(&other),
        "--quiet",
        "--database",
        &db2,
    ]);
    assert_eq!(bad.status.code(), Some(2));
    let said = String::from_utf8_lossy(&bad.stderr);
    assert!(
        said.contains("line 3 of") && said.contains("the 2 records before it are imported"),
        "{said}"
    );
    let id = &lines[0][14..32];
    assert!(!said.contains(id), "{said}");
    let recount = eid(&[
        "registry",
        "import",
        &p(&other),
        "--quiet",
        "--database",
        &db2,
    ]);
    assert_eq!(recount.status.code(), Some(2));

    // A bad line after two full batches (one of them still being written when the line
    // is read): every record before it is kept.
    let late = dir.join("late.jsonl");
    std::fs::write(
        &late,
        format!("{}\n{{}}\n{}\n", lines[..650].join("\n"), lines[650]),
    )
    .unwrap();
    let db3 = format!("sqlite:{}", p(&dir.join("store/late.db")));
    let import_late = |path: &Path| {
        eid(&[
            "registry",
            "import",
            &p(path),
            "--quiet",
            "--batch",
            "300",
            "--database",
            &db3,
        ])
    };
    let stopped = import_late(&late);
    assert_eq!(stopped.status.code(), Some(2));
    let said = String::from_utf8_lossy(&stopped.stderr);
    assert!(
        said.contains("line 651 of") && said.contains("the 650 records"),
        "{said}"
    );
    let kept = dir.join("kept.jsonl");
    std::fs::write(&kept, format!("{}\n", lines[..650].join("\n"))).unwrap();
    let again = import_late(&kept);
    assert_eq!(
        report(&again)["new_or_changed"],
        0,
        "a record before the bad line was lost"
    );
    assert_eq!(report(&again)["residents_in_store"], 650);
    std::fs::remove_dir_all(&dir).unwrap();
}
