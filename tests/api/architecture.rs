//! The layers of `src/`, listed once, and a reading of every source file that fails when a
//! lower layer imports a higher one. The one loop allowed: code that takes the
//! application's state (`crate::app::{App, AppState, Effects}`: the handlers', job bodies'
//! and extractors' argument) may name it from below.

use std::collections::BTreeMap;
use std::path::Path;

/// Lowest first; a module may import its own layer and those below it.
const LAYERS: &[(&str, &[&str])] = &[
    ("foundation", &["util", "error", "domain", "http", "openapi"]),
    (
        "infrastructure",
        &["config", "db", "redis", "limits", "cache", "telemetry", "jobs", "mail", "auth", "secrets", "settings"],
    ),
    (
        "domains",
        &[
            "catalog",
            "customers",
            "cart",
            "gift_cards",
            "webhooks",
            "orders",
            "reviews",
            "archive",
            "bulk",
            "media",
            "admin",
            "replication",
        ],
    ),
    ("assembly", &["app"]),
    ("pages", &["pages"]),
    ("front", &["web"]),
    ("commands", &["cli", "commands", "seed", "lib", "main"]),
];

/// What a lower layer may name of the assembly: the state every handler takes.
const STATE: &[&str] = &["App", "AppState", "Effects"];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|(_, modules)| modules.contains(&module))
}

/// The top-level module of a file under `src/`.
fn module_of(rel: &Path) -> String {
    let first = rel.components().next().unwrap().as_os_str().to_string_lossy().into_owned();
    first.trim_end_matches(".rs").to_owned()
}

/// Every `crate::…` path a file's code names (comments left out), as its segments; the
/// names of a `crate::{…}` group each count.
fn crate_paths(source: &str) -> Vec<Vec<String>> {
    let code: String = source
        .lines()
        .map(|l| match l.find("//") {
            Some(i) if !l[..i].contains('"') => &l[..i],
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let mut out = Vec::new();
    let ident = |s: &str| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().last();
        rest = &rest[i + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue; // e.g. `storefront_crate::`
        }
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c, d::{e, f}}`: the first segment of each top-level name
            let mut depth = 0;
            let mut item = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        out.push(segments(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(c);
            }
            out.push(segments(&item));
            continue;
        }
        let first = ident(rest);
        let mut path = vec![first.clone()];
        let mut tail = &rest[first.len()..];
        while let Some(t) = tail.strip_prefix("::") {
            if let Some(group) = t.strip_prefix('{') {
                // `crate::app::{App, AppState}`: each name of the group
                let names = group.split('}').next().unwrap_or("");
                for name in names.split(',') {
                    let mut p = path.clone();
                    p.push(ident(name.trim()));
                    out.push(p);
                }
                path.clear();
                break;
            }
            let next = ident(t);
            if next.is_empty() {
                break;
            }
            path.push(next.clone());
            tail = &t[next.len()..];
        }
        if !path.is_empty() {
            out.push(path);
        }
    }
    out.retain(|p| p.first().is_some_and(|s| !s.is_empty()));
    out
}

fn segments(item: &str) -> Vec<String> {
    item.split("::").map(|s| s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()).collect()
}

/// What is wrong with one file's imports.
fn violations(rel: &Path, source: &str) -> Vec<String> {
    let module = module_of(rel);
    let Some(own) = layer_of(&module) else {
        return vec![format!("{}: the module {module} is in no layer (list it in LAYERS)", rel.display())];
    };
    let mut found = Vec::new();
    for path in crate_paths(source) {
        let target = &path[0];
        if *target == module {
            continue;
        }
        let Some(theirs) = layer_of(target) else {
            found.push(format!("{}: crate::{} is in no layer", rel.display(), path.join("::")));
            continue;
        };
        let state = *target == "app" && path.get(1).is_some_and(|n| STATE.contains(&n.as_str())) && own > 0;
        if theirs > own && !state {
            found.push(format!(
                "{} ({}) imports crate::{} ({})",
                rel.display(),
                LAYERS[own].0,
                path.join("::"),
                LAYERS[theirs].0
            ));
        }
        // a domain's handlers are the front layer's to route and the pages' to render (a page
        // is the API's answer as HTML), no other module's to call
        if path.get(1).is_some_and(|s| s == "handlers") && !matches!(LAYERS[own].0, "front" | "pages") {
            found.push(format!("{} imports another module's handlers: crate::{}", rel.display(), path.join("::")));
        }
    }
    found
}

fn sources(dir: &Path, root: &Path, out: &mut BTreeMap<std::path::PathBuf, String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, root, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.insert(path.strip_prefix(root).unwrap().to_owned(), std::fs::read_to_string(&path).unwrap());
        }
    }
}

#[test]
fn no_layer_imports_a_higher_one() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    sources(&root, &root, &mut files);
    assert!(files.len() > 80, "read {} files", files.len());
    let mut all = Vec::new();
    for (rel, source) in &files {
        all.extend(violations(rel, source));
    }
    assert!(all.is_empty(), "imports against the layers:\n{}", all.join("\n"));
    // every module of the crate is in a layer
    let lib = &files[Path::new("lib.rs")];
    for line in lib.lines().filter_map(|l| l.strip_prefix("pub mod ")) {
        let m = line.trim_end_matches(';');
        assert!(layer_of(m).is_some(), "the module {m} is in no layer");
    }
}

#[test]
fn the_check_fails_on_a_domain_that_imports_the_route_table() {
    let catalog = Path::new("catalog/store.rs");
    assert!(violations(catalog, "use crate::db::writer::WriteTx;\nuse crate::domain::Id;").is_empty());
    for bad in [
        "use crate::web::routes::table;",
        "fn f() { let _ = crate::web::policy::routes(); }",
        "use crate::{db, web::routes};",
        "use crate::app::tasks::perform;",
        "use crate::orders::handlers::checkout;",
    ] {
        assert_eq!(violations(catalog, bad).len(), 1, "{bad}");
    }
    // the state handlers take may be named from below, nothing else of the assembly
    assert!(violations(catalog, "use crate::app::{AppState, Effects};").is_empty());
    // a comment is no import; the error module knows no domain
    assert!(violations(catalog, "// see crate::web::routes").is_empty());
    assert_eq!(violations(Path::new("error.rs"), "impl From<crate::orders::E> for ApiError {}").len(), 1);
}
