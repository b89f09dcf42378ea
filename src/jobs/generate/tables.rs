//! `seed generate`: each table's rows, in load (foreign-key) order, with their distributions.

use super::*;
// Distributions: (value, weight).
#[rustfmt::skip]
pub(super) const USER_ROLES: &[(&str, u64)] = &[("user", 55), ("employee", 33), ("manager", 10), ("admin", 2)];
#[rustfmt::skip]
pub(super) const USER_STATUSES: &[(&str, u64)] = &[
    ("active", 90), ("inactive", 5), ("pending", 3), ("suspended", 2),
];
#[rustfmt::skip]
pub(super) const ORG_SIZES: &[(&str, u64)] = &[
    ("startup", 20), ("small", 35), ("medium", 25), ("large", 15), ("enterprise", 5),
];
#[rustfmt::skip]
pub(super) const ORG_STATUSES: &[(&str, u64)] = &[("active", 95), ("inactive", 3), ("suspended", 2)];
#[rustfmt::skip]
pub(super) const SUBSCRIPTION_TIERS: &[(&str, u64)] = &[("free", 40), ("pro", 45), ("enterprise", 15)];
#[rustfmt::skip]
pub(super) const MEMBER_ROLES: &[(&str, u64)] = &[("admin", 3), ("manager", 12), ("member", 85)];
#[rustfmt::skip]
pub(super) const PROJECT_STATUSES: &[(&str, u64)] = &[
    ("active", 55), ("planning", 10), ("completed", 18), ("on_hold", 6), ("draft", 4),
    ("archived", 5), ("cancelled", 2),
];
#[rustfmt::skip]
pub(super) const PROJECT_PRIORITIES: &[(&str, u64)] = &[
    ("low", 20), ("medium", 45), ("high", 25), ("urgent", 7), ("critical", 3),
];
#[rustfmt::skip]
pub(super) const TASK_STATUSES: &[(&str, u64)] = &[
    ("todo", 30), ("in_progress", 20), ("review", 10), ("done", 35), ("cancelled", 5),
];
#[rustfmt::skip]
pub(super) const TASK_PRIORITIES: &[(&str, u64)] = &[("low", 25), ("medium", 45), ("high", 22), ("urgent", 8)];
#[rustfmt::skip]
pub(super) const TASK_ACTIONS: &[(&str, u64)] = &[
    ("task.created", 20), ("task.updated", 35), ("task.status_changed", 25), ("task.assigned", 10),
    ("task.commented", 10),
];
pub(super) const PROJECT_ACTIONS: &[&str] =
    &["project.updated", "project.member_added", "project.viewed"];

impl World {
    /// A user's first and last name, from a stream of their own so mentions can recompute it.
    pub(super) fn user_name(&self, u: u64) -> (&'static str, &'static str) {
        let mut rng = Rng(self.key(USER, u, F_NAME));
        (rng.pick(FIRST_NAMES), rng.pick(LAST_NAMES))
    }
}

pub(super) async fn load_users(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut email = String::new();
    let mut name = String::new();
    for u in 0..world.users {
        let mut rng = world.rng(USER, u);
        let (first, last) = world.user_name(u);
        name.clear();
        let _ = write!(name, "{first} {last}");
        email.clear();
        let _ = write!(
            email,
            "{}.{}.{u}@s{}.example.org",
            first.to_ascii_lowercase(),
            last.to_ascii_lowercase(),
            world.seed
        );
        let created = world.user_created(u);
        // Organization owners are administrators.
        let role = if u < world.orgs {
            "admin"
        } else {
            rng.weighted(USER_ROLES)
        };
        let status = rng.weighted(USER_STATUSES);
        let verified = status != "pending" && rng.percent(92);
        let verified_at = verified.then(|| rng.time(created, Timestamp(created.0 + 2 * DAY)));
        let last_login =
            (status == "active" && rng.percent(85)).then(|| rng.time(created, world.end));
        copy.row(&[
            &world.id(USER, u),
            &email.as_str(),
            &PASSWORD_HASH,
            &name.as_str(),
            &first,
            &last,
            &Label(role),
            &Label(status),
            &verified,
            &verified_at,
            &rng.percent(15),
            &last_login,
            &created,
            &last_login.unwrap_or(created),
        ])
        .await?;
    }
    Ok(())
}

