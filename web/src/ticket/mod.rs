//! A ticket: edit it, see its runs, and follow the current run's log live.
//!
//! - `page`: the ticket page (`TicketPage`): moving it to another column, its runs.
//! - `form`: editing and deleting the ticket.
//! - `log`: the selected run's live log, with Stop and Retry.
//! - `comments`: the ticket's comments, with a box to add one.

mod comments;
mod form;
mod log;
mod page;

pub use page::TicketPage;
