//! The job queue: an outbox in the database, sent to SQS after commit. Messages carry
//! only `{job_id}`; the database is the truth.

use std::time::Duration;

use aws_sdk_sqs::Client;
use terarchitect_protocol::{Job, JobId, JobKind, JobMessage, ProjectId, TicketId};

use super::App;
use crate::store::{self, Tx};
use crate::{Error, Result};

#[derive(Clone)]
pub struct JobQueue {
    client: Client,
    url: String,
    /// Where the queue parks messages no host could process (its redrive policy's target).
    dead_letter_url: Option<String>,
}

impl JobQueue {
    pub fn new(client: Client, url: String) -> Self {
        JobQueue {
            client,
            url,
            dead_letter_url: None,
        }
    }

    /// The queue's dead-letter queue, drained back by [`redrive_dead_letters`].
    pub fn with_dead_letters(mut self, url: Option<String>) -> Self {
        self.dead_letter_url = url;
        self
    }

    /// Region, credentials and endpoint (`AWS_ENDPOINT_URL` for emulators) from the environment.
    pub async fn from_env(url: String) -> Self {
        let conf = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        JobQueue::new(Client::new(&conf), url)
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub async fn send(&self, msg: &JobMessage) -> Result<()> {
        self.send_delayed(msg, 0).await
    }

    pub async fn send_delayed(&self, msg: &JobMessage, delay_seconds: i32) -> Result<()> {
        let body = serde_json::to_string(msg).map_err(|e| Error::Internal(e.to_string()))?;
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_seconds.clamp(0, 900))
            .send()
            .await
            .map_err(|e| Error::Unavailable(format!("job queue: {}", aws_sdk_sqs::error::DisplayErrorContext(e))))?;
        Ok(())
    }
}

/// A transaction that may put jobs on the queue. Each queued job gets an outbox row in
/// the transaction; its message is sent only after the commit (a job is never sent that
/// the database does not have), and a send that fails leaves the row for the scheduler.
/// Every path that queues a job goes through here.
pub struct JobTx {
    tx: Tx<'static>,
    to_send: Vec<JobId>,
}

impl JobTx {
    pub async fn begin(app: &App) -> Result<JobTx> {
        Ok(JobTx {
            tx: app.db.begin().await?,
            to_send: Vec::new(),
        })
    }

    /// A new queued job of `kind` for the ticket.
    pub async fn enqueue(&mut self, project_id: ProjectId, ticket_id: TicketId, kind: JobKind) -> Result<Job> {
        let job = store::jobs::insert_queued(&mut self.tx, project_id, ticket_id, kind).await?;
        self.requeue(job.id).await?;
        Ok(job)
    }

    /// Another message for a job that is (again) queued.
    pub async fn requeue(&mut self, job_id: JobId) -> Result<()> {
        store::jobs::insert_outbox(&mut self.tx, job_id).await?;
        self.to_send.push(job_id);
        Ok(())
    }

    /// Commits, then sends; returns how many messages went out. A failed send is logged:
    /// the scheduler re-sends the row.
    pub async fn commit(self, app: &App) -> Result<usize> {
        let mut sent = 0;
        for (job_id, result) in self.commit_then_send(app).await? {
            match result {
                Ok(()) => sent += 1,
                Err(e) => tracing::warn!(%job_id, error = %e, "enqueue failed; the scheduler will retry"),
            }
        }
        Ok(sent)
    }

    /// Commits, then sends; a failed send is the caller's error too (an operator asking
    /// for a job to be re-sent wants to know).
    pub async fn commit_and_send(self, app: &App) -> Result<()> {
        self.commit_then_send(app)
            .await?
            .into_iter()
            .try_for_each(|(_, sent)| sent)
    }

    async fn commit_then_send(self, app: &App) -> Result<Vec<(JobId, Result<()>)>> {
        self.tx.commit().await?;
        let mut out = Vec::with_capacity(self.to_send.len());
        for job_id in self.to_send {
            out.push((job_id, send_outbox(app, job_id).await));
        }
        Ok(out)
    }
}