pub(super) async fn load_organizations(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut name = String::new();
    let mut slug = String::new();
    let mut description = String::new();
    let mut website = String::new();
    let mut contact = String::new();
    for o in 0..world.orgs {
        let mut rng = world.rng(ORG, o);
        name.clear();
        let _ = write!(name, "{} {}", rng.pick(ORG_WORDS), rng.pick(ORG_KINDS));
        slug.clear();
        slug_into(&name, &mut slug);
        let _ = write!(slug, "-s{}-{o}", world.seed);
        let industry = rng.pick(INDUSTRIES);
        description.clear();
        let _ = write!(description, "{name} works in {industry}.");
        website.clear();
        let _ = write!(website, "https://{slug}.example.org");
        contact.clear();
        let _ = write!(contact, "contact@{slug}.example.org");
        let created = world.org_created(o);
        copy.row(&[
            &world.id(ORG, o),
            &name.as_str(),
            &slug.as_str(),
            &description.as_str(),
            &rng.pick(ORG_TYPES),
            &industry,
            &Label(rng.weighted(ORG_SIZES)),
            &Label(rng.weighted(ORG_STATUSES)),
            &website.as_str(),
            &contact.as_str(),
            &rng.weighted(SUBSCRIPTION_TIERS),
            &world.id(USER, o),
            &created,
            &rng.time(created, world.end),
        ])
        .await?;
    }
    Ok(())
}

/// Every user in its home organization (user `o` owns organization `o`), some in a second one.
pub(super) async fn load_memberships(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    for u in 0..world.users {
        let mut rng = world.rng(MEMBER, u);
        let user_created = world.user_created(u);
        let orgs = [Some(u % world.orgs), world.second_org(u)];
        for (k, org) in orgs.into_iter().enumerate() {
            let Some(o) = org else { continue };
            let role = match (u == o, k) {
                (true, _) => "owner",
                (false, 0) => rng.weighted(MEMBER_ROLES),
                (false, _) => "member",
            };
            let joined = rng.time(user_created.max(world.org_created(o)), world.end);
            copy.row(&[
                &world.id(MEMBER, u * 2 + k as u64),
                &world.id(ORG, o),
                &world.id(USER, u),
                &Label(role),
                &(u != o).then(|| world.id(USER, o)),
                &joined,
                &joined,
                &joined,
            ])
            .await?;
        }
    }
    Ok(())
}

pub(super) async fn load_projects(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut name = String::new();
    let mut slug = String::new();
    let mut description = String::new();
    let mut tags = Vec::new();
    for p in 0..world.projects {
        let mut rng = world.rng(PROJECT, p);
        let parent = world.project_parent(p);
        name.clear();
        let _ = write!(
            name,
            "{} {}",
            rng.pick(PROJECT_ADJECTIVES),
            rng.pick(PROJECT_NOUNS)
        );
        if parent.is_some() {
            let _ = write!(name, " Phase {}", rng.between(1, 4));
        }
        slug.clear();
        slug_into(&name, &mut slug);
        let _ = write!(slug, "-{p}");
        sentences_into(&mut rng, 1, 3, &mut description);
        let status = rng.weighted(PROJECT_STATUSES);
        let created = world.project_created(p);
        let start = Date::of(rng.time(created, Timestamp(created.0 + 14 * DAY)));
        let end = Date(start.0 + rng.between(30, 270) as i32);
        let completion = (status == "completed").then(|| Date(end.0 - rng.below(20) as i32));
        let hours = rng.between(40, 5_000);
        let actual_percent = match status {
            "draft" | "planning" => 0,
            "completed" => rng.between(70, 130),
            _ => rng.below(90),
        };
        let budget = rng
            .percent(70)
            .then(|| Hundredths(rng.between(50, 5_000) * 10_000));
        rng.tags(TAGS, 3, &mut tags);
        let creator = world.team_member(p, rng.below(world.team_size(p)));
        copy.row(&[
            &world.id(PROJECT, p),
            &world.id(ORG, world.project_org(p)),
            &parent.map(|q| world.id(PROJECT, q)),
            &name.as_str(),
            &slug.as_str(),
            &description.as_str(),
            &Label(status),
            &Label(rng.weighted(PROJECT_PRIORITIES)),
            &rng.pick(PROJECT_TYPES),
            &world.id(USER, world.team_member(p, 0)),
            &start,
            &end,
            &completion,
            &budget,
            &Hundredths(hours * 100),
            &Hundredths(hours * actual_percent),
            &tags.as_slice(),
            &world.id(USER, creator),
            &created,
            &rng.time(created, world.end),
        ])
        .await?;
    }
    Ok(())
}

