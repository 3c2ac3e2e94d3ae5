//! The layering check: no module imports one above it (ARCHITECTURE.md, "Layers").
//!
//! Every `crate::` path in `src/` (in `use` lines, grouped `use crate::{..}` lists and inline
//! paths; comments and `#[cfg(test)]` modules excluded) is ranked by the longest prefix in
//! [`LAYERS`]; a file may name only its own layer or lower ones. Within `cmd`, a command
//! family names only the command infrastructure, never another family. The check reads the
//! source, so it fails on a new upward `use` before any reviewer has to spot it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Bottom to top. A module may use the modules listed before it, never those after.
const LAYERS: &[&str] = &[
    "clock",
    "alloc",
    "log",
    "stats",
    "types",
    "config",
    "slowlog",
    "latency",
    "net::workers",
    "db",
    "pubsub",
    "client",
    "notify",
    "propagate",
    "server",
    "persist",
    "cmd",
    "net",
];

/// The command infrastructure every family may use; every other `cmd` module is a family.
const CMD_INFRA: &[&str] = &[
    "cmd",
    "cmd::args",
    "cmd::keys",
    "cmd::lookup",
    "cmd::error",
    "cmd::table",
    "cmd::dispatch",
    "cmd::effects",
    "cmd::blocking",
    "cmd::info",
    "cmd::reply",
    "cmd::session",
];

/// Files that wire the layers together (start-up), above every layer.
const TOP: &[&str] = &["lib", "main"];

fn rank(path: &str) -> Option<usize> {
    LAYERS
        .iter()
        .enumerate()
        .filter(|(_, l)| path == **l || path.starts_with(&format!("{l}::")))
        .max_by_key(|(_, l)| l.len())
        .map(|(i, _)| i)
}

/// The module path of a source file (`src/db/evict.rs` → `db::evict`, `src/db/mod.rs` → `db`).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts.join("::")
}

