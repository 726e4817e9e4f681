//! Results in input order (`--order input`, like `Executor.map`) on top of a pool that
//! finishes devices in completion order (like `as_completed`).
//!
//! Records wait in a buffer until every device before them has finished; a slow early device
//! therefore holds back the records behind it. That memory is the price of the order the user
//! asked for; completion order holds nothing.

use std::collections::{BTreeMap, VecDeque};

use netsweep_protocol::JobId;

/// Releases items in the order of the job ids it was given.
#[derive(Debug)]
pub struct InputOrder<T> {
    expected: VecDeque<JobId>,
    waiting: BTreeMap<JobId, T>,
}

impl<T> InputOrder<T> {
    /// `ids`: the jobs in the order their results should come out.
    pub fn new(ids: impl IntoIterator<Item = JobId>) -> Self {
        InputOrder {
            expected: ids.into_iter().collect(),
            waiting: BTreeMap::new(),
        }
    }

    /// Accepts the result for `id` and returns every result that is now due, in order.
    pub fn push(&mut self, id: JobId, item: T) -> Vec<T> {
        self.waiting.insert(id, item);
        let mut due = Vec::new();
        while let Some(next) = self.expected.front() {
            match self.waiting.remove(next) {
                Some(item) => {
                    due.push(item);
                    self.expected.pop_front();
                }
                None => break,
            }
        }
        due
    }

    /// Everything still held, in input order (the run ended; some jobs never finished).
    pub fn finish(self) -> Vec<T> {
        self.waiting.into_values().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holds_back_until_the_gap_fills() {
        let mut o = InputOrder::new([3, 1, 2]);
        assert!(o.push(1, "b").is_empty());
        assert!(o.push(2, "c").is_empty());
        assert_eq!(o.push(3, "a"), vec!["a", "b", "c"]);
    }

    #[test]
    fn finish_releases_what_is_left() {
        let mut o = InputOrder::new([0, 1, 2]);
        assert!(o.push(2, "c").is_empty());
        assert_eq!(o.finish(), vec!["c"]);
    }
}
