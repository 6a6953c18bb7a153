//! The selection and the graph changes as pure data: applying a change to the local copy
//! the way the API does, and the change that undoes it.

use terarchitect_protocol::*;
use terarchitect_protocol::{EdgeId, NodeId};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Sel {
    Node(NodeId),
    Edge(EdgeId),
}

pub(super) fn node_input(n: &GraphNode) -> NodeInput {
    NodeInput {
        id: n.id,
        label: n.label.clone(),
        kind: n.kind.clone(),
        technology: n.technology.clone(),
        description: n.description.clone(),
        x: n.x,
        y: n.y,
    }
}

pub(super) fn edge_input(e: &GraphEdge) -> EdgeInput {
    EdgeInput {
        id: e.id,
        source: e.source,
        target: e.target,
        label: e.label.clone(),
        protocol: e.protocol.clone(),
    }
}

/// Applies a change to the local copy the way the API does (deletions, then upserts).
pub(super) fn apply(g: &mut Graph, c: &GraphChange) {
    g.edges.retain(|e| {
        !c.delete_edges.contains(&e.id) && !c.delete_nodes.contains(&e.source) && !c.delete_nodes.contains(&e.target)
    });
    g.nodes.retain(|n| !c.delete_nodes.contains(&n.id));
    for n in &c.nodes {
        let new = GraphNode {
            id: n.id,
            label: n.label.clone(),
            kind: n.kind.clone(),
            technology: n.technology.clone(),
            description: n.description.clone(),
            x: n.x,
            y: n.y,
        };
        match g.nodes.iter_mut().find(|x| x.id == n.id) {
            Some(x) => *x = new,
            None => g.nodes.push(new),
        }
    }
    for e in &c.edges {
        let new = GraphEdge {
            id: e.id,
            source: e.source,
            target: e.target,
            label: e.label.clone(),
            protocol: e.protocol.clone(),
        };
        match g.edges.iter_mut().find(|x| x.id == e.id) {
            Some(x) => *x = new,
            None => g.edges.push(new),
        }
    }
}

/// The change that puts `g` back as it is now after `c` is applied.
pub(super) fn inverse(g: &Graph, c: &GraphChange) -> GraphChange {
    let mut inv = GraphChange::default();
    for n in &c.nodes {
        match g.nodes.iter().find(|x| x.id == n.id) {
            Some(old) => inv.nodes.push(node_input(old)),
            None => inv.delete_nodes.push(n.id),
        }
    }
    for e in &c.edges {
        match g.edges.iter().find(|x| x.id == e.id) {
            Some(old) => inv.edges.push(edge_input(old)),
            None => inv.delete_edges.push(e.id),
        }
    }
    for id in &c.delete_nodes {
        if let Some(old) = g.nodes.iter().find(|x| x.id == *id) {
            inv.nodes.push(node_input(old));
        }
    }
    for e in &g.edges {
        let gone =
            c.delete_edges.contains(&e.id) || c.delete_nodes.contains(&e.source) || c.delete_nodes.contains(&e.target);
        if gone && !inv.edges.iter().any(|x| x.id == e.id) {
            inv.edges.push(edge_input(e));
        }
    }
    inv
}

/// Whether a note is on this component or connection (None: on the project itself).
pub(super) fn is_on(n: &Note, on: Option<Sel>) -> bool {
    match on {
        Some(Sel::Node(id)) => n.node_id == Some(id),
        Some(Sel::Edge(id)) => n.edge_id == Some(id),
        None => n.node_id.is_none() && n.edge_id.is_none(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(label: &str, x: f64) -> NodeInput {
        NodeInput {
            id: NodeId::new(),
            label: label.into(),
            kind: "service".into(),
            technology: String::new(),
            description: String::new(),
            x,
            y: 0.0,
        }
    }

    fn graph() -> (Graph, NodeId, NodeId, EdgeId) {
        let (a, b) = (node("a", 0.0), node("b", 100.0));
        let e = EdgeInput {
            id: EdgeId::new(),
            source: a.id,
            target: b.id,
            label: "calls".into(),
            protocol: "HTTP".into(),
        };
        let mut g = Graph::default();
        apply(
            &mut g,
            &GraphChange {
                nodes: vec![a.clone(), b.clone()],
                edges: vec![e.clone()],
                ..Default::default()
            },
        );
        (g, a.id, b.id, e.id)
    }

    /// Applying a change and then its inverse gives the graph back.
    fn round_trip(g: &Graph, change: GraphChange) {
        let g = g.clone();
        let mut h = g.clone();
        let inv = inverse(&h, &change);
        apply(&mut h, &change);
        assert_ne!(h, g);
        apply(&mut h, &inv);
        let sorted = |g: &Graph| {
            let mut g = g.clone();
            g.nodes.sort_by_key(|n| n.id);
            g.edges.sort_by_key(|e| e.id);
            g
        };
        assert_eq!(sorted(&h), sorted(&g));
    }

    #[test]
    fn undo_restores_deleted_nodes_with_their_edges() {
        let (g, a, ..) = graph();
        round_trip(
            &g,
            GraphChange {
                delete_nodes: vec![a],
                ..Default::default()
            },
        );
    }

    #[test]
    fn undo_removes_additions_and_restores_edits() {
        let (g, a, _, e) = graph();
        round_trip(
            &g,
            GraphChange {
                nodes: vec![node("c", 5.0)],
                ..Default::default()
            },
        );
        let mut moved = node_input(g.nodes.iter().find(|n| n.id == a).unwrap());
        moved.x += 50.0;
        moved.label = "renamed".into();
        round_trip(
            &g,
            GraphChange {
                nodes: vec![moved],
                ..Default::default()
            },
        );
        round_trip(
            &g,
            GraphChange {
                delete_edges: vec![e],
                ..Default::default()
            },
        );
    }

    #[test]
    fn deleting_a_node_drops_its_edges_locally() {
        let (mut g, a, ..) = graph();
        apply(
            &mut g,
            &GraphChange {
                delete_nodes: vec![a],
                ..Default::default()
            },
        );
        assert_eq!(g.nodes.len(), 1);
        assert!(g.edges.is_empty());
    }
}
