//! Real git repositories for tests: a bare "remote" and a working clone.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A tiny Python project whose `add` is wrong; `make test` fails until it is fixed.
/// The project every agent test (and the system test) works on.
pub const PYTHON_PROJECT: &[(&str, &str)] = &[
    ("calc.py", "def add(a, b):\n    return a - b\n"),
    (
        "test_calc.py",
        "import unittest\nfrom calc import add\n\n\nclass AddTest(unittest.TestCase):\n    def test_add(self):\n        self.assertEqual(add(2, 3), 5)\n\n\nif __name__ == '__main__':\n    unittest.main()\n",
    ),
    ("Makefile", "test:\n\tpython3 -m unittest -q\n"),
    (".gitignore", "__pycache__/\n"),
];

pub struct TempRepo {
    _dir: tempfile::TempDir,
    pub remote: PathBuf,
    pub work: PathBuf,
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "Test")
        .env("GIT_AUTHOR_EMAIL", "test@example.com")
        .env("GIT_COMMITTER_NAME", "Test")
        .env("GIT_COMMITTER_EMAIL", "test@example.com")
        .output()
        .expect("run git");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

impl TempRepo {
    /// A bare remote on `main` holding `files` in one commit, and a clone of it.
    pub fn with_files(files: &[(&str, &str)]) -> TempRepo {
        let dir = tempfile::tempdir().expect("tempdir");
        let remote = dir.path().join("remote.git");
        let work = dir.path().join("work");
        std::fs::create_dir_all(&remote).unwrap();
        git(&remote, &["init", "--bare", "--initial-branch=main", "."]);
        std::fs::create_dir_all(&work).unwrap();
        git(&work, &["init", "--initial-branch=main", "."]);
        for (path, content) in files {
            let p = work.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, content).unwrap();
        }
        git(&work, &["add", "-A"]);
        git(&work, &["commit", "--allow-empty", "-m", "initial"]);
        git(&work, &["remote", "add", "origin", remote.to_str().unwrap()]);
        git(&work, &["push", "origin", "main"]);
        TempRepo {
            _dir: dir,
            remote,
            work,
        }
    }

    /// [`PYTHON_PROJECT`] as a remote and a clone.
    pub fn python_project() -> TempRepo {
        TempRepo::with_files(PYTHON_PROJECT)
    }

    /// [`PYTHON_PROJECT`] on two branches, `trunk` (where the remote's HEAD points) and
    /// `feature`, and no `main`: a remote whose default branch is not the usual one.
    pub fn on_trunk() -> TempRepo {
        let repo = TempRepo::python_project();
        git(&repo.work, &["push", "origin", "main:trunk", "main:feature"]);
        git(&repo.remote, &["symbolic-ref", "HEAD", "refs/heads/trunk"]);
        git(&repo.remote, &["branch", "-D", "main"]);
        repo
    }

    pub fn remote_url(&self) -> String {
        format!("file://{}", self.remote.display())
    }

    /// Branches of the remote.
    pub fn remote_branches(&self) -> Vec<String> {
        git(
            &self.remote,
            &["for-each-ref", "--format=%(refname:short)", "refs/heads"],
        )
        .lines()
        .map(str::to_owned)
        .collect()
    }
}
