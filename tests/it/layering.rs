//! The layers of ARCHITECTURE.md, held against the code: every `crate::` (and, in the binary,
//! `photosift::`) path in `src/` must lead to a module on the same floor or a lower one of the
//! table in ARCHITECTURE.md's "layers" block, and no two top-level modules may import each
//! other. Unit tests (`#[cfg(test)]` and below) are left out: a test may build its fixture with
//! whatever it needs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The floors of ARCHITECTURE.md: the fenced block after "```layers", one floor per line,
/// highest first, `floor N: module module ...`.
fn floors(architecture: &str) -> BTreeMap<String, u32> {
    let block = architecture
        .split("```layers\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("ARCHITECTURE.md has a ```layers block");
    let mut floors = BTreeMap::new();
    for line in block.lines().filter(|l| !l.trim().is_empty()) {
        let (head, modules) = line.split_once(':').expect("`floor N: modules` lines");
        let n: u32 =
            head.trim().trim_start_matches("floor").trim().parse().expect("a floor number");
        for module in modules.split_whitespace() {
            assert!(floors.insert(module.to_owned(), n).is_none(), "{module} is on two floors");
        }
    }
    floors
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The top-level modules `code` names through `prefix` (`crate::` or `photosift::`), comment
/// lines and unit tests left out.
fn imported(code: &str, prefix: &str) -> BTreeSet<String> {
    let code = code.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = BTreeSet::new();
    for line in code.lines().filter(|l| !l.trim_start().starts_with("//")) {
        let mut rest = line;
        while let Some(at) = rest.find(prefix) {
            let after = &rest[at + prefix.len()..];
            let before_ok = at == 0 || !rest.as_bytes()[at - 1].is_ascii_alphanumeric();
            if before_ok {
                if let Some(group) = after.strip_prefix('{') {
                    // `use crate::{a, b::c}`: each first segment.
                    for item in group.split(['}', ',']).map(str::trim) {
                        let name: String =
                            item.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                        if !name.is_empty() {
                            out.insert(name);
                        }
                    }
                } else {
                    let name: String =
                        after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                    out.insert(name);
                }
            }
            rest = after;
        }
    }
    out
}

/// The top-level module a file under `src/` belongs to (`main` for the binary's own files).
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    match first.strip_suffix(".rs") {
        Some(name) => name.to_owned(),
        None if first == "cli" => "main".to_owned(),
        None => first,
    }
}

#[test]
fn imports_never_run_up_the_layers_of_architecture_md() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let floors = floors(&std::fs::read_to_string(root.join("ARCHITECTURE.md")).unwrap());
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    let mut edges: BTreeSet<(String, String)> = BTreeSet::new();
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(root.join("src")).unwrap();
        let from = module_of(rel);
        if from == "lib" {
            continue;
        }
        let Some(&from_floor) = floors.get(&from) else {
            wrong.push(format!(
                "{}: module {from} is on no floor of ARCHITECTURE.md",
                rel.display()
            ));
            continue;
        };
        let code = std::fs::read_to_string(file).unwrap();
        let prefix = if from == "main" { "photosift::" } else { "crate::" };
        for to in imported(&code, prefix) {
            if to == from || to.is_empty() {
                continue;
            }
            let Some(&to_floor) = floors.get(&to) else {
                wrong.push(format!("{}: imports {to}, which is on no floor", rel.display()));
                continue;
            };
            if to_floor > from_floor {
                wrong.push(format!(
                    "{}: {from} (floor {from_floor}) imports {to} (floor {to_floor}), above it",
                    rel.display()
                ));
            }
            edges.insert((from.clone(), to));
        }
    }
    for (a, b) in &edges {
        if a < b && edges.contains(&(b.clone(), a.clone())) {
            wrong.push(format!("{a} and {b} import each other"));
        }
    }
    assert!(wrong.is_empty(), "imports against ARCHITECTURE.md's layers:\n{}", wrong.join("\n"));
    // The check sees the imports at all: the binary reaches the TUI, the TUI the pipeline.
    assert!(edges.contains(&("main".into(), "tui".into())), "{edges:?}");
    assert!(edges.contains(&("tui".into(), "pipeline".into())), "{edges:?}");
}

#[test]
fn an_import_up_the_layers_is_caught() {
    let floors = floors("```layers\nfloor 2: tui\nfloor 1: catalog\n```\n");
    assert_eq!(floors["tui"], 2);
    let found = imported(
        "use crate::{tui::state, catalog};\n// crate::nothing\nx(crate::tui::y)",
        "crate::",
    );
    assert_eq!(found, ["catalog", "tui"].into_iter().map(String::from).collect());
}
