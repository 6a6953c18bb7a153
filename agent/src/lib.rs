//! The agent that runs inside a job's container: a Director driving a Worker from ticket
//! to pull request. Not built yet (issue #5); this crate only reserves its place.
