//! "Can this remote work?", asked by the project form before saving: one request in git's
//! smart-HTTP protocol (`GET {repo}/info/refs?service=git-upload-pack`, what `git
//! ls-remote` sends first), through the outbound policy, time-boxed and size-capped. It
//! lists the branches and the one HEAD points at, so the form can pre-fill the default
//! branch and warn about one that does not exist. Saving never depends on it.

use std::time::Duration;

use terarchitect_protocol::{RepoCheck, RepoCheckRequest, Validate};

use super::App;
use crate::Result;

const TIMEOUT: Duration = Duration::from_secs(10);
/// A ref advertisement of a few thousand refs; more is not a repository worth waiting for.
const MAX_BODY: usize = 4 * 1024 * 1024;
const MAX_BRANCHES: usize = 500;

pub async fn check(app: &App, req: &RepoCheckRequest) -> Result<RepoCheck> {
    req.validate()?;
    let repo = req.repo_url.trim().trim_end_matches('/');
    if !(repo.starts_with("https://") || repo.starts_with("http://")) {
        return Ok(RepoCheck {
            detail: "not checked: only http(s) remotes can be checked from here".into(),
            ..Default::default()
        });
    }
    let url = format!("{repo}/info/refs?service=git-upload-pack");
    let http = match app.outbound.client_for(&url).await {
        Ok(h) => h,
        Err(e) => return Ok(answer(false, &format!("not allowed: {e}"))),
    };
    let access = super::settings::github_access_in(app, req.project_id, false).await?;
    let api = access.api_url.unwrap_or_else(|| app.github_api_url.clone());
    let mut request = http
        .get(&url)
        .header("user-agent", "git/2 (terarchitect)")
        .timeout(TIMEOUT);
    // The GitHub token goes only to the GitHub it is for, never to any host a URL names.
    if let Some(token) = access.token.filter(|_| same_github(repo, &api)) {
        request = request.basic_auth("x-access-token", Some(token));
    }
    let mut res = match request.send().await {
        Ok(r) => r,
        Err(e) if super::outbound::find_refusal(&e).is_some() => return Ok(answer(false, "not allowed")),
        Err(_) => return Ok(answer(false, "not reachable")),
    };
    match res.status().as_u16() {
        200 => {}
        401 | 403 => {
            return Ok(answer(
                false,
                "access refused: a GitHub token with access to it is needed",
            ));
        }
        404 => return Ok(answer(false, "not found")),
        _ => return Ok(answer(false, "not reachable")),
    }
    let mut body = Vec::new();
    loop {
        match res.chunk().await {
            Ok(Some(c)) if body.len() + c.len() <= MAX_BODY => body.extend_from_slice(&c),
            Ok(Some(_)) | Err(_) => return Ok(answer(false, "not reachable")),
            Ok(None) => break,
        }
    }
    Ok(match parse_advertisement(&body) {
        Some((head, mut branches)) => {
            branches.sort();
            branches.truncate(MAX_BRANCHES);
            RepoCheck {
                checked: true,
                reachable: true,
                detail: "reachable".into(),
                default_branch: head,
                branches,
            }
        }
        None => answer(false, "not a git repository"),
    })
}

fn answer(reachable: bool, detail: &str) -> RepoCheck {
    RepoCheck {
        checked: true,
        reachable,
        detail: detail.into(),
        ..Default::default()
    }
}

/// Whether `repo` is on the GitHub that `api` serves (api.github.com serves github.com;
/// an Enterprise server serves its own host).
fn same_github(repo: &str, api: &str) -> bool {
    let host = |u: &str| {
        reqwest::Url::parse(u)
            .ok()
            .and_then(|u| u.host_str().map(str::to_ascii_lowercase))
    };
    match (host(repo), host(api)) {
        (Some(r), Some(a)) => r == a || (a == "api.github.com" && r == "github.com"),
        _ => false,
    }
}

/// The branch HEAD points at and the branches, from a smart-HTTP ref advertisement:
/// pkt-lines (4 hex digits of length, then the line), `# service=…` and a flush first,
/// then `<oid> <ref>\0<capabilities>` and `<oid> <ref>` lines. None when it is not one.
fn parse_advertisement(body: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    let mut rest = body;
    let mut lines = Vec::new();
    while rest.len() >= 4 {
        let len = usize::from_str_radix(std::str::from_utf8(&rest[..4]).ok()?, 16).ok()?;
        if len == 0 {
            rest = &rest[4..];
            continue;
        }
        if len < 4 || len > rest.len() {
            return None;
        }
        lines.push(
            String::from_utf8_lossy(&rest[4..len])
                .trim_end_matches('\n')
                .to_string(),
        );
        rest = &rest[len..];
    }
    if !lines.first()?.starts_with("# service=git-upload-pack") {
        return None;
    }
    let mut head = None;
    let mut branches = Vec::new();
    for line in &lines[1..] {
        let (refpart, caps) = line.split_once('\0').unwrap_or((line, ""));
        if let Some(target) = caps.split(' ').find_map(|c| c.strip_prefix("symref=HEAD:refs/heads/")) {
            head = Some(target.to_string());
        }
        if let Some(branch) = refpart.split_once(' ').and_then(|(_, r)| r.strip_prefix("refs/heads/")) {
            branches.push(branch.to_string());
        }
    }
    Some((head, branches))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(s: &str) -> String {
        format!("{:04x}{s}", s.len() + 4)
    }

    #[test]
    fn a_ref_advertisement_gives_head_and_branches() {
        let oid = "a".repeat(40);
        let body = format!(
            "{}0000{}{}{}0000",
            pkt("# service=git-upload-pack\n"),
            pkt(&format!(
                "{oid} HEAD\0multi_ack symref=HEAD:refs/heads/trunk agent=git/2\n"
            )),
            pkt(&format!("{oid} refs/heads/trunk\n")),
            pkt(&format!("{oid} refs/tags/v1\n")),
        );
        assert_eq!(
            parse_advertisement(body.as_bytes()),
            Some((Some("trunk".into()), vec!["trunk".into()]))
        );
        assert_eq!(parse_advertisement(b"<html>login</html>"), None);
        assert_eq!(parse_advertisement(b"00ffshort"), None);
    }

    #[test]
    fn the_token_goes_only_to_its_own_github() {
        assert!(same_github("https://github.com/o/r.git", "https://api.github.com"));
        assert!(same_github(
            "https://ghe.example.com/o/r",
            "https://ghe.example.com/api/v3"
        ));
        assert!(!same_github("https://evil.example/o/r", "https://api.github.com"));
        assert!(!same_github(
            "https://github.com.evil.example/o/r",
            "https://api.github.com"
        ));
    }
}
