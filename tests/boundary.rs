//! `unsafe` lives only in the C-ABI layer (src/ffi): this test fails if it appears anywhere else in src/.

use std::path::Path;

fn scan(dir: &Path, bad: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        if p.is_dir() {
            if p.file_name().unwrap() != "ffi" {
                scan(&p, bad);
            }
        } else if p.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&p).unwrap();
            for (i, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap();
                if code.split(|c: char| !c.is_alphanumeric() && c != '_').any(|w| w == "unsafe") {
                    bad.push(format!("{}:{}: {}", p.display(), i + 1, line.trim()));
                }
            }
        }
    }
}

#[test]
fn unsafe_only_in_ffi() {
    let mut bad = Vec::new();
    scan(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut bad);
    assert!(bad.is_empty(), "unsafe outside src/ffi:\n{}", bad.join("\n"));
}

#[test]
fn the_scanner_sees_unsafe() {
    // Guard against a scanner that can never fail.
    let dir = std::env::temp_dir().join(format!("fk-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x.rs"), "fn f() { unsafe { } }\n").unwrap();
    let mut bad = Vec::new();
    scan(&dir, &mut bad);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(bad.len(), 1);
}
