//! `seed generate`: deterministic values. A keyed SplitMix64 hash of (seed, table, row, field)
//! so that any row's attributes can be recomputed from its index alone, and the world's sizes.

use super::*;
/// The SplitMix64 finalizer: a bijection of u64 with good avalanche.
pub(super) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) const GOLDEN: u64 = 0x9e37_79b9_7f4a_7c15;

/// SplitMix64: the stream of one row's values.
pub(super) struct Rng(pub(super) u64);

impl Rng {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(GOLDEN);
        mix(self.0)
    }

    /// Uniform in `0..n` (0 when n is 0).
    pub(super) fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next()) * u128::from(n)) >> 64) as u64
    }

    pub(super) fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.below(high - low + 1)
    }

    pub(super) fn percent(&mut self, p: u64) -> bool {
        self.below(100) < p
    }

    pub(super) fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }

    /// An item by weight: `[(item, weight), ...]`.
    pub(super) fn weighted<T: Copy>(&mut self, items: &[(T, u64)]) -> T {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.below(total);
        for (item, weight) in items {
            if roll < *weight {
                return *item;
            }
            roll -= weight;
        }
        items[items.len() - 1].0
    }

    /// A timestamp in `from..to` (`from` when the range is empty).
    pub(super) fn time(&mut self, from: Timestamp, to: Timestamp) -> Timestamp {
        Timestamp(from.0 + self.below(to.0.saturating_sub(from.0).max(0) as u64) as i64)
    }

    /// Up to `max` distinct tags, in vocabulary order.
    pub(super) fn tags<'v>(&mut self, vocabulary: &[&'v str], max: u64, into: &mut Vec<&'v str>) {
        into.clear();
        let n = self.below(max + 1);
        let start = self.below(vocabulary.len() as u64) as usize;
        let step = 1 + self.below(3) as usize;
        for i in 0..n as usize {
            let tag = vocabulary[(start + i * step) % vocabulary.len()];
            if !into.contains(&tag) {
                into.push(tag);
            }
        }
    }
}

pub(super) const DAY: i64 = 86_400_000_000;
pub(super) const HOUR: i64 = 3_600_000_000;

// Table tags of the keyed hash.
pub(super) const USER: u64 = 1;
pub(super) const ORG: u64 = 2;
pub(super) const MEMBER: u64 = 3;
pub(super) const PROJECT: u64 = 4;
pub(super) const PROJECT_MEMBER: u64 = 5;
pub(super) const TASK: u64 = 6;
pub(super) const COMMENT: u64 = 7;
pub(super) const ACTIVITY: u64 = 8;
pub(super) const SESSION: u64 = 9;

// Field tags: values that other rows recompute.
pub(super) const F_ROW: u64 = 0;
pub(super) const F_ID_HIGH: u64 = 1;
pub(super) const F_ID_LOW: u64 = 2;
pub(super) const F_CREATED: u64 = 3;
pub(super) const F_SUB: u64 = 4;
pub(super) const F_TEAM: u64 = 5;
pub(super) const F_SECOND: u64 = 6;
pub(super) const F_NAME: u64 = 7;

/// The generated data set: its sizes and the functions that compute any row's shared
/// attributes from its index.
pub(super) struct World {
    pub(super) seed: u64,
    /// Midnight UTC of `--as-of`; the history is the 365 days before it.
    pub(super) end: Timestamp,
    pub(super) start: Timestamp,
    pub(super) orgs: u64,
    pub(super) users: u64,
    pub(super) projects: u64,
    pub(super) tasks: u64,
    pub(super) comments: u64,
    pub(super) activities: u64,
}

impl World {
    pub(super) fn new(options: &Options) -> World {
        let epoch = NaiveDate::from_ymd_opt(2000, 1, 1).map_or(0, |d| d.num_days_from_ce());
        let end = Timestamp(i64::from(options.as_of.num_days_from_ce() - epoch) * DAY);
        let tasks = options.tasks;
        let orgs = (tasks / 20_000).max(1);
        World {
            seed: options.seed,
            end,
            start: Timestamp(end.0 - 365 * DAY),
            orgs,
            users: (tasks / 10).max(orgs * 10),
            projects: (tasks / 100).max(orgs),
            tasks,
            comments: tasks / 2,
            activities: tasks,
        }
    }

    pub(super) fn key(&self, table: u64, index: u64, field: u64) -> u64 {
        let mut h = mix(self.seed ^ GOLDEN);
        h = mix(h ^ table.wrapping_mul(GOLDEN));
        h = mix(h ^ index);
        mix(h ^ field.wrapping_mul(0xd6e8_feb8_6659_fd93))
    }

    pub(super) fn rng(&self, table: u64, index: u64) -> Rng {
        Rng(self.key(table, index, F_ROW))
    }

