//! The job life cycle, written once: what an event does to a job, to its ticket's column
//! and to the queue. Pure; `jobs`, `tickets` and `review` apply the answer with
//! conditional SQL updates, which stay the guard against races.
//!
//! ```text
//!            claim                 Finished(Succeeded)
//!  queued ──────────▶ running ─────────────────────────▶ succeeded  (ticket → In Review)
//!    ▲  │                │ Finished(Failed | Released, no attempts left)
//!    │  │ StopRequested  ├──────────────────────────────▶ failed
//!    │  └────────────────┼──────────────────────────────▶ cancelled
//!    │                   │ any end after StopRequested (Finished(Cancelled) without one: failed)
//!    └───────────────────┘ Finished(Released) / LeaseExpired, attempts left: requeued
//! ```

use terarchitect_protocol::{JobKind, JobStatus, Outcome};

/// What the rules need to know about a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobState {
    pub status: JobStatus,
    pub cancel_requested: bool,
    /// A counted attempt remains (`attempt < max_attempts`).
    pub attempts_left: bool,
    /// A release before the agent started would be given back (free releases remain).
    pub free_release_left: bool,
}

/// Something that happens to a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event<'a> {
    /// The host holding the lease reports how the run ended.
    Finished {
        outcome: Outcome,
        /// False when the host could not start the agent at all.
        agent_started: bool,
        reason: Option<&'a str>,
    },
    /// The lease ran out: the host holding it stopped answering.
    LeaseExpired,
    /// A user, or a move out of In Progress, asks the job to stop.
    StopRequested { reason: &'a str },
}

/// What the ticket's column does when a job ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnChange {
    Stays,
    /// A success: from In Progress to In Review (a ticket elsewhere, e.g. a review job's
    /// in In Review, stays where it is).
    InProgressToInReview,
}

/// The answer to an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transition {
    pub status: JobStatus,
    pub cancel_requested: bool,
    /// Recorded as the job's `failure_reason`.
    pub reason: Option<String>,
    /// Back on the queue: a new outbox row, sent after commit.
    pub requeue: bool,
    /// The attempt that just ended does not count (the agent never started).
    pub refund_attempt: bool,
    pub column: ColumnChange,
}

const STOPPED: &str = "stopped on request";
const UNASKED_STOP: &str = "the agent stopped without a stop request";

/// The rules. `None`: the event does not apply to a job in this state (a 409 for the caller).
pub fn transition(job: JobState, event: Event<'_>) -> Option<Transition> {
    let end = |status: JobStatus, reason: Option<&str>| Transition {
        status,
        cancel_requested: job.cancel_requested,
        reason: reason.map(str::to_owned),
        requeue: false,
        refund_attempt: false,
        column: ColumnChange::Stays,
    };
    let requeue = |reason: Option<&str>, refund_attempt: bool| Transition {
        requeue: true,
        refund_attempt,
        ..end(JobStatus::Queued, reason)
    };
    match (job.status, event) {
        (JobStatus::Queued, Event::StopRequested { reason }) => Some(Transition {
            cancel_requested: true,
            ..end(JobStatus::Cancelled, Some(reason))
        }),
        (JobStatus::Running, Event::StopRequested { .. }) => Some(Transition {
            cancel_requested: true,
            ..end(JobStatus::Running, None)
        }),
        (JobStatus::Running, Event::LeaseExpired) => Some(if job.cancel_requested {
            end(JobStatus::Cancelled, Some("stopped on request (host gone)"))
        } else if job.attempts_left {
            requeue(Some("the worker host stopped answering"), false)
        } else {
            end(
                JobStatus::Failed,
                Some("the worker host stopped answering and no attempts are left"),
            )
        }),
        (
            JobStatus::Running,
            Event::Finished {
                outcome,
                agent_started,
                reason,
            },
        ) => Some(match outcome {
            // A run that was asked to stop never counts as done, nor goes back to the queue.
            Outcome::Succeeded if job.cancel_requested => end(JobStatus::Cancelled, Some(STOPPED)),
            Outcome::Released | Outcome::Cancelled if job.cancel_requested => {
                end(JobStatus::Cancelled, reason.or(Some(STOPPED)))
            }
            Outcome::Succeeded => Transition {
                column: ColumnChange::InProgressToInReview,
                ..end(JobStatus::Succeeded, None)
            },
            // Nobody asked: the agent (or what runs in it) cannot mark its own job as stopped
            // by a user. It ended without a result, so it failed.
            Outcome::Cancelled => end(JobStatus::Failed, Some(UNASKED_STOP)),
            // Handed back before the host started its agent: the attempt does not count
            // (a bounded number of times); otherwise only while attempts remain.
            Outcome::Released if !agent_started && job.free_release_left => requeue(reason, true),
            Outcome::Released if job.attempts_left => requeue(reason, false),
            Outcome::Released | Outcome::Failed => end(JobStatus::Failed, reason.or(Some("the agent failed"))),
        }),
        _ => None,
    }
}

