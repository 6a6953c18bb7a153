//! Personalised PageRank by power iteration over an undirected weighted graph.

/// An undirected graph in compressed adjacency form.
#[derive(Debug, Default, Clone)]
pub struct Graph {
    /// `offsets[i]..offsets[i+1]` indexes node i's neighbours in `targets`/`weights`.
    offsets: Vec<usize>,
    targets: Vec<u32>,
    weights: Vec<f64>,
    /// Sum of each node's edge weights.
    strength: Vec<f64>,
}

impl Graph {
    /// Builds from undirected edges `(a, b, weight)`; parallel edges add up.
    pub fn new(nodes: usize, edges: &[(u32, u32, f64)]) -> Graph {
        let mut degree = vec![0usize; nodes];
        for &(a, b, _) in edges {
            degree[a as usize] += 1;
            degree[b as usize] += 1;
        }
        let mut offsets = vec![0usize; nodes + 1];
        for i in 0..nodes {
            offsets[i + 1] = offsets[i] + degree[i];
        }
        let mut fill = offsets.clone();
        let mut targets = vec![0u32; offsets[nodes]];
        let mut weights = vec![0f64; offsets[nodes]];
        let mut strength = vec![0f64; nodes];
        for &(a, b, w) in edges {
            for (from, to) in [(a, b), (b, a)] {
                let slot = fill[from as usize];
                targets[slot] = to;
                weights[slot] = w;
                fill[from as usize] += 1;
                strength[from as usize] += w;
            }
        }
        Graph {
            offsets,
            targets,
            weights,
            strength,
        }
    }

    pub fn len(&self) -> usize {
        self.strength.len()
    }

    pub fn is_empty(&self) -> bool {
        self.strength.is_empty()
    }

    /// Scores with restart distribution `reset` (normalised here) and damping `d`: the
    /// walker follows an edge with probability `d` and jumps back to `reset` otherwise.
    /// Mass at nodes without edges returns to `reset`, so scores always sum to 1.
    pub fn personalized_pagerank(&self, reset: &[f64], d: f64, iterations: usize, tolerance: f64) -> Vec<f64> {
        let n = self.len();
        assert_eq!(reset.len(), n, "one reset weight per node");
        let total: f64 = reset.iter().sum();
        if n == 0 || total <= 0.0 {
            return vec![0.0; n];
        }
        let reset: Vec<f64> = reset.iter().map(|r| r / total).collect();
        let mut rank = reset.clone();
        let mut next = vec![0.0; n];
        for _ in 0..iterations {
            next.iter_mut().for_each(|x| *x = 0.0);
            let mut dangling = 0.0;
            for (i, &r) in rank.iter().enumerate() {
                if self.strength[i] == 0.0 {
                    dangling += r;
                    continue;
                }
                let share = d * r / self.strength[i];
                for k in self.offsets[i]..self.offsets[i + 1] {
                    next[self.targets[k] as usize] += share * self.weights[k];
                }
            }
            let jump = (1.0 - d) + d * dangling;
            let mut delta = 0.0;
            for i in 0..n {
                next[i] += jump * reset[i];
                delta += (next[i] - rank[i]).abs();
            }
            std::mem::swap(&mut rank, &mut next);
            if delta < tolerance {
                break;
            }
        }
        rank
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// Path 0 - 1 - 2, restart at 0, d = 0.5. Stationary equations:
    ///   r0 = 0.5 + 0.5 * (r1 / 2)
    ///   r1 = 0.5 * (r0 + r2)
    ///   r2 = 0.5 * (r1 / 2)
    /// give r0 = 7/12, r1 = 1/3, r2 = 1/12.
    #[test]
    fn path_graph_matches_hand_computed_scores() {
        let g = Graph::new(3, &[(0, 1, 1.0), (1, 2, 1.0)]);
        let r = g.personalized_pagerank(&[1.0, 0.0, 0.0], 0.5, 200, 1e-12);
        assert!(
            close(r[0], 7.0 / 12.0) && close(r[1], 1.0 / 3.0) && close(r[2], 1.0 / 12.0),
            "{r:?}"
        );
    }

    /// Star: centre 0 with leaves 1, 2; the edge to 2 weighs 3. Restart at 0, d = 0.5:
    ///   r1 = 0.5 * r0 / 4,  r2 = 0.5 * 3 r0 / 4,  r0 = 0.5 + 0.5 (r1 + r2)
    /// so r0 = 2/3, r1 = 1/12, r2 = 1/4.
    #[test]
    fn edge_weights_split_the_walk() {
        let g = Graph::new(3, &[(0, 1, 1.0), (0, 2, 3.0)]);
        let r = g.personalized_pagerank(&[1.0, 0.0, 0.0], 0.5, 200, 1e-12);
        assert!(
            close(r[0], 2.0 / 3.0) && close(r[1], 1.0 / 12.0) && close(r[2], 0.25),
            "{r:?}"
        );
    }

    #[test]
    fn isolated_nodes_and_empty_reset() {
        // Node 2 is isolated, so a walker there restarts: r2 = 0.5 ((1 - d)(1 - r2) + r2),
        // i.e. r2 = 0.5 (1 - d) / (1 - d / 2); the scores still sum to 1.
        let g = Graph::new(3, &[(0, 1, 1.0)]);
        let r = g.personalized_pagerank(&[1.0, 0.0, 1.0], 0.85, 500, 1e-12);
        assert!(close(r.iter().sum::<f64>(), 1.0), "{r:?}");
        assert!(close(r[2], 0.5 * 0.15 / 0.575), "{r:?}");
        assert_eq!(g.personalized_pagerank(&[0.0; 3], 0.5, 10, 1e-9), vec![0.0; 3]);
    }
}
