//! Why a plan cannot be made: typed, so callers can match on it. The words users read
//! (message, context lines, hints) are written in one place: `errors::plan_error`.

use super::rules::Direction;

/// Which store's planner refused: the texts differ (`mongo migration`, the repair advice).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    Postgres,
    /// `history` is the history collection, named in the repair advice.
    Mongo {
        history: String,
    },
}

/// A migration named in an error: its label (`V3 add_users`) and its file when there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub label: String,
    pub file: Option<String>,
}

/// A dirty migration `up`/`down` cannot go past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirtyRow {
    pub label: String,
    pub version: Option<u64>,
    /// Where it stopped: `failed at statement 2 of 3`, `stopped at op 2 of 3 of its up list`.
    pub position: String,
    /// The error the run stopped with.
    pub cause: Option<String>,
    pub reason: DirtyReason,
}

/// Why a dirty migration is not finished by this command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirtyReason {
    /// This command does not finish it at all (PostgreSQL's `down`).
    Failed,
    /// Its file is gone.
    FileGone,
    /// It stopped in the other direction: finish that first.
    HalfDone(Direction),
    /// Its file changed since the run that stopped.
    FileChanged {
        recorded: String,
        on_disk: String,
        file: String,
    },
    /// The store cannot resume it; the text says why.
    NotResumable(String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// Dirty migrations stop the run (`command` is the direction that was planned).
    #[error("{} dirty migration(s) from a failed run", rows.len())]
    Dirty {
        store: Store,
        command: Direction,
        rows: Vec<DirtyRow>,
    },
    /// Applied migrations whose file changed since (`up`).
    #[error("{} applied migration(s) were modified", items.len())]
    Modified { store: Store, items: Vec<Item> },
    /// Pending migrations older than the newest applied one.
    #[error("{} pending migration(s) older than applied V{newest}", items.len())]
    OutOfOrder {
        store: Store,
        newest: u64,
        items: Vec<Item>,
    },
    /// `down --to` below the baseline.
    #[error("cannot revert to V{target}, below the baseline V{baseline}")]
    BelowBaseline {
        store: Store,
        baseline: u64,
        target: u64,
    },
    /// Migrations to revert without a down part.
    #[error("{} migration(s) cannot be reverted", items.len())]
    Irreversible { store: Store, items: Vec<Item> },
    /// Applied migrations to revert whose file is gone.
    #[error("{} migration(s) to revert have no file", items.len())]
    MissingFiles { store: Store, items: Vec<Item> },
    /// Migrations to revert whose file changed since they were applied.
    #[error("{} migration(s) to revert were modified", items.len())]
    ModifiedToRevert { store: Store, items: Vec<Item> },
}

impl PlanError {
    pub fn store(&self) -> &Store {
        match self {
            PlanError::Dirty { store, .. }
            | PlanError::Modified { store, .. }
            | PlanError::OutOfOrder { store, .. }
            | PlanError::BelowBaseline { store, .. }
            | PlanError::Irreversible { store, .. }
            | PlanError::MissingFiles { store, .. }
            | PlanError::ModifiedToRevert { store, .. } => store,
        }
    }
}
