//! The shape of the code, checked like behaviour: each layer imports only the layers below it
//! (DESIGN.md), no two modules of one directory import each other (directly or around a
//! circle), every source file opens with a doc comment that says what it is for, and no file
//! grows past 1,200 lines. A change that breaks one of these fails here with the file and the
//! path that did it.
//!
//! Imports are read from the text: every `crate::`, `super::` and `self::` path outside
//! comments, with `{...}` groups expanded. A path to an item of a parent module (`super::World`)
//! is not an edge between siblings: a parent holding what its children share is how modules
//! nest. Method calls are not imports, so `impl World` spread over the files of `model/world/`
//! is allowed to call across them (the world's concerns re-enter one another by design).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const MAX_LINES: usize = 1200;

/// A module's path from the crate root: `model::world::serve` is [model, world, serve].
type ModPath = Vec<String>;

/// What one file imports: its module, and every path it names, made absolute.
struct FileImports {
    file: String,
    module: ModPath,
    paths: Vec<ModPath>,
}

/// The top-level modules from the bottom up; a module may import only those of a lower rank.
/// `engine` and `policy` share the bottom and know nothing of each other (policies are sans-IO:
/// time and randomness are passed in).
const LAYERS: &[(&str, u32)] = &[
    ("engine", 0),
    ("policy", 0),
    ("model", 1),
    ("faults", 2),
    ("metrics", 3),
    ("scenario", 4),
    ("runner", 5),
    ("rare", 5),
    ("report", 6),
    ("sweep", 7),
    ("check", 7),
    ("search", 8),
    ("cli", 9),
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The module path of a file: `src/model/world/serve.rs` -> [model, world, serve];
/// `src/model/world/mod.rs` -> [model, world]; `src/lib.rs` -> [].
fn module_of(file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src()).unwrap();
    let mut parts: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().unwrap();
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// Every module of the crate (as paths), from the files and directories under `src/`.
fn modules(files: &[PathBuf]) -> BTreeSet<ModPath> {
    files.iter().map(|f| module_of(f)).collect()
}

/// The text without comment lines (doc comments mention paths that are not imports).
fn code(text: &str) -> String {
    text.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every path that starts with `crate`, `super` or `self`, with one level of `{a, b::c}`
/// expanded, as written (segments).
fn paths(code: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let starts = ["crate::", "super::", "self::"]
            .iter()
            .find(|p| chars[i..].iter().take(p.len()).copied().eq(p.chars()));
        let boundary = i == 0 || !is_ident(chars[i - 1]) && chars[i - 1] != ':';
        let Some(_) = starts.filter(|_| boundary) else {
            i += 1;
            continue;
        };
        let mut segs = Vec::new();
        let mut j = i;
        loop {
            let s = j;
            while j < chars.len() && is_ident(chars[j]) {
                j += 1;
            }
            if s == j {
                break;
            }
            segs.push(chars[s..j].iter().collect::<String>());
            if chars[j..].starts_with(&[':', ':']) {
                j += 2;
                if chars.get(j) == Some(&'{') {
                    let close = chars[j..].iter().position(|&c| c == '}').unwrap() + j;
                    let inner: String = chars[j + 1..close].iter().collect();
                    for item in inner.split(',') {
                        let item = item.trim();
                        if item.is_empty() || item.starts_with('{') {
                            continue;
                        }
                        let mut p = segs.clone();
                        p.extend(
                            item.split("::")
                                .map(|s| s.split_whitespace().next().unwrap_or("").to_string())
                                .filter(|s| !s.is_empty()),
                        );
                        out.push(p);
                    }
                    j = close + 1;
                    segs.clear();
                    break;
                }
            } else {
                break;
            }
        }
        if !segs.is_empty() {
            out.push(segs);
        }
        i = j.max(i + 1);
    }
    out
}

/// A path as written in `file`'s module, made absolute (`crate::` dropped).
fn resolve(from: &[String], path: &[String]) -> Vec<String> {
    let mut base: Vec<String> = from.to_vec();
    let mut rest = path;
    match rest.first().map(String::as_str) {
        Some("crate") => {
            base.clear();
            rest = &rest[1..];
        }
        Some("self") => rest = &rest[1..],
        _ => {}
    }
    while rest.first().map(String::as_str) == Some("super") {
        base.pop();
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    base
}

/// Every file's imports, resolved.
fn imports() -> Vec<FileImports> {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    files
        .iter()
        .map(|f| {
            let module = module_of(f);
            let text = std::fs::read_to_string(f).unwrap();
            let paths = paths(&code(&text))
                .iter()
                .map(|p| resolve(&module, p))
                .collect();
            FileImports {
                file: rel(f),
                module,
                paths,
            }
        })
        .collect()
}

fn rel(p: &Path) -> String {
    p.strip_prefix(Path::new(env!("CARGO_MANIFEST_DIR")))
        .unwrap()
        .display()
        .to_string()
}

#[test]
fn each_layer_imports_only_the_layers_below_it() {
    let rank: BTreeMap<&str, u32> = LAYERS.iter().copied().collect();
    let mut bad = Vec::new();
    for FileImports {
        file,
        module,
        paths,
    } in imports()
    {
        let Some(top) = module.first() else { continue }; // lib.rs, main.rs
        let mine = *rank
            .get(top.as_str())
            .unwrap_or_else(|| panic!("{file}: module `{top}` has no place in LAYERS"));
        for p in paths {
            let Some(other) = p.first() else { continue };
            if other == top {
                continue;
            }
            match rank.get(other.as_str()) {
                Some(&r) if r < mine => {}
                Some(_) => bad.push(format!(
                    "{file}: `{top}` imports `{}`, which is not below it",
                    p.join("::")
                )),
                None => {}
            }
        }
    }
    assert!(bad.is_empty(), "layer violations:\n{}", bad.join("\n"));
}

/// The circles between sibling modules in `entries`, given every module of the crate; one
/// line per circle, with the paths that make it.
fn circles(entries: &[FileImports], mods: &BTreeSet<ModPath>) -> Vec<String> {
    // Per parent module: edges between its child modules (which child's subtree imports
    // which other child), with one file and path that shows each edge.
    let mut edges: BTreeMap<ModPath, BTreeMap<(String, String), String>> = BTreeMap::new();
    for FileImports {
        file,
        module: m,
        paths,
    } in entries
    {
        for p in paths {
            // The deepest common parent of the importing module and the imported path.
            let common = m.iter().zip(p).take_while(|(a, b)| a == b).count();
            if common >= m.len() || common >= p.len() {
                continue; // a path into itself, or to one of its own parents' items
            }
            let parent = m[..common].to_vec();
            let (a, b) = (m[common].clone(), p[common].clone());
            let mut target = parent.clone();
            target.push(b.clone());
            if !mods.contains(&target) {
                continue; // an item of the parent (`super::World`), not a sibling module
            }
            edges
                .entry(parent)
                .or_default()
                .entry((a, b))
                .or_insert_with(|| format!("{file} names `{}`", p.join("::")));
        }
    }
    // Depth-first search for a back edge; report the circle it closes.
    fn visit<'a>(
        n: &'a String,
        es: &'a BTreeMap<(String, String), String>,
        stack: &mut Vec<&'a String>,
        done: &mut BTreeSet<&'a String>,
    ) -> Option<Vec<String>> {
        if done.contains(n) {
            return None;
        }
        if let Some(k) = stack.iter().position(|x| *x == n) {
            let mut circle: Vec<String> = stack[k..].iter().map(|s| s.to_string()).collect();
            circle.push(n.to_string());
            return Some(circle);
        }
        stack.push(n);
        for (a, b) in es.keys() {
            if a == n {
                if let Some(c) = visit(b, es, stack, done) {
                    return Some(c);
                }
            }
        }
        stack.pop();
        done.insert(n);
        None
    }
    let mut out = Vec::new();
    for (parent, es) in &edges {
        let nodes: BTreeSet<&String> = es.keys().flat_map(|(a, b)| [a, b]).collect();
        let mut done = BTreeSet::new();
        for n in nodes {
            if let Some(circle) = visit(n, es, &mut Vec::new(), &mut done) {
                let why: Vec<String> = circle
                    .windows(2)
                    .map(|w| format!("    {}", es[&(w[0].clone(), w[1].clone())]))
                    .collect();
                let at = if parent.is_empty() {
                    "crate".to_string()
                } else {
                    parent.join("::")
                };
                out.push(format!(
                    "in `{at}`: {}\n{}",
                    circle.join(" -> "),
                    why.join("\n")
                ));
                break;
            }
        }
    }
    out
}

#[test]
fn no_two_modules_of_a_directory_import_each_other() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let found = circles(&imports(), &modules(&files));
    assert!(
        found.is_empty(),
        "modules that import each other (move what they share into a module below both):\n{}",
        found.join("\n")
    );
}

