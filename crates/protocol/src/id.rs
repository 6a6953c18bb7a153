//! Typed ids: one newtype over `Uuid` per aggregate, so a ticket id cannot be passed where
//! a column id is expected. On the wire, in the database and in URLs they are plain UUIDs.
//! The OpenAPI document shows them as such too: each field names `uuid::Uuid` as its
//! `value_type`, so the published schema stays a plain `string` / `uuid`.

use uuid::Uuid;

macro_rules! ids {
    ($( $(#[$meta:meta])* $name:ident ),+ $(,)?) => {$(
        $(#[$meta])*
        #[cfg_attr(feature = "sqlx", derive(sqlx::Type), sqlx(transparent))]
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random (v4) id.
            pub fn new() -> Self {
                Self(Uuid::new_v4())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl From<Uuid> for $name {
            fn from(id: Uuid) -> Self {
                Self(id)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    )+};
}

ids! {
    /// A project.
    ProjectId,
    /// A board column.
    ColumnId,
    /// A ticket.
    TicketId,
    /// A comment on a ticket.
    CommentId,
    /// An agent job.
    JobId,
    /// A component (node) of the architecture graph.
    NodeId,
    /// An interface (edge) of the architecture graph.
    EdgeId,
    /// A note.
    NoteId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_travels_as_a_plain_uuid() {
        let raw = Uuid::new_v4();
        let id = TicketId::from(raw);
        assert_eq!(serde_json::to_value(id).unwrap(), serde_json::json!(raw.to_string()));
        assert_eq!(
            serde_json::from_value::<TicketId>(serde_json::json!(raw.to_string())).unwrap(),
            id
        );
        assert_eq!(id.to_string(), raw.to_string());
        assert_eq!(raw.to_string().parse::<TicketId>().unwrap(), id);
        assert!("not-a-uuid".parse::<TicketId>().is_err());
        assert_ne!(TicketId::new(), TicketId::new());
    }
}
