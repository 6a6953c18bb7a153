//! The architecture graph editor (SVG): add, drag, select, connect, edit, delete, pan,
//! zoom, fit; every change is saved at once (PATCH with `expected_version`) and can be
//! undone. Notes on the selected node or edge (or the project) sit beside it.
//!
//! - `model`: the selection and the pure graph changes (apply a change, its inverse).
//! - `state`: the editor's state (`Ed`) and its actions, saving in order.
//! - `editor`: the `GraphEditor` component: toolbar, canvas and its pointer, wheel
//!   and keyboard handling, the side panel.
//! - `canvas`: what the SVG draws: components, connections, note badges.
//! - `panel`: the side panel: the item editor and the notes.

mod canvas;
mod editor;
mod model;
mod panel;
mod state;

pub use editor::GraphEditor;
