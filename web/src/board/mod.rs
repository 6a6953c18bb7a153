//! The Kanban board: ordered columns and tickets, drag-and-drop and keyboard moves,
//! live job states (polled while the tab is visible), ticket creation, column editing.
//!
//! - `state`: the board's state (`BoardCtx`): loading, showing, moving a ticket.
//! - `view`: the board (`BoardView`): toolbar, polling, the columns.
//! - `column`: one column and dropping cards into it.
//! - `card`: one ticket's card: dragging, keyboard moves, its run.
//! - `new_ticket`: the new-ticket form.
//! - `column_editor`: adding, renaming, reordering and deleting columns.
//! - `not_ready`: the banner for a move the API refused because a run could not start.

mod card;
mod column;
mod column_editor;
mod new_ticket;
mod not_ready;
mod state;
mod view;

pub use view::BoardView;