#[test]
fn every_source_file_says_what_it_is_for_and_stays_short() {
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    let mut bad = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        if !text.starts_with("//!") {
            bad.push(format!(
                "{}: does not open with a `//!` doc comment saying what it is for",
                rel(f)
            ));
        }
        let n = text.lines().count();
        if n > MAX_LINES {
            bad.push(format!(
                "{}: {n} lines, more than {MAX_LINES}; split it by concern",
                rel(f)
            ));
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The checker itself: it reads paths as written, and finds the two circles this test was
/// written against (as they were before the model split) while passing the layout that
/// replaced them.
#[test]
fn the_import_reader_finds_paths_and_circles() {
    let m = |s: &str| s.split("::").map(String::from).collect::<Vec<_>>();
    let mods: BTreeSet<ModPath> = [
        "scenario",
        "scenario::validate",
        "scenario::faults",
        "scenario::policies",
        "scenario::check",
        "model",
        "model::stack",
        "model::world",
        "model::world::serve",
        "model::request",
    ]
    .iter()
    .map(|s| m(s))
    .collect();
    let entry = |file: &str, module: &str, uses: &[&str]| {
        let module = m(module);
        FileImports {
            file: file.to_string(),
            paths: uses.iter().map(|u| resolve(&module, &m(u))).collect(),
            module,
        }
    };
    let before = [
        entry(
            "validate.rs",
            "scenario::validate",
            &["super::faults::plan", "super::policies::stack"],
        ),
        entry(
            "faults.rs",
            "scenario::faults",
            &["super::validate::Checker"],
        ),
        entry(
            "policies.rs",
            "scenario::policies",
            &["super::validate::Checker"],
        ),
        entry("stack.rs", "model::stack", &["super::world::CallerRef"]),
        entry(
            "serve.rs",
            "model::world::serve",
            &["crate::model::stack::Inv", "super::World"],
        ),
    ];
    let found = circles(&before, &mods);
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found[0].starts_with("in `model`: stack -> world -> stack"),
        "{}",
        found[0]
    );
    assert!(
        found[1].starts_with("in `scenario`: faults -> validate -> faults"),
        "{}",
        found[1]
    );
    let after = [
        entry(
            "validate.rs",
            "scenario::validate",
            &["super::faults::plan", "super::check::Checker"],
        ),
        entry("faults.rs", "scenario::faults", &["super::check::Checker"]),
        entry(
            "policies.rs",
            "scenario::policies",
            &["super::check::Checker"],
        ),
        entry("stack.rs", "model::stack", &["super::request::CallerRef"]),
        entry(
            "serve.rs",
            "model::world::serve",
            &["crate::model::request::CallerRef", "super::World"],
        ),
    ];
    assert_eq!(circles(&after, &mods), Vec::<String>::new());

    let ps = paths("use super::check::{unknown_name, Checker};\nlet x = crate::model::Dist::new();\nuse super::{Observer, World};");
    let got: Vec<String> = ps.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        got,
        [
            "super::check::unknown_name",
            "super::check::Checker",
            "crate::model::Dist::new",
            "super::Observer",
            "super::World"
        ]
    );
    assert_eq!(
        resolve(&m("scenario::faults"), &m("super::validate::Checker")),
        m("scenario::validate::Checker")
    );
    assert_eq!(
        resolve(&m("model::world::serve"), &m("super::super::stack::Inv")),
        m("model::stack::Inv")
    );
    assert_eq!(
        resolve(&m("model::world"), &m("self::event::Event")),
        m("model::world::event::Event")
    );
    assert_eq!(code("//! doc crate::x\nuse crate::y;"), "use crate::y;");
}