    /// A version-4-layout UUID from the keyed hash.
    pub(super) fn id(&self, table: u64, index: u64) -> Uuid {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.key(table, index, F_ID_HIGH).to_be_bytes());
        bytes[8..].copy_from_slice(&self.key(table, index, F_ID_LOW).to_be_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid(bytes)
    }

    // Organizations: created in the first month of the history; user `o` is the owner.

    pub(super) fn org_created(&self, o: u64) -> Timestamp {
        Timestamp(self.start.0 + (self.key(ORG, o, F_CREATED) % (30 * DAY as u64)) as i64)
    }

    /// Users whose home organization is `o`: `o`, `o + orgs`, `o + 2 * orgs`, ...
    pub(super) fn users_in_org(&self, o: u64) -> u64 {
        (self.users - o).div_ceil(self.orgs)
    }

    pub(super) fn org_user(&self, o: u64, j: u64) -> u64 {
        o + self.orgs * j
    }

    // Users: created within 90 days of their home organization.

    pub(super) fn user_created(&self, u: u64) -> Timestamp {
        let org = self.org_created(u % self.orgs);
        if u < self.orgs {
            return org;
        }
        Timestamp(org.0 + (self.key(USER, u, F_CREATED) % (90 * DAY as u64)) as i64)
    }

    /// The other organization a user belongs to (about 10% of users when there are several).
    pub(super) fn second_org(&self, u: u64) -> Option<u64> {
        if self.orgs < 2 || u < self.orgs {
            return None;
        }
        let key = self.key(USER, u, F_SECOND);
        key.is_multiple_of(10)
            .then(|| (u % self.orgs + 1 + (key >> 8) % (self.orgs - 1)) % self.orgs)
    }

    // Projects: about 15% are sub-projects of an earlier top-level project of the same
    // organization; created from day 120 to two weeks before the end.

    /// Parents within groups: entity `i` of `kind` is in group `i % groups` (projects by
    /// organization, tasks by project); about `percent`% of those past the first round want a
    /// parent, which is the nearest of up to four earlier members of the group that is itself
    /// top-level (none found: the entity stays top-level).
    pub(super) fn parent_in_group(
        &self,
        kind: u64,
        i: u64,
        groups: u64,
        percent: u64,
    ) -> Option<u64> {
        let wants_parent = |j: u64| j >= groups && self.key(kind, j, F_SUB) % 100 < percent;
        if !wants_parent(i) {
            return None;
        }
        (1..=4)
            .take_while(|k| i >= k * groups)
            .map(|k| i - k * groups)
            .find(|&q| !wants_parent(q))
    }

    pub(super) fn project_org(&self, p: u64) -> u64 {
        p % self.orgs
    }

    pub(super) fn project_parent(&self, p: u64) -> Option<u64> {
        self.parent_in_group(PROJECT, p, self.orgs, 15)
    }

    pub(super) fn project_base_created(&self, p: u64) -> Timestamp {
        let from = self.start.0 + 120 * DAY;
        let span = (self.end.0 - 14 * DAY - from) as u64;
        Timestamp(from + (self.key(PROJECT, p, F_CREATED) % span) as i64)
    }

    pub(super) fn project_created(&self, p: u64) -> Timestamp {
        let base = |p| self.project_base_created(p);
        after_parent(base(p), self.project_parent(p).map(base), DAY)
    }

    /// Project members: `team_size` consecutive users (wrapping) of the organization, from a
    /// keyed start; member 0 manages the project.
    pub(super) fn team_size(&self, p: u64) -> u64 {
        let available = self.users_in_org(self.project_org(p));
        (3 + self.key(PROJECT, p, F_TEAM) % 4).min(available)
    }

    pub(super) fn team_member(&self, p: u64, k: u64) -> u64 {
        let o = self.project_org(p);
        let available = self.users_in_org(o);
        let first = (self.key(PROJECT, p, F_TEAM) >> 8) % available;
        self.org_user(o, (first + k) % available)
    }

    // Tasks: task `t` belongs to project `t % projects`; about 20% are sub-tasks of an earlier
    // top-level task of the same project.

    pub(super) fn task_project(&self, t: u64) -> u64 {
        t % self.projects
    }

    pub(super) fn task_parent(&self, t: u64) -> Option<u64> {
        self.parent_in_group(TASK, t, self.projects, 20)
    }

    pub(super) fn task_base_created(&self, t: u64) -> Timestamp {
        let from = self.project_created(self.task_project(t));
        let span = (self.end.0 - from.0 - HOUR) as u64;
        Timestamp(from.0 + (self.key(TASK, t, F_CREATED) % span) as i64)
    }

    pub(super) fn task_created(&self, t: u64) -> Timestamp {
        let base = |t| self.task_base_created(t);
        after_parent(base(t), self.task_parent(t).map(base), HOUR / 2)
    }
}
