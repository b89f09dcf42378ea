//! The writer's views and materialized views: which are recreated (their own change, a
//! dependency recreated, a column they read changed type, an enum swapped), in dependency order,
//! with their indexes, grants, comments and triggers restored.

use super::*;

impl<'a> Writer<'a> {
    // ----------------------------------------------------------------------------------
    // Views and materialized views

    pub(super) fn views(&mut self) {
        let view_kinds = [ObjectKind::View, ObjectKind::MaterializedView];
        let views_of = |snapshot: &'a Snapshot| -> Vec<&'a Object> {
            // In key order, as the rest of the writer sees objects.
            let mut views: Vec<(&String, &Object)> = view_kinds
                .iter()
                .flat_map(|kind| snapshot.of_kind(*kind))
                .collect();
            views.sort_by_key(|(k, _)| *k);
            views.into_iter().map(|(_, o)| o).collect()
        };
        let (from_views, to_views) = (views_of(self.from), views_of(self.to));
        // What forces a view that did not change to be recreated: a dependency recreated, a
        // column type changed, an enum swapped.
        let mut touched: BTreeSet<String> = BTreeSet::new();
        for (k, b) in self.to.of_kind(ObjectKind::Column) {
            if let Some(a) = self.from.objects.get(k)
                && (text(a, "type") != text(b, "type")
                    || text(a, "collation") != text(b, "collation")
                    || text(a, "generated") != text(b, "generated"))
            {
                touched.insert(parent_name(b).to_string());
            }
        }
        touched.extend(self.swapped.iter().cloned());
        let mut recreate: BTreeSet<String> = BTreeSet::new();
        for a in &from_views {
            let k = key(a.kind, &a.name);
            if let Some(b) = self.to.objects.get(&k)
                && changed_fields(a, b)
                    .iter()
                    .any(|f| f != "comment" && f != "column_comments")
            {
                recreate.insert(a.name.clone());
            }
        }
        loop {
            let before = recreate.len();
            for a in &from_views {
                let k = key(a.kind, &a.name);
                if recreate.contains(&a.name) || !self.in_to(&k) {
                    continue;
                }
                let definition = text(a, "definition").unwrap_or("");
                let removed_dependency = from_views.iter().any(|other| {
                    !self.in_to(&key(other.kind, &other.name))
                        && sql::mentions(definition, &other.name)
                });
                if recreate
                    .iter()
                    .chain(touched.iter())
                    .any(|name| sql::mentions(definition, name))
                    || removed_dependency
                {
                    recreate.insert(a.name.clone());
                }
            }
            if recreate.len() == before {
                break;
            }
        }
        for name in &recreate {
            for kind in view_kinds {
                let k = key(kind, name);
                if self.in_from(&k) && self.in_to(&k) {
                    self.recreated.insert(k);
                }
            }
        }
        // Drops, dependents first.
        let dropped: Vec<&Object> = from_views
            .iter()
            .copied()
            .filter(|a| {
                let k = key(a.kind, &a.name);
                !self.in_to(&k) || self.recreated.contains(&k)
            })
            .collect();
        for view in dependency_order(&dropped).into_iter().rev() {
            let word = view_word(view.kind);
            self.push(
                DROP_VIEW,
                statement(format!("DROP {word} {}", qualified(&view.name))),
            );
        }
        let created: Vec<&Object> = to_views
            .iter()
            .copied()
            .filter(|b| {
                let k = key(b.kind, &b.name);
                !self.in_from(&k) || self.recreated.contains(&k)
            })
            .collect();
        for view in dependency_order(&created) {
            let word = view_word(view.kind);
            let options = list(view, "options");
            let with = if options.is_empty() {
                String::new()
            } else {
                format!(" WITH ({})", options.join(", "))
            };
            let definition = text(view, "definition")
                .unwrap_or("")
                .trim()
                .trim_end_matches(';')
                .to_string();
            let sql = format!(
                "CREATE {word} {}{with} AS\n{definition}",
                qualified(&view.name)
            );
            let statement = if view.kind == ObjectKind::MaterializedView {
                with_hazard(sql, format!("runs the query of {} to fill it", view.name))
            } else {
                statement(sql)
            };
            self.push(CREATE_VIEW, statement);
        }
    }
}

pub(super) fn view_word(kind: ObjectKind) -> &'static str {
    if kind == ObjectKind::MaterializedView {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    }
}

/// Views in creation order: a view after every view its definition mentions.
pub(super) fn dependency_order<'o>(views: &[&'o Object]) -> Vec<&'o Object> {
    let mut done: Vec<&Object> = Vec::new();
    let mut pending: Vec<&Object> = views.to_vec();
    while !pending.is_empty() {
        let before = pending.len();
        let mut index = 0;
        while index < pending.len() {
            let view = pending[index];
            let definition = text(view, "definition").unwrap_or("");
            let blocked = pending
                .iter()
                .any(|other| other.name != view.name && sql::mentions(definition, &other.name));
            if blocked {
                index += 1;
            } else {
                done.push(pending.remove(index));
            }
        }
        if pending.len() == before {
            // A cycle cannot exist between views; keep the rest in name order.
            done.append(&mut pending);
        }
    }
    done
}
