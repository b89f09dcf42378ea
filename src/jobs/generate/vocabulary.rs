//! `seed generate`: the words rows are made of (names, companies, task titles, sentences).

use super::*;
#[rustfmt::skip]
pub(super) const FIRST_NAMES: &[&str] = &[
    "Ada", "Alan", "Amara", "Ana", "Ben", "Chen", "Chloe", "Dario", "Diego", "Elena", "Emma",
    "Farah", "Felix", "Grace", "Hana", "Hugo", "Ines", "Ivan", "Jonas", "Julia", "Kai", "Kenji",
    "Lara", "Leon", "Lucia", "Maya", "Mateo", "Mila", "Nadia", "Noah", "Omar", "Priya", "Rafael",
    "Sara", "Sofia", "Tariq", "Theo", "Vera", "Yusuf", "Zoe",
];
#[rustfmt::skip]
pub(super) const LAST_NAMES: &[&str] = &[
    "Adams", "Ahmed", "Bauer", "Costa", "Dubois", "Eriksen", "Fischer", "Garcia", "Hansen",
    "Ito", "Jensen", "Kim", "Kowalski", "Laurent", "Lopez", "Meyer", "Moreau", "Nakamura",
    "Novak", "Okafor", "Olsen", "Patel", "Petrov", "Rossi", "Santos", "Schmidt", "Silva",
    "Singh", "Tanaka", "Varga", "Weber", "Wong", "Yilmaz", "Zhang",
];
#[rustfmt::skip]
pub(super) const ORG_WORDS: &[&str] = &[
    "Acme", "Aurora", "Blue", "Cedar", "Delta", "Ember", "Granite", "Harbor", "Helix", "Lumen",
    "Maple", "Nimbus", "Northwind", "Orbit", "Pine", "Quartz", "River", "Summit", "Vector",
    "Willow",
];
#[rustfmt::skip]
pub(super) const ORG_KINDS: &[&str] = &[
    "Labs", "Studio", "Works", "Systems", "Analytics", "Partners", "Digital", "Group",
];
#[rustfmt::skip]
pub(super) const INDUSTRIES: &[&str] = &[
    "software", "consulting", "education", "healthcare", "finance", "retail", "media",
    "manufacturing",
];
pub(super) const ORG_TYPES: &[&str] = &[
    "company",
    "agency",
    "university",
    "nonprofit",
    "independent",
];
#[rustfmt::skip]
/// A child's creation time: its own, but at least `gap` after its parent's.
pub(super) fn after_parent(own: Timestamp, parent: Option<Timestamp>, gap: i64) -> Timestamp {
    match parent {
        Some(parent) => own.max(Timestamp(parent.0 + gap)),
        None => own,
    }
}

pub(super) const PROJECT_ADJECTIVES: &[&str] = &[
    "Customer",
    "Internal",
    "Mobile",
    "Web",
    "Data",
    "Cloud",
    "Billing",
    "Partner",
    "Analytics",
    "Security",
    "Onboarding",
    "Search",
];
#[rustfmt::skip]
pub(super) const PROJECT_NOUNS: &[&str] = &[
    "Portal", "Platform", "Migration", "Redesign", "Dashboard", "API", "Rollout", "Pipeline",
    "Integration", "Audit", "Launch", "Upgrade",
];
pub(super) const PROJECT_TYPES: &[&str] = &["internal", "client", "research", "maintenance"];
#[rustfmt::skip]
pub(super) const VERBS: &[&str] = &[
    "Implement", "Fix", "Refactor", "Design", "Review", "Document", "Test", "Migrate", "Optimize",
    "Update", "Investigate", "Deploy", "Remove", "Add", "Improve", "Automate",
];
#[rustfmt::skip]
pub(super) const ADJECTIVES: &[&str] = &[
    "login", "billing", "search", "export", "notification", "payment", "reporting", "onboarding",
    "caching", "upload", "permission", "audit", "sync", "import", "checkout", "profile",
];
#[rustfmt::skip]
pub(super) const NOUNS: &[&str] = &[
    "page", "service", "endpoint", "workflow", "form", "dashboard", "job", "query", "schema",
    "module", "widget", "email template", "validation", "integration", "report", "API client",
];
pub(super) const SENTENCES: &[&str] = &[
    "The current behaviour confuses users and generates support tickets.",
    "Acceptance criteria are listed in the linked specification.",
    "Coordinate with the design team before starting.",
    "This blocks the next release and needs a fix this sprint.",
    "Performance degrades noticeably with large accounts.",
    "Add tests that cover the edge cases found in review.",
    "The old implementation should be removed once this ships.",
    "Customers asked for this in the last quarterly review.",
    "Check the logs from last week for the failing requests.",
    "Keep the change backwards compatible for existing clients.",
    "Measure before and after to confirm the improvement.",
    "Update the documentation and the changelog.",
];
pub(super) const COMMENT_TEXTS: &[&str] = &[
    "Looks good to me.",
    "I can take this one.",
    "Could you add a screenshot?",
    "Blocked on the API change, see the linked task.",
    "Pushed a first version, feedback welcome.",
    "This is more work than estimated.",
    "Moved to the next sprint.",
    "Tested on staging, works as expected.",
    "Can we split this into smaller tasks?",
    "Done, please review.",
    "The customer confirmed the fix.",
    "Let's discuss this in the stand-up.",
];
#[rustfmt::skip]
pub(super) const TAGS: &[&str] = &[
    "backend", "frontend", "bug", "feature", "ux", "performance", "security", "docs", "infra",
    "mobile", "api", "database", "tech-debt", "customer", "release", "research",
];
pub(super) const USER_AGENTS: &[&str] = &[
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 Version/17.4 Safari/605",
    "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "ProjectApp/3.2 (Android 14)",
];
/// The bcrypt hash (cost 10) of `generated-password`, shared by every generated user.
pub(super) const PASSWORD_HASH: &str =
    "$2a$10$g0r0FLIOWYsMemtzhmryre9Wga0V.nk5dfSiHU5vE2WFMv.HVENmy";

pub(super) fn slug_into(text: &str, out: &mut String) {
    for word in text.split(|c: char| !c.is_ascii_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
        out.extend(word.chars().map(|c| c.to_ascii_lowercase()));
    }
}

pub(super) fn sentences_into(rng: &mut Rng, min: u64, max: u64, out: &mut String) {
    out.clear();
    for i in 0..rng.between(min, max) {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(rng.pick(SENTENCES));
    }
}