pub(super) async fn load_project_members(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut index = 0;
    for p in 0..world.projects {
        let org = world.id(ORG, world.project_org(p));
        let project = world.id(PROJECT, p);
        let created = world.project_created(p);
        for k in 0..world.team_size(p) {
            let mut rng = world.rng(PROJECT_MEMBER, index);
            // The manager (member 0) is there from the start.
            let joined = if k == 0 {
                created
            } else {
                rng.time(created, world.end)
            };
            copy.row(&[
                &world.id(PROJECT_MEMBER, index),
                &org,
                &project,
                &world.id(USER, world.team_member(p, k)),
                &(k == 0 || rng.percent(95)),
                &joined,
                &joined,
                &joined,
            ])
            .await?;
            index += 1;
        }
    }
    Ok(())
}

pub(super) async fn load_tasks(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut title = String::new();
    let mut description = String::new();
    let mut custom = String::new();
    let mut tags = Vec::new();
    for t in 0..world.tasks {
        let mut rng = world.rng(TASK, t);
        let p = world.task_project(t);
        let team = world.team_size(p);
        title.clear();
        let _ = write!(
            title,
            "{} {} {}",
            rng.pick(VERBS),
            rng.pick(ADJECTIVES),
            rng.pick(NOUNS)
        );
        let has_description = rng.percent(75);
        if has_description {
            sentences_into(&mut rng, 1, 4, &mut description);
        }
        let status = rng.weighted(TASK_STATUSES);
        let created = world.task_created(t);
        let start = rng
            .percent(60)
            .then(|| rng.time(created, Timestamp(created.0 + 7 * DAY)));
        let due = rng.percent(70).then(|| {
            let from = start.unwrap_or(created);
            Timestamp(from.0 + rng.between(1, 30) as i64 * DAY)
        });
        let completed = (status == "done").then(|| rng.time(created, world.end));
        // Quarter hours, from 0.5 to 40.
        let estimated = rng.percent(65).then(|| rng.between(2, 160) * 25);
        let actual = match (status, estimated) {
            ("done" | "review", Some(hours)) => Some(hours * rng.between(50, 150) / 100),
            ("in_progress", Some(hours)) => Some(hours * rng.below(90) / 100),
            _ => None,
        };
        rng.tags(TAGS, 4, &mut tags);
        custom.clear();
        if rng.percent(40) {
            let points = rng.pick(&[1, 2, 3, 5, 8, 13]);
            let _ = write!(custom, "{{\"story_points\": {points}}}");
        } else {
            custom.push_str("{}");
        }
        let assignee = rng
            .percent(88)
            .then(|| world.id(USER, world.team_member(p, rng.below(team))));
        let creator = world.team_member(p, rng.below(team));
        let updated = completed.unwrap_or_else(|| rng.time(created, world.end));
        copy.row(&[
            &world.id(TASK, t),
            &world.id(ORG, world.project_org(p)),
            &world.id(PROJECT, p),
            &world.task_parent(t).map(|q| world.id(TASK, q)),
            &assignee,
            &title.as_str(),
            &has_description.then_some(description.as_str()),
            &Label(status),
            &Label(rng.weighted(TASK_PRIORITIES)),
            &start,
            &due,
            &completed,
            &estimated.map(Hundredths),
            &actual.map(Hundredths),
            &tags.as_slice(),
            &Jsonb(&custom),
            &world.id(USER, creator),
            &created,
            &updated,
        ])
        .await?;
    }
    Ok(())
}

