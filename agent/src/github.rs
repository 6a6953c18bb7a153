//! Pull requests through octocrab against `github_api_url` (GitHub, Enterprise, or a test server).

use octocrab::Octocrab;
use octocrab::params::State;
use terarchitect_protocol::pr_thread::{self, CommentKind, Standing, ThreadEntry, Trust};

use crate::error::{Error, Result};

pub struct GitHub {
    crab: Octocrab,
    pub owner: String,
    pub repo: String,
}

#[derive(Debug, Clone)]
pub struct Pr {
    pub number: u64,
    pub url: String,
    /// The branch the PR merges from.
    pub head: String,
    /// `owner/repo` that branch lives in (a fork's for a PR from a fork); None when GitHub
    /// no longer shows it (a deleted fork).
    pub head_repo: Option<String>,
}

#[derive(Debug, Clone)]
pub struct ThreadComment {
    pub kind: CommentKind,
    pub id: u64,
    pub author: String,
    /// `Some(file)` for a review comment on the diff.
    pub path: Option<String>,
    pub body: String,
    pub at: chrono::DateTime<chrono::Utc>,
}

/// A PR's conversation as a review job sees it.
#[derive(Debug, Clone, Default)]
pub struct Thread {
    /// Comments since our last reply: what this round must address.
    pub new: Vec<ThreadComment>,
    /// Comments our earlier rounds already answered (context only).
    pub earlier: Vec<ThreadComment>,
    /// How many review rounds we already replied to.
    pub our_replies: usize,
    /// Comments from outsiders, left out of everything above (never shown to the LLM).
    pub ignored: usize,
}

fn gh(e: octocrab::Error) -> Error {
    let detail = match &e {
        octocrab::Error::GitHub { source, .. } => format!("{} ({})", source.message, source.status_code),
        other => other.to_string(),
    };
    Error::GitHub(detail)
}

impl GitHub {
    pub fn new(api_url: &str, token: Option<&str>, owner: &str, repo: &str) -> Result<GitHub> {
        let mut b = Octocrab::builder()
            .base_uri(api_url)
            .map_err(|e| Error::Config(format!("github_api_url: {e}")))?;
        if let Some(t) = token {
            b = b.personal_token(t.to_string());
        }
        Ok(GitHub {
            crab: b.build().map_err(gh)?,
            owner: owner.into(),
            repo: repo.into(),
        })
    }

    fn pr(p: &octocrab::models::pulls::PullRequest) -> Pr {
        Pr {
            number: p.number,
            url: p
                .html_url
                .as_ref()
                .map(|u| u.to_string())
                .unwrap_or_else(|| p.url.clone()),
            head: p.head.ref_field.clone(),
            head_repo: p.head.repo.as_ref().and_then(|r| r.full_name.clone()),
        }
    }

    pub async fn open_pr_for(&self, branch: &str) -> Result<Option<Pr>> {
        let page = self
            .crab
            .pulls(&self.owner, &self.repo)
            .list()
            .state(State::Open)
            .head(format!("{}:{branch}", self.owner))
            .send()
            .await
            .map_err(gh)?;
        Ok(page.items.iter().find(|p| p.head.ref_field == branch).map(Self::pr))
    }

    /// Creates the PR, or updates title and body when one is already open for `branch`.
    pub async fn upsert_pr(&self, branch: &str, base: &str, title: &str, body: &str) -> Result<(Pr, bool)> {
        let pulls = self.crab.pulls(&self.owner, &self.repo);
        if let Some(existing) = self.open_pr_for(branch).await? {
            let p = pulls
                .update(existing.number)
                .title(title)
                .body(body)
                .send()
                .await
                .map_err(gh)?;
            return Ok((Self::pr(&p), false));
        }
        let p = pulls.create(title, branch, base).body(body).send().await.map_err(gh)?;
        Ok((Self::pr(&p), true))
    }

    pub async fn get_pr(&self, number: u64) -> Result<Pr> {
        let p = self.crab.pulls(&self.owner, &self.repo).get(number).await.map_err(gh)?;
        Ok(Self::pr(&p))
    }

    /// Whether `pr` is the ticket's own: `branch` in this repository, not a fork's branch
    /// of that name nor another branch.
    pub fn is_own(&self, pr: &Pr, branch: &str) -> bool {
        let own = format!("{}/{}", self.owner, self.repo);
        pr.head == branch && pr.head_repo.as_deref().is_some_and(|r| r.eq_ignore_ascii_case(&own))
    }

    /// The whole review thread: PR (issue) comments and review comments of trusted
    /// authors (`trust`; outsiders' are only counted), the reviewers' split into those our
    /// replies answered and those still to address.
    pub async fn review_thread(&self, number: u64, trust: &Trust) -> Result<Thread> {
        let mut out = Vec::new();
        let mut ignored = 0;
        let association = |a: Option<&octocrab::models::AuthorAssociation>| {
            a.and_then(|a| serde_json::to_value(a).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
        };
        let issue = self
            .crab
            .issues(&self.owner, &self.repo)
            .list_comments(number)
            .per_page(100)
            .send()
            .await
            .map_err(gh)?;
        for c in issue.items {
            if !trust.trusts(&c.user.login, association(c.author_association.as_ref()).as_deref()) {
                ignored += 1;
                continue;
            }
            out.push(ThreadComment {
                kind: CommentKind::Issue,
                id: c.id.into_inner(),
                author: c.user.login,
                path: None,
                body: c.body.unwrap_or_default(),
                at: c.created_at,
            });
        }
        let review = self
            .crab
            .pulls(&self.owner, &self.repo)
            .list_comments(Some(number))
            .per_page(100)
            .send()
            .await
            .map_err(gh)?;
        for c in review.items {
            let author = c.user.map(|u| u.login).unwrap_or_default();
            if !trust.trusts(&author, association(c.author_association.as_ref()).as_deref()) {
                ignored += 1;
                continue;
            }
            out.push(ThreadComment {
                kind: CommentKind::Review,
                id: c.id.into_inner(),
                author,
                path: Some(c.path),
                body: c.body,
                at: c.created_at,
            });
        }
        out.sort_by_key(|c| c.at);
        let standings = pr_thread::standings(&out, |c| ThreadEntry {
            kind: c.kind,
            id: c.id,
            body: &c.body,
            created_at: c.at,
        });
        let mut thread = Thread {
            new: Vec::new(),
            earlier: Vec::new(),
            our_replies: 0,
            ignored,
        };
        for (c, standing) in out.into_iter().zip(standings) {
            match standing {
                Standing::AgentReply => thread.our_replies += 1,
                Standing::Answered => thread.earlier.push(c),
                Standing::Unanswered => thread.new.push(c),
            }
        }
        Ok(thread)
    }

    /// Posts our reply on PR `number`, naming the comments it answers.
    pub async fn reply(&self, number: u64, body: &str, answers: &[ThreadComment]) -> Result<()> {
        let answered: Vec<_> = answers.iter().map(|c| (c.kind, c.id)).collect();
        self.crab
            .issues(&self.owner, &self.repo)
            .create_comment(
                number,
                format!("{body}\n\n{}", pr_thread::agent_reply_footer(&answered)),
            )
            .await
            .map_err(gh)?;
        Ok(())
    }
}