impl std::ops::Deref for JobTx {
    type Target = Tx<'static>;
    fn deref(&self) -> &Tx<'static> {
        &self.tx
    }
}

impl std::ops::DerefMut for JobTx {
    fn deref_mut(&mut self) -> &mut Tx<'static> {
        &mut self.tx
    }
}

/// Sends the job's unsent outbox rows to the queue and marks them sent.
async fn send_outbox(app: &App, job_id: JobId) -> Result<()> {
    for row in store::jobs::unsent_for_job(&app.db, job_id).await? {
        app.queue.send(&row.payload).await?;
        store::jobs::mark_sent(&app.db, &[row.id]).await?;
    }
    Ok(())
}

/// Re-sends outbox rows that stayed unsent for `min_age` (the sender died between commit
/// and send, or the queue was down). Returns how many were sent.
pub async fn resend_stale(app: &App, min_age: Duration) -> Result<usize> {
    let mut resent = 0;
    loop {
        let mut tx = app.db.begin().await?;
        let rows = store::jobs::claim_stale_outbox(&mut tx, min_age, 100).await?;
        if rows.is_empty() {
            return Ok(resent);
        }
        for row in &rows {
            app.queue.send(&row.payload).await?;
        }
        store::jobs::mark_sent(&mut *tx, &rows.iter().map(|r| r.id).collect::<Vec<_>>()).await?;
        tx.commit().await?;
        resent += rows.len();
    }
}

/// Jobs still `queued` this long after their last message was sent are sent again (the
/// message was lost: parked in the dead-letter queue without a redrive, deleted by a host
/// that crashed mid-settle, purged). Each further send waits twice as long, up to 16×, so a
/// job waiting for a free host does not pile up messages. Duplicates are harmless: a job is
/// claimed once.
pub async fn resend_unclaimed(app: &App, after: Duration) -> Result<usize> {
    let mut resent = 0;
    loop {
        let mut tx = JobTx::begin(app).await?;
        let jobs = store::jobs::lock_unclaimed(&mut tx, after, 100).await?;
        if jobs.is_empty() {
            return Ok(resent);
        }
        for job_id in jobs {
            tx.requeue(job_id).await?;
        }
        resent += tx.commit(app).await?;
    }
}

/// Drains the dead-letter queue: a message whose job is still `queued` is sent again
/// through the outbox (the hosts gave up on it while the API or database was down); any
/// other is settled and deleted, the database being the truth. Returns how many jobs
/// were sent again.
pub async fn redrive_dead_letters(app: &App) -> Result<usize> {
    let Some(dlq) = app.queue.dead_letter_url.as_deref() else {
        return Ok(0);
    };
    let unavailable = |e: String| Error::Unavailable(format!("dead-letter queue: {e}"));
    let mut redriven = 0;
    // Bounded per pass: a flood of dead letters is worked off over several passes.
    for _ in 0..10 {
        let out = app
            .queue
            .client
            .receive_message()
            .queue_url(dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
        let messages = out.messages.unwrap_or_default();
        if messages.is_empty() {
            break;
        }
        for m in messages {
            let body = m.body().unwrap_or_default();
            match serde_json::from_str::<JobMessage>(body) {
                Ok(msg) => {
                    let mut tx = JobTx::begin(app).await?;
                    match store::jobs::lock_state(&mut tx, msg.job_id).await {
                        Ok((job, _)) if job.status == terarchitect_protocol::JobStatus::Queued => {
                            tx.requeue(job.id).await?;
                            redriven += tx.commit(app).await?;
                        }
                        Ok(_) | Err(Error::NotFound(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Err(e) => {
                    let head: String = body.chars().take(200).collect();
                    tracing::error!(error = %e, body = %head, "dead-letter message is not a job message: dropped");
                }
            }
            if let Some(handle) = m.receipt_handle() {
                app.queue
                    .client
                    .delete_message()
                    .queue_url(dlq)
                    .receipt_handle(handle)
                    .send()
                    .await
                    .map_err(|e| unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string()))?;
            }
        }
    }
    Ok(redriven)
}
