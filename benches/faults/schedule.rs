//! Fault schedules: seeded random sequences of faults. The first schedule of each fleet in a
//! campaign is a tour (every kind once, in random order); later ones draw kinds at random.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// One fault.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// SWR answers a share of requests with a 5xx status, for a while.
    ServerErrors {
        /// Status.
        status: u16,
        /// Share of requests.
        rate: f64,
        /// Seconds.
        secs: f64,
    },
    /// SWR throttles (429 with Retry-After) above a low qps, for a while.
    Throttle {
        /// Requests per second allowed.
        qps: f64,
        /// Seconds.
        secs: f64,
    },
    /// SWR answers slowly, for a while.
    LatencySpike {
        /// Slowest answer, ms.
        max_ms: u64,
        /// Seconds.
        secs: f64,
    },
    /// SWR never answers a share of requests, for a while.
    Hang {
        /// Share of requests.
        rate: f64,
        /// Seconds.
        secs: f64,
    },
    /// SIGKILL the leader; a new replica starts at once.
    KillLeader,
    /// SIGKILL the leader after SWR took a create and before the answer (so before the
    /// status write that records it).
    KillAfterCreate,
    /// SIGTERM the leader (graceful hand-over); a new replica starts.
    HandOver,
    /// Restart the kube-apiserver.
    RestartApiServer,
    /// Rotate the credentials Secret to the other access key, or to a wrong secret key
    /// (`valid: false`; the schedule ends with valid credentials in any case).
    RotateSecret {
        /// Whether the new credentials work.
        valid: bool,
    },
    /// Change a rule's targets (add or drop its third one).
    EditRule {
        /// Rule index.
        rule: usize,
    },
    /// Delete a rule, or create it again if deleted.
    DeleteOrRecreate {
        /// Rule index.
        rule: usize,
    },
    /// (Overlapping fleet.) Delete a rule and create it under another name at once, as a
    /// GitOps rename does.
    RenameRule {
        /// Rule index.
        rule: usize,
    },
    /// (Overlapping fleet.) Delete the second tenant's namespace (Secret and rules with
    /// it), or create it again once it is gone.
    DeleteOrRecreateNamespace,
    /// (Overlapping fleet.) Delete a tenant's credentials Secret, or create it again.
    DeleteOrRecreateSecret {
        /// Tenant index.
        tenant: usize,
    },
    /// (Overlapping fleet.) Somebody else creates a task (if SWR has none there).
    ExternalCreate {
        /// Task index.
        task: usize,
    },
    /// (Overlapping fleet.) Somebody else deletes a task (if SWR has one there).
    ExternalDelete {
        /// Task index.
        task: usize,
    },
}

impl Fault {
    /// Kind name, for the report.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ServerErrors { .. } => "swr-5xx-burst",
            Self::Throttle { .. } => "swr-429-burst",
            Self::LatencySpike { .. } => "swr-latency-spike",
            Self::Hang { .. } => "swr-hung-requests",
            Self::KillLeader => "sigkill-leader",
            Self::KillAfterCreate => "sigkill-between-create-and-status",
            Self::HandOver => "leader-hand-over",
            Self::RestartApiServer => "apiserver-restart",
            Self::RotateSecret { valid: true } => "secret-rotation",
            Self::RotateSecret { valid: false } => "secret-rotation-broken",
            Self::EditRule { .. } => "rule-edit",
            Self::DeleteOrRecreate { .. } => "rule-delete-or-recreate",
            Self::RenameRule { .. } => "rule-rename",
            Self::DeleteOrRecreateNamespace => "namespace-delete-or-recreate",
            Self::DeleteOrRecreateSecret { .. } => "secret-delete-or-recreate",
            Self::ExternalCreate { .. } => "task-created-outside",
            Self::ExternalDelete { .. } => "task-deleted-outside",
        }
    }
}

/// A schedule: faults with the pause (seconds) before each.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Seed it was drawn from.
    pub seed: u64,
    /// The fleet it runs against.
    pub shape: Shape,
    /// (pause before, fault).
    pub steps: Vec<(f64, Fault)>,
}

/// The fleet a schedule runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Every rule has targets of its own (`campaign.rs`).
    Disjoint,
    /// Rules of two tenants want the same tasks (`overlap.rs`).
    Overlap,
}

/// Sizes of the fleet faults pick from.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    /// Rules.
    pub rules: usize,
    /// Tenants (namespaces with a Secret each).
    pub tenants: usize,
    /// Tasks somebody else may create or delete.
    pub tasks: usize,
}

/// Kinds a schedule draws from: 0-11 for both fleets, 12-16 for the overlapping one
/// (which has no Secret rotation: 8 and 9 stand for Secret deletion and re-creation).
fn draw(rng: &mut StdRng, kind: usize, sizes: Sizes, shape: Shape) -> Fault {
    let rules = sizes.rules;
    let secs = rng.gen_range(1.0..4.0);
    match kind {
        0 => Fault::ServerErrors {
            status: *[500, 502, 503].choose(rng).unwrap(),
            rate: rng.gen_range(0.3..1.0),
            secs,
        },
        1 => Fault::Throttle {
            qps: rng.gen_range(1.0..5.0),
            secs,
        },
        2 => Fault::LatencySpike {
            max_ms: rng.gen_range(300..2500),
            secs,
        },
        3 => Fault::Hang {
            rate: rng.gen_range(0.1..0.5),
            secs,
        },
        4 => Fault::KillLeader,
        5 => Fault::KillAfterCreate,
        6 => Fault::HandOver,
        7 => Fault::RestartApiServer,
        8 | 9 if shape == Shape::Overlap => Fault::DeleteOrRecreateSecret {
            tenant: rng.gen_range(0..sizes.tenants),
        },
        8 => Fault::RotateSecret { valid: true },
        9 => Fault::RotateSecret { valid: false },
        10 => Fault::EditRule {
            rule: rng.gen_range(0..rules),
        },
        11 => Fault::DeleteOrRecreate {
            rule: rng.gen_range(0..rules),
        },
        12 => Fault::RenameRule {
            rule: rng.gen_range(0..rules),
        },
        13 => Fault::DeleteOrRecreateNamespace,
        14 | 15 => Fault::ExternalCreate {
            task: rng.gen_range(0..sizes.tasks),
        },
        _ => Fault::ExternalDelete {
            task: rng.gen_range(0..sizes.tasks),
        },
    }
}

/// Number of kinds of each fleet.
fn kinds(shape: Shape) -> usize {
    match shape {
        Shape::Disjoint => 12,
        Shape::Overlap => 17,
    }
}

/// Schedule `index` of a campaign seeded with `seed`: `events` faults (a tour of all kinds
/// for a `tour`, whatever `events` says).
pub fn schedule(
    seed: u64,
    index: usize,
    events: usize,
    sizes: Sizes,
    shape: Shape,
    tour: bool,
) -> Schedule {
    let seed = seed.wrapping_mul(1_000_003).wrapping_add(index as u64);
    let mut rng = StdRng::seed_from_u64(seed);
    let n = kinds(shape);
    let kinds: Vec<usize> = if tour {
        let mut all: Vec<usize> = (0..n).collect();
        all.shuffle(&mut rng);
        all
    } else {
        (0..events).map(|_| rng.gen_range(0..n)).collect()
    };
    let steps = kinds
        .into_iter()
        .map(|kind| (rng.gen_range(0.2..2.5), draw(&mut rng, kind, sizes, shape)))
        .collect();
    Schedule { seed, shape, steps }
}
