//! The job's execution log: every step becomes an event, sent in batches by a background
//! task that keeps retrying, so a briefly unreachable API loses nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::BackoffBuilder;
use terarchitect_protocol::{EventBatch, NewJobEvent};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::api::ApiClient;

/// Keeps log payloads bounded (the original stored whole transcripts).
const MAX_RAW: usize = 32 * 1024;
const MAX_SUMMARY: usize = 1000;
const BATCH: usize = 50;

enum Msg {
    Event(NewJobEvent),
    Flush(oneshot::Sender<bool>),
}

/// Cheap to clone; every clone feeds the same sender.
#[derive(Clone)]
pub struct EventLog {
    tx: mpsc::UnboundedSender<Msg>,
    secrets: Arc<Mutex<Vec<String>>>,
}

impl EventLog {
    pub fn start(api: ApiClient) -> EventLog {
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(sender(api, rx));
        EventLog {
            tx,
            secrets: Arc::default(),
        }
    }

    /// Values that must never appear in a log (keys, tokens).
    pub fn redact(&self, secrets: impl IntoIterator<Item = String>) {
        let mut g = self.secrets.lock().unwrap();
        g.extend(secrets.into_iter().filter(|s| s.len() >= 4));
    }

    pub fn scrub(&self, text: &str) -> String {
        let g = self.secrets.lock().unwrap();
        g.iter()
            .fold(text.to_string(), |t, s| t.replace(s.as_str(), "[redacted]"))
    }

    pub fn log(&self, phase: &str, step: &str, summary: impl AsRef<str>) {
        self.log_full(phase, step, summary, None, 0, 0);
    }

    pub fn log_raw(&self, phase: &str, step: &str, summary: impl AsRef<str>, raw: impl AsRef<str>) {
        self.log_full(phase, step, summary, Some(raw.as_ref()), 0, 0);
    }

    pub fn log_full(
        &self,
        phase: &str,
        step: &str,
        summary: impl AsRef<str>,
        raw: Option<&str>,
        input_tokens: i64,
        output_tokens: i64,
    ) {
        let summary = cap(&self.scrub(summary.as_ref()), MAX_SUMMARY);
        let ev = NewJobEvent {
            event_id: Some(Uuid::new_v4()),
            at: Some(chrono::Utc::now()),
            phase: phase.into(),
            step: step.into(),
            summary: if summary.is_empty() { step.to_string() } else { summary },
            raw_output: raw.map(|r| cap(&self.scrub(r), MAX_RAW)),
            input_tokens,
            output_tokens,
        };
        let _ = self.tx.send(Msg::Event(ev));
    }

    /// Waits until everything logged so far is delivered, or `timeout` passes.
    pub async fn flush(&self, timeout: Duration) -> bool {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Flush(tx)).is_err() {
            return false;
        }
        matches!(tokio::time::timeout(timeout, rx).await, Ok(Ok(true)))
    }
}

/// Cuts `s` to at most `max` bytes on a char boundary, keeping the beginning (titles,
/// descriptions, plans, replies: what comes first matters) and marking the cut with "…".
pub fn cap(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max.saturating_sub('…'.len_utf8());
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Cuts `s` to at most `max` bytes on a char boundary, keeping the end (command output:
/// errors and test summaries come last) and saying how much was cut.
pub fn cap_tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("[… {start} bytes cut]{}", &s[start..])
}

/// A commit subject from a ticket title: one line, whitespace collapsed, at most 72
/// characters, cut at a word boundary where one is near, with "…" when cut.
pub fn commit_subject(title: &str) -> String {
    const MAX: usize = 72;
    let line = title.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= MAX {
        return line;
    }
    let head: String = line.chars().take(MAX - 1).collect();
    let cut = match head.rfind(' ') {
        Some(i) if head[..i].chars().count() >= MAX / 2 => &head[..i],
        _ => head.as_str(),
    };
    format!("{}…", cut.trim_end_matches([' ', ',', ';', ':', '-']))
}

async fn sender(api: ApiClient, mut rx: mpsc::UnboundedReceiver<Msg>) {
    let mut pending: Vec<NewJobEvent> = Vec::new();
    let mut waiters: Vec<oneshot::Sender<bool>> = Vec::new();
    // Unbounded: the log is worth waiting for while the job runs.
    let policy = crate::backoff(Duration::from_millis(100)).with_max_delay(Duration::from_secs(10));
    let mut backoff = policy.build();
    let mut open = true;
    loop {
        if pending.is_empty() {
            for w in waiters.drain(..) {
                let _ = w.send(true);
            }
            if !open {
                return;
            }
            match rx.recv().await {
                Some(m) => take(m, &mut pending, &mut waiters),
                None => open = false,
            }
        }
        while let Ok(m) = rx.try_recv() {
            take(m, &mut pending, &mut waiters);
        }
        if pending.is_empty() {
            continue;
        }
        let n = pending.len().min(BATCH);
        let batch = EventBatch {
            events: pending[..n].to_vec(),
        };
        match api.post_events(&batch).await {
            Ok(Ok(())) => {
                pending.drain(..n);
                backoff = policy.build();
            }
            Ok(Err(reason)) => {
                eprintln!("{reason}; dropping {n} log events");
                pending.drain(..n);
            }
            Err(e) => {
                let d = backoff.next().unwrap_or(Duration::from_secs(10));
                eprintln!("event delivery failed ({e}); retrying in {d:?}");
                tokio::time::sleep(d).await;
            }
        }
    }
}

fn take(m: Msg, pending: &mut Vec<NewJobEvent>, waiters: &mut Vec<oneshot::Sender<bool>>) {
    match m {
        Msg::Event(e) => pending.push(e),
        Msg::Flush(w) => waiters.push(w),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_keeps_the_beginning_and_cuts_on_a_char_boundary() {
        let title = "Crème brûlée, café: add the dessert menu to the ordering page";
        assert_eq!(cap(title, 200), title);
        let cut = cap(title, 14);
        assert!(cut.len() <= 14, "{cut}");
        assert_eq!(cut, "Crème brû…");
        assert!(cap_tail("error at the end", 8).ends_with("the end"));
    }

    #[test]
    fn a_commit_subject_is_one_line_of_at_most_72_characters() {
        assert_eq!(commit_subject("  Fix   the\nlogin  "), "Fix the login");
        let long = "Crème brûlée: make the dessert menu show allergens, prices and photos for every item on the page";
        let s = commit_subject(long);
        assert!(s.chars().count() <= 72, "{s}");
        assert!(s.starts_with("Crème brûlée: make the dessert menu"), "{s}");
        assert!(s.ends_with('…') && !s.ends_with(" …"), "{s}");
        let word = "x".repeat(100);
        assert_eq!(commit_subject(&word).chars().count(), 72);
    }
}
