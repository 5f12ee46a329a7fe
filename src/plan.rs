//! The dependency graph: start levels, stop order, cycles.
//!
//! Boundary: pure graph work over indices: it takes each process's
//! dependency list as plain data and imports nothing of the crate.

/// Start order as levels: every process of level n depends only on processes
/// of levels < n, and sits at the lowest such level. Stop order is the
/// reverse. Within a level, file order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    pub levels: Vec<Vec<usize>>,
}

impl Plan {
    /// Processes in start order, flattened.
    pub fn start_order(&self) -> Vec<usize> {
        self.levels.iter().flatten().copied().collect()
    }
}

/// Builds the plan from an adjacency list (`deps[i]`: what i depends on),
/// or returns one dependency cycle as a list of indices (each depends on
/// the next; the last depends on the first).
pub fn levels(deps: &[Vec<usize>]) -> Result<Plan, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done(usize),
    }
    let n = deps.len();
    let mut mark = vec![Mark::New; n];
    // Iterative DFS, so that a long chain cannot overflow PID 1's stack.
    for root in 0..n {
        if mark[root] != Mark::New {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        mark[root] = Mark::Active;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if let Some(&dep) = deps[node].get(*next) {
                *next += 1;
                match mark[dep] {
                    Mark::New => {
                        mark[dep] = Mark::Active;
                        stack.push((dep, 0));
                    }
                    Mark::Active => {
                        let from = stack.iter().position(|&(s, _)| s == dep).unwrap_or(0);
                        return Err(stack[from..].iter().map(|&(s, _)| s).collect());
                    }
                    Mark::Done(_) => {}
                }
            } else {
                let level = deps[node]
                    .iter()
                    .map(|&d| match mark[d] {
                        Mark::Done(l) => l + 1,
                        _ => 0,
                    })
                    .max()
                    .unwrap_or(0);
                mark[node] = Mark::Done(level);
                stack.pop();
            }
        }
    }
    let mut levels: Vec<Vec<usize>> = Vec::new();
    for (i, m) in mark.iter().enumerate() {
        if let Mark::Done(l) = *m {
            if levels.len() <= l {
                levels.resize(l + 1, Vec::new());
            }
            levels[l].push(i);
        }
    }
    Ok(Plan { levels })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_and_parallel() {
        // 0 <- 1 <- 2, and 3 independent, 4 depends on 0 and 3.
        let p = levels(&[vec![], vec![0], vec![1], vec![], vec![0, 3]]).unwrap();
        assert_eq!(p.levels, vec![vec![0, 3], vec![1, 4], vec![2]]);
        assert_eq!(p.start_order(), vec![0, 3, 1, 4, 2]);
    }

    #[test]
    fn cycles_are_named() {
        assert_eq!(
            levels(&[vec![1], vec![2], vec![0]]).unwrap_err(),
            vec![0, 1, 2]
        );
        assert_eq!(levels(&[vec![], vec![2], vec![1]]).unwrap_err(), vec![1, 2]);
        assert_eq!(levels(&[vec![0]]).unwrap_err(), vec![0]);
    }

    #[test]
    fn long_chain_does_not_recurse() {
        let deps: Vec<Vec<usize>> = (0..100_000)
            .map(|i| if i == 0 { vec![] } else { vec![i - 1] })
            .collect();
        let p = levels(&deps).unwrap();
        assert_eq!(p.levels.len(), 100_000);
    }

    #[test]
    fn empty() {
        assert_eq!(levels(&[]).unwrap().levels, Vec::<Vec<usize>>::new());
    }
}
