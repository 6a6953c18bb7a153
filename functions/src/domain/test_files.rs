//! Which changed files are tests, and which tests a patch adds. Pure: paths and unified
//! diff text in, names out.

/// A file is a test by the conventions of its ecosystem: under a `tests`/`test`/
/// `__tests__`/`spec` directory, or named `*_test.*`, `*.test.*`, `*.spec.*`,
/// `test_*.py`, `*_test.go`, `tests.rs`, `*Test.java`, `*.bats`, ...
pub fn is_test_file(path: &str) -> bool {
    let mut parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let Some(name) = parts.pop() else { return false };
    if parts.iter().any(|d| {
        matches!(
            *d,
            "tests" | "test" | "__tests__" | "spec" | "specs" | "testing" | "e2e"
        )
    }) {
        return true;
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    if ext.is_empty() {
        return false;
    }
    name == "tests.rs"
        || name == "test.rs"
        || ext == "bats"
        || stem.ends_with("_test")
        || stem.ends_with("_tests")
        || stem.ends_with("_spec")
        || stem.ends_with(".test")
        || stem.ends_with(".spec")
        || (stem.starts_with("test_") && matches!(ext, "py" | "sh" | "rb"))
        || (matches!(ext, "java" | "kt" | "cs" | "scala" | "swift")
            && (stem.ends_with("Test") || stem.ends_with("Tests")))
}

/// The names of tests defined in the added lines of `patch` (a unified diff of one file),
/// in order, without duplicates. Rust: `fn`s under a test attribute (`#[test]`,
/// `#[tokio::test]`, `#[rstest]`, ...); Python: `def test_*`; JS/TS: `describe`/`it`/`test`
/// titles; Go: `func Test*`; shell: `test_*()` functions and bats `@test` titles.
pub fn added_tests(path: &str, patch: &str) -> Vec<String> {
    let ext = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    let mut out: Vec<String> = Vec::new();
    let mut push = |name: String| {
        if !name.is_empty() && !out.contains(&name) {
            out.push(name);
        }
    };
    // Rust: a test attribute seen on the added lines just before.
    let mut pending_attr = false;
    for line in patch.lines() {
        if line.starts_with("+++") || line.starts_with("---") {
            continue;
        }
        if line.starts_with('-') {
            continue; // a removed line neither adds a test nor separates attribute and fn
        }
        let Some(added) = line.strip_prefix('+') else {
            pending_attr = false; // context or hunk header
            continue;
        };
        let code = added.trim();
        match ext {
            "rs" => {
                if code.is_empty() || code.starts_with("//") {
                    continue;
                }
                if code.starts_with("#[") {
                    pending_attr |= is_rust_test_attr(code);
                    continue;
                }
                if let Some(name) = rust_fn_name(code)
                    && pending_attr
                {
                    push(name);
                }
                pending_attr = false;
            }
            "py" => {
                let def = code.strip_prefix("async ").unwrap_or(code);
                if let Some(rest) = def.strip_prefix("def ") {
                    let name = ident(rest);
                    if name.starts_with("test") {
                        push(name);
                    }
                }
            }
            "js" | "jsx" | "ts" | "tsx" | "mjs" | "cjs" | "mts" | "cts" => {
                for name in js_titles(code) {
                    push(name);
                }
            }
            "go" => {
                if let Some(rest) = code.strip_prefix("func ") {
                    let name = ident(rest);
                    if name.starts_with("Test") {
                        push(name);
                    }
                }
            }
            "sh" | "bash" | "bats" | "zsh" => {
                if let Some(rest) = code.strip_prefix("@test ") {
                    if let Some(title) = quoted(rest.trim_start()) {
                        push(title);
                    }
                    continue;
                }
                let rest = code.strip_prefix("function ").unwrap_or(code);
                let name = ident(rest);
                let after = rest[name.len()..].trim_start();
                if name.starts_with("test") && (after.starts_with("()") || code.starts_with("function ")) {
                    push(name);
                }
            }
            _ => {}
        }
    }
    out
}

fn is_rust_test_attr(attr: &str) -> bool {
    let inner = attr.trim_start_matches("#[").trim_end_matches(']');
    let path = inner.split(['(', ' ', ']']).next().unwrap_or_default();
    path == "test" || path.ends_with("::test") || path == "rstest" || path == "test_case" || path == "quickcheck"
}

/// `fn name(` with any of `pub`, `pub(crate)`, `async`, `unsafe`, `const` in front.
fn rust_fn_name(code: &str) -> Option<String> {
    let mut rest = code;
    loop {
        let before = rest;
        for prefix in [
            "pub(crate) ",
            "pub(super) ",
            "pub ",
            "async ",
            "unsafe ",
            "const ",
            "extern \"C\" ",
        ] {
            rest = rest.strip_prefix(prefix).unwrap_or(rest).trim_start();
        }
        if rest == before {
            break;
        }
    }
    let name = ident(rest.strip_prefix("fn ")?.trim_start());
    (!name.is_empty()).then_some(name)
}

fn ident(s: &str) -> String {
    s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect()
}

/// The string literal `s` starts with ('…', "…" or `…`), unescaped minimally.
fn quoted(s: &str) -> Option<String> {
    let quote = s.chars().next().filter(|c| matches!(c, '"' | '\'' | '`'))?;
    let mut out = String::new();
    let mut escaped = false;
    for c in s[1..].chars() {
        match c {
            _ if escaped => {
                out.push(c);
                escaped = false;
            }
            '\\' => escaped = true,
            c if c == quote => return Some(out),
            c => out.push(c),
        }
    }
    None
}

/// Titles of `describe(`/`it(`/`test(` calls (also `.only`, `.skip`, `.each(...)` forms)
/// on one line.
fn js_titles(code: &str) -> Vec<String> {
    let mut out = Vec::new();
    let bytes = code.as_bytes();
    for word in ["describe", "it", "test"] {
        let mut from = 0;
        while let Some(at) = code[from..].find(word).map(|i| i + from) {
            from = at + word.len();
            // A whole word: not part of `submit(` or `latest(`.
            if at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_' || bytes[at - 1] == b'$') {
                continue;
            }
            let mut rest = &code[at + word.len()..];
            for modifier in [".only", ".skip", ".concurrent", ".todo"] {
                rest = rest.strip_prefix(modifier).unwrap_or(rest);
            }
            if let Some(each) = rest.strip_prefix(".each") {
                // test.each(table)("title", ...) or test.each`table`("title")
                match each.find(")(") {
                    Some(i) => rest = &each[i + 1..],
                    None => continue,
                }
            }
            let Some(args) = rest.trim_start().strip_prefix('(') else {
                continue;
            };
            if let Some(title) = quoted(args.trim_start()) {
                out.push((at, title));
            }
        }
    }
    // In source order, as a reader would list them.
    out.sort_by_key(|(at, _)| *at);
    out.into_iter().map(|(_, t)| t).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_files_by_path_convention() {
        for path in [
            "tests/math.rs",
            "crates/x/tests/api.rs",
            "src/tests.rs",
            "test/helper.js",
            "pkg/calc_test.go",
            "test_calc.py",
            "app/test_views.py",
            "src/button.test.tsx",
            "src/button.spec.ts",
            "web/__tests__/app.js",
            "spec/models/user_spec.rb",
            "src/test/java/com/acme/CalcTest.java",
            "scripts/test_install.sh",
            "e2e/login.bats",
            "lib/parser_tests.rs",
        ] {
            assert!(is_test_file(path), "{path}");
        }
        for path in [
            "src/main.rs",
            "calc.py",
            "src/testing_utils.rs",
            "contest.py",
            "src/latest.rs",
            "README.md",
            "Makefile",
            "tests",
            "src/attestation.go",
        ] {
            assert!(!is_test_file(path), "{path}");
        }
    }

    #[test]
    fn rust_tests_need_a_test_attribute_on_added_lines() {
        let patch = "@@ -0,0 +1,20 @@\n\
            +use super::*;\n\
            +\n\
            +#[test]\n\
            +fn adds_two_numbers() {\n\
            +    assert_eq!(add(2, 2), 4);\n\
            +}\n\
            +\n\
            +fn helper() -> i32 { 1 }\n\
            +\n\
            +#[tokio::test(flavor = \"multi_thread\")]\n\
            +#[ignore]\n\
            +async fn talks_to_the_server() {}\n\
            +#[rstest]\n\
            +pub fn with_cases() {}\n\
            +#[cfg(test)]\n\
            +fn not_a_test() {}\n";
        assert_eq!(
            added_tests("tests/math.rs", patch),
            ["adds_two_numbers", "talks_to_the_server", "with_cases"]
        );
    }

    #[test]
    fn existing_rust_tests_are_not_reported() {
        // Context lines are old code; a removed attribute is not a test either.
        let patch = "@@ -1,6 +1,7 @@\n #[test]\n-fn old_name() {\n+fn new_body() {\n \
            assert!(true);\n }\n-#[test]\n+#[tokio::test]\n+async fn renamed() {}\n";
        assert_eq!(added_tests("tests/a.rs", patch), ["renamed"]);
    }

    #[test]
    fn python_go_js_and_shell_tests() {
        let py = "@@ -0,0 +1,9 @@\n+import unittest\n+class TestCalc(unittest.TestCase):\n\
            +    def test_add(self):\n+        pass\n+    def helper(self):\n+        pass\n\
            +async def test_fetch():\n+    pass\n def test_old():\n";
        assert_eq!(added_tests("test_calc.py", py), ["test_add", "test_fetch"]);

        let go = "@@ -0,0 +1,4 @@\n+func TestAdd(t *testing.T) {}\n+func helper() {}\n+func TestSub(t *testing.T) {}\n";
        assert_eq!(added_tests("calc_test.go", go), ["TestAdd", "TestSub"]);

        let js = "@@ -0,0 +1,8 @@\n+describe('Button', () => {\n+  it(\"renders a label\", () => {});\n\
            +  test.only(`clicks`, () => {});\n+  it.each([1, 2])('handles %i', (n) => {});\n\
            +  submit('not a test');\n+  const latest = test_helper('x');\n+});\n";
        assert_eq!(
            added_tests("src/button.test.tsx", js),
            ["Button", "renders a label", "clicks", "handles %i"]
        );

        let sh = "@@ -0,0 +1,5 @@\n+test_install() {\n+  true\n+}\n+function test_upgrade {\n+helper() { :; }\n";
        assert_eq!(added_tests("tests/run.sh", sh), ["test_install", "test_upgrade"]);
        let bats = "@@ -0,0 +1,2 @@\n+@test \"prints the version\" {\n+}\n";
        assert_eq!(added_tests("e2e/cli.bats", bats), ["prints the version"]);
    }

    #[test]
    fn other_languages_and_empty_patches_give_nothing() {
        assert!(added_tests("CalcTest.java", "@@\n+void testAdd() {}\n").is_empty());
        assert!(added_tests("tests/a.rs", "").is_empty());
        assert!(added_tests("tests/a.py", "+++ b/tests/a.py\n").is_empty());
    }

    #[test]
    fn duplicates_are_reported_once() {
        let py = "@@\n+def test_a():\n+    pass\n+def test_a():\n+    pass\n";
        assert_eq!(added_tests("test_x.py", py), ["test_a"]);
    }
}
