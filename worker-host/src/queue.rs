//! The SQS job queue: long polls, deletes, visibility changes.

use aws_sdk_sqs::Client;

#[derive(Debug, thiserror::Error)]
#[error("queue unavailable: {0}")]
pub struct QueueError(pub String);

fn err(e: impl std::error::Error) -> QueueError {
    // The SDK's Display is terse; the Debug form names the actual cause.
    QueueError(format!("{e}: {e:?}").chars().take(600).collect())
}

#[derive(Debug, Clone)]
pub struct Message {
    /// Stays the same across redeliveries (the receipt does not).
    pub message_id: String,
    pub body: String,
    pub receipt: String,
    pub receive_count: u32,
}

#[derive(Clone)]
pub struct Queue {
    client: Client,
    url: String,
}

impl Queue {
    pub async fn connect(url: &str, endpoint: Option<&str>, region: &str) -> Queue {
        let conf = crate::aws_config(endpoint, region).await;
        Queue {
            client: Client::new(&conf),
            url: url.to_string(),
        }
    }

    /// Long-polls for up to `max` messages, hidden for `visibility` seconds once received.
    pub async fn receive(&self, max: i32, wait: i32, visibility: i32) -> Result<Vec<Message>, QueueError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.url)
            .max_number_of_messages(max.clamp(1, 10))
            .wait_time_seconds(wait)
            .visibility_timeout(visibility)
            .message_system_attribute_names(aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(err)?;
        Ok(out
            .messages
            .unwrap_or_default()
            .into_iter()
            .filter_map(|m| {
                let count = m
                    .attributes
                    .as_ref()
                    .and_then(|a| a.get(&aws_sdk_sqs::types::MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|c| c.parse().ok())
                    .unwrap_or(1);
                Some(Message {
                    message_id: m.message_id.unwrap_or_default(),
                    body: m.body.unwrap_or_default(),
                    receipt: m.receipt_handle?,
                    receive_count: count,
                })
            })
            .collect())
    }

    pub async fn delete(&self, receipt: &str) -> Result<(), QueueError> {
        self.client
            .delete_message()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }

    pub async fn set_visibility(&self, receipt: &str, seconds: i32) -> Result<(), QueueError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(err)?;
        Ok(())
    }
}
