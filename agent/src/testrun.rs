//! Running the repository's tests: the command the Director named, or one we detect.

use std::path::Path;

/// A test command from the files at the repository root, if any looks familiar.
pub fn detect(root: &Path) -> Option<String> {
    let has = |f: &str| root.join(f).exists();
    if let Ok(mk) = std::fs::read_to_string(root.join("Makefile"))
        && mk.lines().any(|l| l.starts_with("test:"))
    {
        return Some("make test".into());
    }
    if has("Cargo.toml") {
        return Some("cargo test".into());
    }
    if let Ok(pkg) = std::fs::read_to_string(root.join("package.json"))
        && serde_json::from_str::<serde_json::Value>(&pkg).is_ok_and(|v| v["scripts"]["test"].is_string())
    {
        return Some("npm test".into());
    }
    if [
        "pytest.ini",
        "pyproject.toml",
        "setup.py",
        "setup.cfg",
        "conftest.py",
        "tox.ini",
    ]
    .iter()
    .any(|f| has(f))
    {
        return Some("python3 -m pytest".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::detect;

    #[test]
    fn detects_the_usual_test_commands() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(detect(d.path()), None);
        std::fs::write(d.path().join("pyproject.toml"), "").unwrap();
        assert_eq!(detect(d.path()).as_deref(), Some("python3 -m pytest"));
        std::fs::write(d.path().join("package.json"), r#"{"scripts":{"test":"jest"}}"#).unwrap();
        assert_eq!(detect(d.path()).as_deref(), Some("npm test"));
        std::fs::write(d.path().join("Cargo.toml"), "").unwrap();
        assert_eq!(detect(d.path()).as_deref(), Some("cargo test"));
        std::fs::write(d.path().join("Makefile"), "test:\n\ttrue\n").unwrap();
        assert_eq!(detect(d.path()).as_deref(), Some("make test"));
    }
}
