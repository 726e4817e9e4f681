//! The jobs waiting to start, in the order they should start, with the per-group limit
//! (`--max-per-group`) applied.
//!
//! A job that belongs to a full group is *parked* under that group and the jobs behind it go
//! on: one busy site never holds up the rest of the sweep. When a device of the group ends,
//! the group's parked jobs come back, in their original order and ahead of later jobs. A job
//! is looked at again only when a group it waits for has room, so a full group of 100,000
//! devices costs nothing per dispatch.
//!
//! It knows nothing of workers, time or outcomes: the dispatcher says when an attempt
//! starts ([`Queue::pop_startable`]) and when it ends ([`Queue::ended`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};

use netsweep_protocol::{Job, JobId};

/// A job's place in line: retries that fell due first, in the order they fell due; then
/// first attempts in the sweep's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) enum Position {
    Retry(u64),
    First(usize),
}

pub(super) struct Queue {
    ready: BTreeMap<Position, Job>,
    /// Jobs held back by a full group, per group (index into `in_flight`).
    parked: Vec<BTreeMap<Position, Job>>,
    parked_jobs: usize,
    /// Groups that had a device end while jobs were parked under them.
    releasable: BTreeSet<usize>,
    /// Devices of each group running (or being stopped) now.
    in_flight: Vec<usize>,
    limit: usize,
    /// The groups of each job that has any, as indexes.
    groups_of: HashMap<JobId, Box<[usize]>>,
    retries_queued: u64,
}

impl Queue {
    /// An empty queue for a sweep of `jobs`, with at most `limit` devices of a group at once.
    pub(super) fn new(limit: Option<usize>, jobs: &[Job]) -> Self {
        let mut index: HashMap<&str, usize> = HashMap::new();
        let mut groups_of = HashMap::new();
        if limit.is_some() {
            for job in jobs.iter().filter(|j| !j.target.groups.is_empty()) {
                let mut ids: Vec<usize> = job
                    .target
                    .groups
                    .iter()
                    .map(|g| {
                        let next = index.len();
                        *index.entry(g.as_str()).or_insert(next)
                    })
                    .collect();
                ids.sort_unstable();
                ids.dedup();
                groups_of.insert(job.id, ids.into_boxed_slice());
            }
        }
        Queue {
            ready: BTreeMap::new(),
            parked: (0..index.len()).map(|_| BTreeMap::new()).collect(),
            parked_jobs: 0,
            releasable: BTreeSet::new(),
            in_flight: vec![0; index.len()],
            // A limit of 0 would start nothing; the flag refuses it, this keeps the sweep going.
            limit: limit.unwrap_or(usize::MAX).max(1),
            groups_of,
            retries_queued: 0,
        }
    }

    /// Queues the first attempt of the `index`th job of the sweep.
    pub(super) fn push_first(&mut self, index: usize, job: Job) {
        self.ready.insert(Position::First(index), job);
    }

    /// Queues a retry that is due, behind retries already due and ahead of first attempts.
    pub(super) fn push_retry(&mut self, job: Job) {
        self.retries_queued += 1;
        self.ready.insert(Position::Retry(self.retries_queued), job);
    }

    /// No job waiting at all.
    pub(super) fn is_empty(&self) -> bool {
        self.ready.is_empty() && self.parked_jobs == 0
    }

    /// Whether [`Queue::pop_startable`] may find something (cheap; it may still find
    /// nothing when every waiting job's group is full).
    pub(super) fn might_start(&self) -> bool {
        !self.ready.is_empty() || !self.releasable.is_empty()
    }

    /// The first job in line whose groups all have room, counted as running from now on.
    pub(super) fn pop_startable(&mut self) -> Option<Job> {
        loop {
            let released = self.release();
            while let Some((position, job)) = self.ready.pop_first() {
                match self.full_group(job.id) {
                    None => {
                        self.count(job.id, true);
                        return Some(job);
                    }
                    Some(group) => {
                        self.parked[group].insert(position, job);
                        self.parked_jobs += 1;
                    }
                }
            }
            // Jobs released from a group with room may all have parked again under another
            // group that is full; the group with room then lets its next ones through.
            if !released {
                return None;
            }
        }
    }

    /// An attempt of `job` ended: its groups have room again for the jobs parked under them.
    pub(super) fn ended(&mut self, job: JobId) {
        self.count(job, false);
    }

    /// Takes every waiting job for which `remove` is true, in line order.
    pub(super) fn remove_where(&mut self, mut remove: impl FnMut(&Job) -> bool) -> Vec<Job> {
        let mut all: Vec<(Position, Job)> = std::mem::take(&mut self.ready).into_iter().collect();
        for parked in &mut self.parked {
            all.extend(std::mem::take(parked));
        }
        self.parked_jobs = 0;
        self.releasable.clear();
        all.sort_by_key(|(position, _)| *position);
        let mut removed = Vec::new();
        for (position, job) in all {
            if remove(&job) {
                removed.push(job);
            } else {
                self.ready.insert(position, job);
            }
        }
        removed
    }

