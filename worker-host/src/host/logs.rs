//! The agent's output streamed into the job's log in batches (event ids stable across a
//! re-attach), remembering the agent's own sentence on why it stopped. (The run's pull
//! request is what the API opened for the agent, never a line of output.) Every line is redacted first (`redact`): nothing of the output
//! leaves the host unredacted.

use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use terarchitect_protocol::{JobId, NewJobEvent};
use uuid::Uuid;

use super::redact::Redactor;
use crate::api::{ApiError, WorkerApi};
use crate::runtime::{LogLine, Stream};

/// The line an agent prints to say, for a person, why it stopped.
pub const ERROR_MARKER: &str = "TERARCHITECT_ERROR=";
/// The longest failure reason taken from an agent.
const ERROR_CHARS: usize = 500;
const SUMMARY_CHARS: usize = 2000;
const FLUSH_EVERY: Duration = Duration::from_millis(500);
const MAX_BATCH: usize = 200;
/// Log lines kept in memory while the API is unreachable; older ones are dropped.
const MAX_PENDING_EVENTS: usize = 20_000;

#[derive(Default)]
pub(super) struct LogSummary {
    /// The agent's last `TERARCHITECT_ERROR=` line (redacted, capped).
    pub(super) error: Option<String>,
}

pub(super) async fn collect(logs: tokio::task::JoinHandle<LogSummary>) -> LogSummary {
    // The stream ends with the agent; the bound covers an engine that never closes it.
    match tokio::time::timeout(Duration::from_secs(30), logs).await {
        Ok(Ok(s)) => s,
        _ => LogSummary::default(),
    }
}

/// The agent's reason for stopping, when `line` gives one.
pub(super) fn error_line(line: &str) -> Option<String> {
    let e = line.trim().strip_prefix(ERROR_MARKER)?.trim();
    Some(e.chars().take(ERROR_CHARS).collect()).filter(|e: &String| !e.is_empty())
}

/// Streams the agent's output into the job's log in batches; remembers the error line.
pub(super) async fn pump_logs(
    api: WorkerApi,
    job_id: JobId,
    ns: Uuid,
    mut lines: BoxStream<'static, LogLine>,
    redactor: Redactor,
) -> LogSummary {
    let mut summary = LogSummary::default();
    let mut pending: Vec<NewJobEvent> = Vec::new();
    let mut n: u64 = 0;
    let mut tick = tokio::time::interval(FLUSH_EVERY);
    loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(mut l) => {
                    l.text = redactor.redact(&l.text);
                    n += 1;
                    if let Some(e) = error_line(&l.text) {
                        summary.error = Some(e);
                    }
                    pending.push(event(ns, n, l));
                    if pending.len() > MAX_PENDING_EVENTS {
                        pending.drain(..pending.len() - MAX_PENDING_EVENTS);
                    }
                    if pending.len() >= MAX_BATCH {
                        flush(&api, job_id, &mut pending).await;
                    }
                }
                None => break,
            },
            _ = tick.tick() => flush(&api, job_id, &mut pending).await,
        }
    }
    for _ in 0..5 {
        flush(&api, job_id, &mut pending).await;
        if pending.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    summary
}

fn event(ns: Uuid, n: u64, l: LogLine) -> NewJobEvent {
    let step = match l.stream {
        Stream::Stdout => "stdout",
        Stream::Stderr => "stderr",
    };
    let long = l.text.chars().count() > SUMMARY_CHARS;
    NewJobEvent {
        event_id: Some(Uuid::new_v5(&ns, &n.to_be_bytes())),
        at: Some(chrono::Utc::now()),
        phase: "agent".into(),
        step: step.into(),
        summary: l.text.chars().take(SUMMARY_CHARS).collect(),
        raw_output: long.then(|| l.text.chars().take(256 * 1024).collect()),
        ..Default::default()
    }
}

async fn flush(api: &WorkerApi, job_id: JobId, pending: &mut Vec<NewJobEvent>) {
    while !pending.is_empty() {
        let n = pending.len().min(MAX_BATCH);
        match api.events(job_id, pending[..n].to_vec()).await {
            Ok(()) => {
                pending.drain(..n);
            }
            Err(e @ (ApiError::Rejected { .. } | ApiError::Conflict(_))) => {
                // A batch the API will never take (or a job this host no longer holds):
                // drop it rather than block the log.
                tracing::warn!(%job_id, error = %e, "log batch rejected; dropping it");
                pending.drain(..n);
            }
            Err(e) => {
                tracing::debug!(%job_id, error = %e, "log batch not sent yet");
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::docker::LineSplitter;

    #[test]
    fn a_secret_split_across_chunks_is_redacted_once_its_line_is_whole() {
        let r = Redactor::new(["tj_0123456789abcdef".to_string()]);
        let mut split = LineSplitter::default();
        let mut lines = split.push(false, b"token: tj_0123456");
        assert!(lines.is_empty(), "no line before its end");
        lines.extend(split.push(false, b"789abcdef\nnext: tj_0123"));
        lines.extend(split.push(true, b"stderr line\n"));
        lines.extend(split.push(false, b"456789abcdef"));
        lines.extend(split.finish());
        let texts: Vec<String> = lines.iter().map(|l| r.redact(&l.text)).collect();
        assert_eq!(texts, ["token: [redacted]", "stderr line", "next: [redacted]"]);
    }

    #[test]
    fn event_ids_are_stable() {
        let ns = Uuid::new_v5(&Uuid::NAMESPACE_OID, b"abc");
        let l = || LogLine {
            stream: Stream::Stdout,
            text: "x".into(),
        };
        assert_eq!(event(ns, 3, l()).event_id, event(ns, 3, l()).event_id);
        assert_ne!(event(ns, 3, l()).event_id, event(ns, 4, l()).event_id);
    }
}
