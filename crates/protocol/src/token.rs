//! API token kinds.

string_enum! {
    pub enum TokenKind {
        /// People and the UI.
        User = "user",
        /// Worker hosts: claim, heartbeat, finish.
        Worker = "worker",
    }
}
