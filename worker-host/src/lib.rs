//! The worker host: pulls jobs from SQS and runs one isolated agent container per job.
//! Not built yet (issue #4); this crate only reserves its place in the workspace.