/// What moving a ticket does to its jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MoveEffect {
    /// Into In Progress without an active job: queue this kind.
    Enqueue(JobKind),
    /// Out of In Progress (to another column) with an active job: ask it to stop.
    Stop,
    Nothing,
}

pub fn on_move(into_progress: bool, changed_column: bool, active: Option<JobStatus>) -> MoveEffect {
    match active {
        None if into_progress => MoveEffect::Enqueue(JobKind::Implement),
        Some(status) if status.is_active() && !into_progress && changed_column => MoveEffect::Stop,
        _ => MoveEffect::Nothing,
    }
}

/// Whether a job in `status` may be retried (a fresh job of its kind).
pub fn can_retry(status: JobStatus) -> bool {
    matches!(status, JobStatus::Failed | JobStatus::Cancelled)
}

/// A retried job's ticket goes back to In Progress when the job implements it.
pub fn retry_moves_to_progress(kind: JobKind) -> bool {
    kind == JobKind::Implement
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const MAX_ATTEMPTS: i32 = 3;
    const MAX_FREE: i32 = 20;

    /// A job as the database holds it, driven by the rules above plus the claim guard.
    #[derive(Debug, Clone)]
    struct Sim {
        status: JobStatus,
        cancel_requested: bool,
        attempt: i32,
        free: i32,
        queued_messages: usize,
        ticket_in_review: bool,
    }

    #[derive(Debug, Clone, Copy)]
    enum Step {
        Claim,
        Finish(Outcome, bool),
        LeaseExpired,
        Stop,
    }

    fn step() -> impl Strategy<Value = Step> {
        let outcome = prop_oneof![
            Just(Outcome::Succeeded),
            Just(Outcome::Failed),
            Just(Outcome::Cancelled),
            Just(Outcome::Released),
        ];
        prop_oneof![
            3 => Just(Step::Claim),
            3 => (outcome, any::<bool>()).prop_map(|(o, s)| Step::Finish(o, s)),
            1 => Just(Step::LeaseExpired),
            1 => Just(Step::Stop),
        ]
    }

    impl Sim {
        fn state(&self) -> JobState {
            JobState {
                status: self.status,
                cancel_requested: self.cancel_requested,
                attempts_left: self.attempt < MAX_ATTEMPTS,
                free_release_left: self.free < MAX_FREE,
            }
        }

        /// The reference model: the same rules as a plain decision list, in priority order.
        fn expected(&self, step: Step) -> Option<(JobStatus, bool)> {
            use JobStatus::*;
            let s = self.state();
            let running = s.status == Running;
            Some(match step {
                Step::Claim => return None,
                Step::Stop if s.status == Queued => (Cancelled, false),
                Step::Stop if running => (Running, false),
                Step::Stop => return None,
                _ if !running => return None,
                Step::LeaseExpired | Step::Finish(Outcome::Released, _) | Step::Finish(Outcome::Cancelled, _)
                    if s.cancel_requested =>
                {
                    (Cancelled, false)
                }
                Step::Finish(Outcome::Succeeded, _) if s.cancel_requested => (Cancelled, false),
                Step::Finish(Outcome::Succeeded, _) => (Succeeded, false),
                Step::Finish(Outcome::Cancelled, _) => (Failed, false),
                Step::Finish(Outcome::Failed, _) => (Failed, false),
                Step::Finish(Outcome::Released, false) if s.free_release_left => (Queued, true),
                Step::Finish(Outcome::Released, _) | Step::LeaseExpired if s.attempts_left => (Queued, true),
                Step::Finish(Outcome::Released, _) | Step::LeaseExpired => (Failed, false),
            })
        }

        fn apply(&mut self, step: Step) {
            if let Step::Claim = step {
                // store::jobs::claim's guard.
                if self.status == JobStatus::Queued && !self.cancel_requested && self.attempt < MAX_ATTEMPTS {
                    self.status = JobStatus::Running;
                    self.attempt += 1;
                    self.queued_messages = self.queued_messages.saturating_sub(1);
                }
                return;
            }
            let event = match step {
                Step::Finish(outcome, agent_started) => Event::Finished {
                    outcome,
                    agent_started,
                    reason: None,
                },
                Step::LeaseExpired => Event::LeaseExpired,
                Step::Stop => Event::StopRequested { reason: "test" },
                Step::Claim => unreachable!(),
            };
            let before = self.state();
            let got = transition(before, event);
            assert_eq!(
                got.as_ref().map(|t| (t.status, t.requeue)),
                self.expected(step),
                "{before:?} + {step:?}"
            );
            let Some(t) = got else { return };
            // Invariants every transition keeps.
            assert_eq!(t.requeue, t.status == JobStatus::Queued, "requeue iff queued again");
            assert!(!(t.requeue && t.cancel_requested), "a stopped job is never requeued");
            assert!(
                t.cancel_requested >= before.cancel_requested,
                "a stop is never forgotten"
            );
            assert_eq!(
                t.column == ColumnChange::InProgressToInReview,
                t.status == JobStatus::Succeeded
            );
            if t.status.is_active() {
                assert!(t.reason.is_none() || t.requeue);
            } else {
                assert_eq!(
                    t.reason.is_some(),
                    t.status != JobStatus::Succeeded,
                    "every failure says why"
                );
            }
            if t.refund_attempt {
                assert!(matches!(step, Step::Finish(Outcome::Released, false)));
                self.attempt -= 1;
                self.free += 1;
            }
            if t.requeue {
                self.queued_messages += 1;
            }
            self.ticket_in_review |= t.column == ColumnChange::InProgressToInReview;
            self.status = t.status;
            self.cancel_requested = t.cancel_requested;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Random histories: the rules agree with the reference model at every step, a
        /// finished job stays finished, counted attempts never exceed the maximum, a job
        /// is never run to completion twice, and a queued job always has a message.
        #[test]
        fn histories_follow_the_model(steps in prop::collection::vec(step(), 1..60)) {
            let mut sim = Sim {
                status: JobStatus::Queued,
                cancel_requested: false,
                attempt: 0,
                free: 0,
                queued_messages: 1,
                ticket_in_review: false,
            };
            let mut successes = 0;
            for step in steps {
                let was_finished = !sim.status.is_active();
                sim.apply(step);
                if was_finished {
                    prop_assert!(!sim.status.is_active(), "a finished job came back");
                }
                if sim.status == JobStatus::Succeeded && !was_finished {
                    successes += 1;
                }
                prop_assert!(sim.attempt <= MAX_ATTEMPTS);
                prop_assert!(sim.free <= MAX_FREE);
                // A queued job is never lost: its message is on the queue.
                prop_assert!(sim.status != JobStatus::Queued || sim.queued_messages > 0);
                prop_assert_eq!(sim.ticket_in_review, successes > 0);
            }
            prop_assert!(successes <= 1);
        }
    }

    #[test]
    fn moves_queue_or_stop() {
        use JobStatus::*;
        assert_eq!(on_move(true, true, None), MoveEffect::Enqueue(JobKind::Implement));
        assert_eq!(on_move(true, false, None), MoveEffect::Enqueue(JobKind::Implement));
        assert_eq!(on_move(true, true, Some(Running)), MoveEffect::Nothing);
        assert_eq!(on_move(false, true, Some(Queued)), MoveEffect::Stop);
        assert_eq!(on_move(false, true, Some(Running)), MoveEffect::Stop);
        // Reordering within the column stops nothing.
        assert_eq!(on_move(false, false, Some(Running)), MoveEffect::Nothing);
        assert_eq!(on_move(false, true, None), MoveEffect::Nothing);
    }

    #[test]
    fn reasons_default_per_outcome() {
        let running = JobState {
            status: JobStatus::Running,
            cancel_requested: false,
            attempts_left: false,
            free_release_left: true,
        };
        let finish = |outcome, reason| {
            transition(
                running,
                Event::Finished {
                    outcome,
                    agent_started: true,
                    reason,
                },
            )
            .unwrap()
            .reason
        };
        assert_eq!(finish(Outcome::Failed, None).as_deref(), Some("the agent failed"));
        assert_eq!(finish(Outcome::Released, Some("disk")).as_deref(), Some("disk"));
        // Only a requested stop ends as cancelled, whatever the host reports.
        assert_eq!(finish(Outcome::Cancelled, Some(STOPPED)).as_deref(), Some(UNASKED_STOP));
        assert_eq!(finish(Outcome::Succeeded, Some("ignored")), None);
    }
}