/// Source without comments, string literals and `#[cfg(test)]` items.
fn strip(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        if b[i..].starts_with(b"//") {
            while i < b.len() && b[i] != b'\n' {
                i += 1;
            }
        } else if b[i..].starts_with(b"/*") {
            i += 2;
            while i < b.len() && !b[i..].starts_with(b"*/") {
                i += 1;
            }
            i += 2;
        } else if b[i] == b'"' {
            i += 1;
            while i < b.len() && b[i] != b'"' {
                i += if b[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if b[i..].starts_with(b"#[cfg(test)]") {
            // Skip the attribute and the item it guards (up to its matching close brace, or
            // the `;` of a one-line item).
            i += "#[cfg(test)]".len();
            let mut depth = 0;
            while i < b.len() {
                match b[i] {
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    b';' if depth == 0 => {
                        i += 1;
                        break;
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            out.push(b[i] as char);
            i += 1;
        }
    }
    out
}

/// Expands `a::{b, c::{d, e}}` into `a::b`, `a::c::d`, `a::c::e`.
fn expand(prefix: &str, tree: &str, into: &mut Vec<String>) {
    let tree = tree.trim();
    if let Some(open) = tree.find('{') {
        let head = tree[..open].trim().trim_end_matches("::");
        let base = join(prefix, head);
        let body = &tree[open + 1..tree.rfind('}').unwrap_or(tree.len())];
        let mut depth = 0;
        let mut start = 0;
        for (i, c) in body.char_indices() {
            match c {
                '{' => depth += 1,
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    expand(&base, &body[start..i], into);
                    start = i + 1;
                }
                _ => {}
            }
        }
        expand(&base, &body[start..], into);
    } else if !tree.is_empty() {
        let item = tree.split(" as ").next().unwrap().trim();
        if item != "self" && item != "*" {
            into.push(join(prefix, item));
        } else {
            into.push(prefix.to_string());
        }
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.is_empty(), b.is_empty()) {
        (true, _) => b.to_string(),
        (_, true) => a.to_string(),
        _ => format!("{a}::{b}"),
    }
}

/// The `crate::` paths a stripped source names, without the `crate::` prefix. Paths stop at
/// the first segment that starts with an upper-case letter (a type or a constant).
fn crate_paths(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = src;
    while let Some(at) = rest.find("crate::") {
        let after = &rest[at + "crate::".len()..];
        if after.starts_with('{') {
            let end = matching_brace(after).unwrap_or(after.len() - 1);
            expand("", &after[..=end], &mut out);
            rest = &after[end..];
            continue;
        }
        let path: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':').collect();
        let segs: Vec<&str> =
            path.split("::").filter(|s| !s.is_empty()).take_while(|s| !s.starts_with(char::is_uppercase)).collect();
        if path.ends_with("::") && after[path.len()..].starts_with('{') {
            let tail = &after[path.len()..];
            let end = matching_brace(tail).unwrap_or(tail.len() - 1);
            expand(&segs.join("::"), &tail[..=end], &mut out);
        } else if !segs.is_empty() {
            out.push(segs.join("::"));
        }
        rest = &after[path.len()..];
    }
    out.into_iter()
        .map(|p| p.split("::").take_while(|s| !s.starts_with(char::is_uppercase)).collect::<Vec<_>>().join("::"))
        .filter(|p| !p.is_empty())
        .collect()
}

fn matching_brace(s: &str) -> Option<usize> {
    let mut depth = 0;
    for (i, c) in s.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// For `super::` paths inside `cmd`: the sibling module they name.
fn super_paths(module: &str, src: &str) -> Vec<String> {
    let parent = match module.rsplit_once("::") {
        Some((p, _)) => p.to_string(),
        None => return Vec::new(),
    };
    let mut out = Vec::new();
    for (i, _) in src.match_indices("super::") {
        if src[..i].ends_with("::") {
            continue;
        }
        let after = &src[i + "super::".len()..];
        if after.starts_with('{') {
            let end = matching_brace(after).unwrap_or(after.len() - 1);
            let mut v = Vec::new();
            expand("", &after[..=end], &mut v);
            out.extend(v.into_iter().map(|p| join(&parent, p.split("::").next().unwrap())));
        } else {
            let seg: String = after.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !seg.is_empty() && !seg.starts_with(char::is_uppercase) && after[seg.len()..].starts_with("::") {
                out.push(join(&parent, &seg));
            }
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn is_family(module: &str) -> bool {
    module.starts_with("cmd::") && !CMD_INFRA.contains(&family_of(module).as_str())
}

/// The family a `cmd` module belongs to (`cmd::stream::groups` → `cmd::stream`).
fn family_of(module: &str) -> String {
    module.split("::").take(2).collect::<Vec<_>>().join("::")
}

fn violations() -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    // `cmd::x` names a family only when `x` is a module file (not an item of `cmd/mod.rs`).
    let cmd_modules: BTreeSet<String> =
        files.iter().map(|f| family_of(&module_of(&src, f))).filter(|m| m.starts_with("cmd::")).collect();
    let mut bad = BTreeSet::new();
    for f in &files {
        let module = module_of(&src, f);
        if TOP.contains(&module.as_str()) {
            continue;
        }
        let Some(mine) = rank(&module) else {
            bad.insert(format!("{module}: not in LAYERS (add it where it belongs)"));
            continue;
        };
        let text = strip(&std::fs::read_to_string(f).unwrap());
        for p in crate_paths(&text) {
            match rank(&p) {
                Some(r) if r > mine => {
                    bad.insert(format!("{module} (layer {}) uses crate::{p} (layer {})", LAYERS[mine], LAYERS[r]));
                }
                None => {
                    bad.insert(format!("{module} uses crate::{p}, which is in no layer"));
                }
                _ => {}
            }
        }
        if is_family(&module) {
            // `super::` in `cmd::x` names a sibling of `x`; in `cmd::x::y`, a part of `x` itself.
            let siblings = if module.matches("::").count() == 1 { super_paths(&module, &text) } else { Vec::new() };
            let named: Vec<String> =
                crate_paths(&text).into_iter().filter(|p| p.starts_with("cmd::")).chain(siblings).collect();
            for p in named {
                let fam = family_of(&p);
                if cmd_modules.contains(&fam) && is_family(&fam) && fam != family_of(&module) {
                    bad.insert(format!("command family {} uses another family: {p}", family_of(&module)));
                }
            }
        }
    }
    bad.into_iter().collect()
}

#[test]
fn no_module_uses_a_higher_one() {
    let bad = violations();
    assert!(bad.is_empty(), "layering violations (see ARCHITECTURE.md, Layers):\n  {}", bad.join("\n  "));
}

#[test]
fn the_check_catches_an_upward_use() {
    // The parser sees each form of path the code uses.
    let text = strip(
        "use crate::db::{self, value::Value};\nuse crate::{cmd::Ctx, log};\n// crate::net in a comment\n\
         fn f() { crate::persist::aof::feed(); let s = \"crate::net\"; }\n#[cfg(test)]\nmod tests { use crate::net; }\n",
    );
    let paths: BTreeSet<String> = crate_paths(&text).into_iter().collect();
    let want: BTreeSet<String> =
        ["db", "db::value", "cmd", "log", "persist::aof::feed"].iter().map(|s| s.to_string()).collect();
    assert_eq!(paths, want);
    assert!(rank("db::evict") < rank("cmd"));
    assert!(rank("net::workers") < rank("db"), "the worker pool sits below the keyspace");
    assert!(rank("net::conn") > rank("cmd"));
    assert_eq!(
        super_paths("cmd::string", "use super::{args, hash::x}; super::txn::f();"),
        vec!["cmd::args", "cmd::hash", "cmd::txn"]
    );
}
