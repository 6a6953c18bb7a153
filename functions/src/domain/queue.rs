//! The job queue (SQS). Messages carry only `{job_id}`; the database is the truth.

use aws_sdk_sqs::Client;
use terarchitect_protocol::JobMessage;

use crate::{Error, Result};

#[derive(Clone)]
pub struct JobQueue {
    client: Client,
    url: String,
}

impl JobQueue {
    pub fn new(client: Client, url: String) -> Self {
        JobQueue { client, url }
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