    fn full_group(&self, job: JobId) -> Option<usize> {
        self.groups_of
            .get(&job)?
            .iter()
            .copied()
            .find(|&g| self.in_flight[g] >= self.limit)
    }

    fn count(&mut self, job: JobId, started: bool) {
        let Some(groups) = self.groups_of.get(&job) else {
            return;
        };
        for &g in groups.iter() {
            if started {
                self.in_flight[g] += 1;
            } else {
                self.in_flight[g] = self.in_flight[g].saturating_sub(1);
                if !self.parked[g].is_empty() {
                    self.releasable.insert(g);
                }
            }
        }
    }

    /// Moves as many parked jobs back in line as their groups have room for. Returns whether
    /// any moved.
    fn release(&mut self) -> bool {
        let mut moved = false;
        let groups: Vec<usize> = self.releasable.iter().copied().collect();
        for g in groups {
            let room = self.limit.saturating_sub(self.in_flight[g]);
            if room == 0 || self.parked[g].is_empty() {
                self.releasable.remove(&g);
                continue;
            }
            for _ in 0..room {
                let Some((position, job)) = self.parked[g].pop_first() else {
                    break;
                };
                self.parked_jobs -= 1;
                self.ready.insert(position, job);
                moved = true;
            }
        }
        moved
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::fake::jobs;

    fn grouped(groups: &[&[&str]]) -> Vec<Job> {
        let mut all = jobs(groups.len() as u64, 1000);
        for (job, g) in all.iter_mut().zip(groups) {
            job.target.groups = g.iter().map(|s| s.to_string()).collect();
        }
        all
    }

    fn queue(limit: Option<usize>, jobs: &[Job]) -> Queue {
        let mut q = Queue::new(limit, jobs);
        for (i, job) in jobs.iter().enumerate() {
            q.push_first(i, job.clone());
        }
        q
    }

    fn ids(q: &mut Queue, n: usize) -> Vec<JobId> {
        (0..n)
            .filter_map(|_| q.pop_startable())
            .map(|j| j.id)
            .collect()
    }

    #[test]
    fn a_full_group_does_not_hold_up_the_others() {
        let all = grouped(&[&["a"], &["a"], &["a"], &["b"], &[], &["a", "b"]]);
        let mut q = queue(Some(1), &all);
        // 0 takes a; 1 and 2 park; 3 takes b; 4 has no group; 5 waits for a (and b).
        assert_eq!(ids(&mut q, 10), [0, 3, 4]);
        assert!(!q.is_empty());
        q.ended(0);
        // a has room for one: the first parked under it, in line order.
        assert_eq!(ids(&mut q, 10), [1]);
        q.ended(3);
        q.ended(1);
        assert_eq!(ids(&mut q, 10), [2]);
        q.ended(2);
        // 5 is in both groups; both have room now.
        assert_eq!(ids(&mut q, 10), [5]);
        assert!(q.is_empty());
    }

    #[test]
    fn a_job_released_by_one_group_waits_again_for_its_other_full_group() {
        let all = grouped(&[&["a"], &["b"], &["a", "b"], &["a"]]);
        let mut q = queue(Some(1), &all);
        assert_eq!(ids(&mut q, 10), [0, 1]);
        q.ended(0);
        // 2 leaves a's line but b is still full: it parks under b, and 3 takes a's room.
        assert_eq!(ids(&mut q, 10), [3]);
        q.ended(1);
        assert!(ids(&mut q, 10).is_empty(), "a is full again with 3");
        q.ended(3);
        assert_eq!(ids(&mut q, 10), [2]);
    }

    #[test]
    fn due_retries_go_first_and_without_a_limit_order_is_kept() {
        let all = grouped(&[&["a"], &["a"], &["a"]]);
        let mut q = queue(None, &all);
        q.push_retry(all[2].clone());
        assert_eq!(ids(&mut q, 10), [2, 0, 1, 2]);
    }

    #[test]
    fn remove_where_takes_jobs_out_of_line_and_parking() {
        let all = grouped(&[&["a"], &["a"], &["b"]]);
        let mut q = queue(Some(1), &all);
        assert_eq!(ids(&mut q, 1), [0]);
        assert_eq!(ids(&mut q, 10), [2], "1 parks under a");
        q.push_retry(all[0].clone());
        let removed: Vec<JobId> = q.remove_where(|j| j.id == 1).iter().map(|j| j.id).collect();
        assert_eq!(removed, [1]);
        q.ended(0);
        assert_eq!(ids(&mut q, 10), [0]);
        assert!(q.is_empty());
    }
}
