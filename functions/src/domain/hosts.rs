//! API tokens, and worker hosts' credentials: one token per host, bound to its host id.
//! Operators mint and revoke them (`admin mint-token --host`, `admin revoke-token`); in AWS
//! the worker group's launch and terminate events do it (`admin register-host`,
//! `retire-host`), handing each instance its token through a Secrets Manager secret that
//! only that instance may read (docs/deployment.md).

use aws_sdk_secretsmanager::Client as Secrets;
use aws_sdk_secretsmanager::error::DisplayErrorContext;
use aws_sdk_secretsmanager::types::Tag;
use terarchitect_protocol::TokenKind;

use super::{App, crypto};
use crate::store;
use crate::store::tokens::Revoke;
use crate::{Error, Result};

/// The tag on a host's secret naming the instance (its ARN) allowed to read it: the
/// worker role reads a secret only when this tag is `${ec2:SourceInstanceARN}`.
pub const HOST_ARN_TAG: &str = "terarchitect:host-arn";

/// A token to mint.
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a> {
    pub name: &'a str,
    pub kind: TokenKind,
    /// The worker host it acts as: required for a worker token, refused for a user token.
    pub host: Option<&'a str>,
    /// Its own writes per minute (None: its kind's default).
    pub writes_per_minute: Option<i32>,
}

/// Mints a token and returns it; only its hash is stored.
pub async fn mint(app: &App, t: NewToken<'_>) -> Result<String> {
    let host = t.host.map(str::trim);
    match (t.kind, host) {
        (TokenKind::Worker, None) => {
            return Err(Error::invalid("host", "a worker token needs its host's id (--host)"));
        }
        (TokenKind::User, Some(_)) => return Err(Error::invalid("host", "only worker tokens have a host")),
        _ => {}
    }
    let token = crypto::new_token(if t.kind == TokenKind::User { "tt_" } else { "tw_" });
    let mut tx = app.db.begin().await?;
    let id = store::tokens::insert(&mut *tx, t.name, t.kind, host, &crypto::hash_token(&token)).await?;
    store::tokens::set_writes_per_minute(&mut *tx, id, t.writes_per_minute).await?;
    tx.commit().await?;
    Ok(token)
}

/// Revokes the live tokens `which` names; how many. A revoked host gets 401 at once.
pub async fn revoke(app: &App, which: Revoke<'_>) -> Result<u64> {
    store::tokens::revoke_matching(&app.db, which).await
}

/// Where [`register`] leaves a host's token.
#[derive(Debug, Clone, Copy)]
pub struct HostSecret<'a> {
    /// The secret's name (created, or given a new value when it exists).
    pub name: &'a str,
    /// The instance's ARN, tagged on the secret ([`HOST_ARN_TAG`]).
    pub host_arn: &'a str,
    /// The KMS key that encrypts it (None: the account's default key).
    pub kms_key: Option<&'a str>,
}

/// A new host (an instance that just launched): mints its token and stores it in its own
/// secret. Run again (an event delivered twice), the secret gets the newer token.
pub async fn register(app: &App, sm: &Secrets, host: &str, secret: HostSecret<'_>) -> Result<()> {
    let token = mint(
        app,
        NewToken {
            name: &format!("host {host}"),
            kind: TokenKind::Worker,
            host: Some(host),
            writes_per_minute: None,
        },
    )
    .await?;
    let tag = Tag::builder().key(HOST_ARN_TAG).value(secret.host_arn).build();
    let created = sm
        .create_secret()
        .name(secret.name)
        .set_kms_key_id(secret.kms_key.map(str::to_owned))
        .secret_string(&token)
        .tags(tag.clone())
        .send()
        .await;
    match created {
        Ok(_) => Ok(()),
        Err(e) if e.as_service_error().is_some_and(|e| e.is_resource_exists_exception()) => {
            sm.tag_resource()
                .secret_id(secret.name)
                .tags(tag)
                .send()
                .await
                .map_err(aws_error("tag the host's secret"))?;
            sm.put_secret_value()
                .secret_id(secret.name)
                .secret_string(&token)
                .send()
                .await
                .map_err(aws_error("store the host's token"))?;
            Ok(())
        }
        Err(e) => Err(aws_error("create the host's secret")(e)),
    }
}

/// A host gone for good (an instance terminated): revokes its tokens and deletes its
/// secret. Returns how many tokens were revoked; nothing left to do is not an error.
pub async fn retire(app: &App, sm: &Secrets, host: &str, secret_name: &str) -> Result<u64> {
    let revoked = revoke(app, Revoke::Host(host)).await?;
    let deleted = sm
        .delete_secret()
        .secret_id(secret_name)
        .force_delete_without_recovery(true)
        .send()
        .await;
    match deleted {
        Err(e)
            if !e
                .as_service_error()
                .is_some_and(|e| e.is_resource_not_found_exception()) =>
        {
            Err(aws_error("delete the host's secret")(e))
        }
        _ => Ok(revoked),
    }
}

fn aws_error<E: std::error::Error + 'static>(what: &'static str) -> impl Fn(E) -> Error {
    move |e| Error::Unavailable(format!("cannot {what}: {}", DisplayErrorContext(e)))
}