/// Comments come in threads on tasks, written by members of the task's project: a thread
/// starts at every comment that is not a reply (at least every 8th); replies point at the
/// thread's first comment. The generator remembers only the current thread.
pub(super) async fn load_comments(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    struct Thread {
        id: Uuid,
        task: u64,
        created: Timestamp,
    }
    let mut thread = Thread {
        id: Uuid([0; 16]),
        task: 0,
        created: world.start,
    };
    let mut content = String::new();
    for c in 0..world.comments {
        let mut rng = world.rng(COMMENT, c);
        let id = world.id(COMMENT, c);
        let reply = !c.is_multiple_of(8) && rng.percent(35);
        let parent = if reply {
            Some(thread.id)
        } else {
            let task = rng.below(world.tasks);
            thread = Thread {
                id,
                task,
                created: rng.time(world.task_created(task), world.end),
            };
            None
        };
        let created = if reply {
            rng.time(thread.created, world.end)
        } else {
            thread.created
        };
        let p = world.task_project(thread.task);
        let team = world.team_size(p);
        let author = world.team_member(p, rng.below(team));
        let mentioned = rng
            .percent(10)
            .then(|| world.team_member(p, rng.below(team)));
        content.clear();
        if let Some(user) = mentioned {
            let (first, last) = world.user_name(user);
            let _ = write!(content, "@{first} {last} ");
        }
        content.push_str(rng.pick(COMMENT_TEXTS));
        let mentions = mentioned.map(|user| world.id(USER, user));
        let edited = rng.percent(5).then(|| rng.time(created, world.end));
        copy.row(&[
            &id,
            &world.id(ORG, world.project_org(p)),
            &world.id(PROJECT, p),
            &"task",
            &world.id(TASK, thread.task),
            &parent,
            &world.id(USER, author),
            &content.as_str(),
            &mentions.as_slice(),
            &edited,
            &created,
            &edited.unwrap_or(created),
        ])
        .await?;
    }
    Ok(())
}

/// The activity feed: mostly task events (a task's `task.created` entry has the task's creation
/// time), some project events, by members of the project, from private-network addresses.
pub(super) async fn load_activities(
    world: &World,
    copy: &mut CopyStream<'_>,
) -> Result<(), tokio_postgres::Error> {
    let mut metadata = String::new();
    for a in 0..world.activities {
        let mut rng = world.rng(ACTIVITY, a);
        metadata.clear();
        let (p, entity_type, entity, action, created) = if rng.percent(85) {
            let t = rng.below(world.tasks);
            let task_created = world.task_created(t);
            let action = rng.weighted(TASK_ACTIONS);
            let at = if action == "task.created" {
                task_created
            } else {
                rng.time(task_created, world.end)
            };
            if action == "task.status_changed" {
                let from = rng.pick(&["todo", "in_progress", "review"]);
                let to = rng.pick(&["in_progress", "review", "done"]);
                let _ = write!(metadata, "{{\"from\": \"{from}\", \"to\": \"{to}\"}}");
            } else {
                metadata.push_str("{}");
            }
            (world.task_project(t), "task", world.id(TASK, t), action, at)
        } else {
            let p = rng.below(world.projects);
            let at = rng.time(world.project_created(p), world.end);
            metadata.push_str("{}");
            let action = rng.pick(PROJECT_ACTIONS);
            (p, "project", world.id(PROJECT, p), action, at)
        };
        let user = world.team_member(p, rng.below(world.team_size(p)));
        let ip = IpAddr::V4(Ipv4Addr::new(
            10,
            rng.below(256) as u8,
            rng.below(256) as u8,
            rng.between(1, 254) as u8,
        ));
        copy.row(&[
            &world.id(ACTIVITY, a),
            &world.id(ORG, world.project_org(p)),
            &world.id(USER, user),
            &world.id(PROJECT, p),
            &action,
            &entity_type,
            &entity,
            &Jsonb(&metadata),
            &ip,
            &rng.pick(USER_AGENTS),
            &rng.percent(80).then(|| world.id(SESSION, a)),
            &created,
        ])
        .await?;
    }
    Ok(())
}