/// Nothing that can reach the event order, the outputs or the trace hash calls the platform's
/// math library, whose last bits differ between glibc, musl, macOS and Windows: the simulation
/// library uses `libm` (pure Rust, the same bits everywhere). `sqrt` stays: IEEE 754 rounds it
/// exactly. Test modules and the command line (which formats what the library computed) are
/// exempt.
#[test]
fn the_simulation_does_not_call_the_platforms_math_library() {
    let platform = [
        ".ln()",
        ".exp()",
        ".powf(",
        ".powi(",
        ".cos()",
        ".sin()",
        ".tan()",
        ".tanh()",
        ".log(",
        ".log10()",
        ".log2()",
        ".exp2()",
        ".cbrt()",
        ".ln_1p()",
        ".exp_m1()",
        ".sinh()",
        ".cosh()",
        ".atan",
        ".hypot(",
    ];
    let mut found = Vec::new();
    let mut files = Vec::new();
    rust_files(&src(), &mut files);
    // The command line only formats what the layers below computed.
    files.retain(|f| !rel(f).starts_with("src/cli/"));
    {
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            // Code before the file's test module, comments dropped.
            let body = text.split("#[cfg(test)]").next().unwrap();
            for (n, line) in body.lines().enumerate() {
                let code = line.split("//").next().unwrap();
                for p in platform {
                    if code.contains(p) {
                        found.push(format!("{}:{}: {p}", rel(&f), n + 1));
                    }
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "platform math (use libm::log, libm::exp, libm::pow, libm::cos, libm::tanh):\n{}",
        found.join("\n")
    );
}
