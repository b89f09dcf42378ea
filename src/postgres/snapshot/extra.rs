//! The catalog queries of the less common object kinds: owners (compared with the role that
//! ran the migrations), privileges revoked from an owner, rules, extended statistics,
//! publications, operators, text search configurations, collations, casts, foreign servers
//! and event triggers.
//!
//! Like `catalog`, every query leaves out system schemas, objects that belong to an extension
//! and the excluded relations (history tables and what depends on them).

use tokio_postgres::Client;

use super::catalog::{
    Fields, TYPE_FILTER, USER_SCHEMA, enabled_state, flag, int, key, list, not_extension_member,
    qualified_name, relation_kind, required, text,
};
use super::{Object, ObjectKind};

type Result<T> = std::result::Result<T, tokio_postgres::Error>;

/// The first OID the server hands to objects created after `initdb` (built-in casts have
/// smaller ones).
const FIRST_NORMAL_OID: u32 = 16384;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Query {
    Owners,
    OwnerPrivileges,
    Rules,
    Statistics,
    Publications,
    Operators,
    TextSearchConfigs,
    TextSearchDictionaries,
    Collations,
    Casts,
    ForeignServers,
    EventTriggers,
}

pub(super) async fn run(
    client: &Client,
    query: Query,
    excluded: &[u32],
    migrator: u32,
) -> Result<Vec<Object>> {
    match query {
        Query::Owners => owners(client, excluded, migrator).await,
        Query::OwnerPrivileges => owner_privileges(client, excluded).await,
        Query::Rules => rules(client, excluded).await,
        Query::Statistics => statistics(client, excluded).await,
        Query::Publications => publications(client).await,
        Query::Operators => operators(client).await,
        Query::TextSearchConfigs => text_search_configs(client).await,
        Query::TextSearchDictionaries => text_search_dictionaries(client).await,
        Query::Collations => collations(client).await,
        Query::Casts => casts(client).await,
        Query::ForeignServers => foreign_servers(client).await,
        Query::EventTriggers => event_triggers(client).await,
    }
}

/// The objects a snapshot names with their owner, as `(kind, name, owner oid)` rows: every
/// kind whose owner can differ from the role that created it. Sequences owned by a column
/// follow their table's owner and are left out.
fn owned_objects() -> String {
    let class_member = not_extension_member("pg_class", "c.oid");
    format!(
        "SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
                               WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
                format('%s.%s', n.nspname, c.relname) AS name, c.relowner AS owner
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S') AND {USER_SCHEMA} AND {class_member}
           AND c.oid <> ALL($1)
           AND NOT (c.relkind = 'S' AND EXISTS (SELECT 1 FROM pg_depend d
                    WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
                      AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')))
         UNION ALL
         SELECT 'function', format('%s.%s(%s)', n.nspname, p.proname,
                                   oidvectortypes(p.proargtypes)), p.proowner
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE {USER_SCHEMA} AND {}
         UNION ALL
         SELECT 'schema', n.nspname::text, n.nspowner FROM pg_namespace n
         WHERE {USER_SCHEMA} AND {}
         UNION ALL
         SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain'
                               WHEN 'r' THEN 'range' ELSE 'type' END,
                format('%s.%s', n.nspname, t.typname), t.typowner
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE {TYPE_FILTER} AND {USER_SCHEMA} AND {}
         UNION ALL
         SELECT 'collation', format('%s.%s', n.nspname, co.collname), co.collowner
         FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
         WHERE {USER_SCHEMA} AND {}
         UNION ALL
         SELECT 'operator', {OPERATOR_NAME}, o.oprowner
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
         WHERE {USER_SCHEMA} AND {}
         UNION ALL
         SELECT 'text_search_config', format('%s.%s', n.nspname, cfg.cfgname), cfg.cfgowner
         FROM pg_ts_config cfg JOIN pg_namespace n ON n.oid = cfg.cfgnamespace
         WHERE {USER_SCHEMA} AND {}
         UNION ALL
         SELECT 'text_search_dictionary', format('%s.%s', n.nspname, d.dictname), d.dictowner
         FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
         WHERE {USER_SCHEMA} AND {}
         UNION ALL
         SELECT 'statistics', format('%s.%s', n.nspname, s.stxname), s.stxowner
         FROM pg_statistic_ext s JOIN pg_namespace n ON n.oid = s.stxnamespace
         WHERE {USER_SCHEMA} AND s.stxrelid <> ALL($1)
           AND {}
         UNION ALL
         SELECT 'publication', pub.pubname::text, pub.pubowner FROM pg_publication pub
         WHERE {}
         UNION ALL
         SELECT 'foreign_server', srv.srvname::text, srv.srvowner FROM pg_foreign_server srv
         WHERE {}
         UNION ALL
         SELECT 'event_trigger', evt.evtname::text, evt.evtowner FROM pg_event_trigger evt
         WHERE {}",
        not_extension_member("pg_proc", "p.oid"),
        not_extension_member("pg_namespace", "n.oid"),
        not_extension_member("pg_type", "t.oid"),
        not_extension_member("pg_collation", "co.oid"),
        not_extension_member("pg_operator", "o.oid"),
        not_extension_member("pg_ts_config", "cfg.oid"),
        not_extension_member("pg_ts_dict", "d.oid"),
        not_extension_member("pg_class", "s.stxrelid"),
        not_extension_member("pg_publication", "pub.oid"),
        not_extension_member("pg_foreign_server", "srv.oid"),
        not_extension_member("pg_event_trigger", "evt.oid"),
    )
}

/// An operator's key: `schema.op(left type, right type)`, `NONE` for a prefix operator's left.
const OPERATOR_NAME: &str = "format('%s.%s(%s, %s)', n.nspname, o.oprname,
    CASE WHEN o.oprleft = 0 THEN 'NONE' ELSE format_type(o.oprleft, NULL) END,
    CASE WHEN o.oprright = 0 THEN 'NONE' ELSE format_type(o.oprright, NULL) END)";

/// The owner of every object owned by another role than the one that ran the migrations
/// (the `migrator`): the owner of the history table, or the role taking the snapshot.
async fn owners(client: &Client, excluded: &[u32], migrator: u32) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT o.kind, o.name, pg_get_userbyid(o.owner)::text
         FROM ({}) AS o WHERE o.owner <> $2::oid",
        owned_objects()
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded, &migrator]).await? {
        let kind = required(&row, 0)?;
        let name = format!("{kind} {}", required(&row, 1)?);
        objects.push(Fields::default().text("role", text(&row, 2)?).object(
            ObjectKind::Owner,
            name.clone(),
            Some(name),
        ));
    }
    Ok(objects)
}

/// Privileges the owner of an object no longer holds (revoked from the owner, by name or as
/// `REVOKE ALL ... FROM owner`), compared with the built-in defaults.
async fn owner_privileges(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let class_member = not_extension_member("pg_class", "c.oid");
    let sql = format!(
        "WITH acl AS (
           SELECT CASE c.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized_view'
                                 WHEN 'S' THEN 'sequence' ELSE 'table' END AS kind,
                  format('%s.%s', n.nspname, c.relname) AS name, c.relowner AS owner,
                  c.relacl AS acl,
                  acldefault((CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END)::\"char\",
                             c.relowner) AS defaults
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE c.relacl IS NOT NULL AND c.relkind IN ('r', 'p', 'f', 'v', 'm', 'S')
             AND {USER_SCHEMA} AND {class_member} AND c.oid <> ALL($1)
           UNION ALL
           SELECT 'function', format('%s.%s(%s)', n.nspname, p.proname,
                                     oidvectortypes(p.proargtypes)),
                  p.proowner, p.proacl, acldefault('f', p.proowner)
           FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE p.proacl IS NOT NULL AND {USER_SCHEMA} AND {}
           UNION ALL
           SELECT 'schema', n.nspname::text, n.nspowner, n.nspacl, acldefault('n', n.nspowner)
           FROM pg_namespace n
           WHERE n.nspacl IS NOT NULL AND {USER_SCHEMA} AND {}
           UNION ALL
           SELECT CASE t.typtype WHEN 'e' THEN 'enum' WHEN 'd' THEN 'domain'
                                 WHEN 'r' THEN 'range' ELSE 'type' END,
                  format('%s.%s', n.nspname, t.typname), t.typowner, t.typacl,
                  acldefault('T', t.typowner)
           FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
           WHERE t.typacl IS NOT NULL AND {TYPE_FILTER} AND {USER_SCHEMA} AND {}
         )
         SELECT kind, name,
           ARRAY(SELECT d.privilege_type FROM aclexplode(defaults) AS d
                 WHERE d.grantee = owner
                 EXCEPT
                 SELECT x.privilege_type FROM aclexplode(acl) AS x WHERE x.grantee = owner
                 ORDER BY 1)
         FROM acl",
        not_extension_member("pg_proc", "p.oid"),
        not_extension_member("pg_namespace", "n.oid"),
        not_extension_member("pg_type", "t.oid"),
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let revoked = list(&row, 2)?;
        if revoked.is_empty() {
            continue;
        }
        let name = format!("{} {}", required(&row, 0)?, required(&row, 1)?);
        objects.push(Fields::default().list("revoked", revoked).object(
            ObjectKind::OwnerPrivileges,
            name.clone(),
            Some(name),
        ));
    }
    Ok(objects)
}

/// Rules other than the `_RETURN` rule of a view (that one is the view's definition).
async fn rules(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, c.relname::text, c.relkind::text, r.rulename::text,
           pg_get_ruledef(r.oid), r.ev_enabled::text
         FROM pg_rewrite r
         JOIN pg_class c ON c.oid = r.ev_class
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE r.rulename <> '_RETURN' AND {USER_SCHEMA} AND {} AND c.oid <> ALL($1)",
        not_extension_member("pg_class", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let table = qualified_name(&row)?;
        let enabled = enabled_state(&required(&row, 5)?);
        objects.push(
            Fields::default()
                .text("definition", text(&row, 4)?)
                .text("enabled", Some(enabled.to_string()))
                .object(
                    ObjectKind::Rule,
                    format!("{table}.{}", required(&row, 3)?),
                    Some(key(relation_kind(&required(&row, 2)?), &table)),
                ),
        );
    }
    Ok(objects)
}

/// Extended statistics (`CREATE STATISTICS`), with their statistics target when it was set.
async fn statistics(client: &Client, excluded: &[u32]) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, s.stxname::text, tn.nspname::text, tc.relname::text,
           tc.relkind::text, pg_get_statisticsobjdef(s.oid),
           coalesce(s.stxstattarget::int8, -1)
         FROM pg_statistic_ext s
         JOIN pg_namespace n ON n.oid = s.stxnamespace
         JOIN pg_class tc ON tc.oid = s.stxrelid
         JOIN pg_namespace tn ON tn.oid = tc.relnamespace
         WHERE {USER_SCHEMA} AND {} AND {} AND tc.oid <> ALL($1)",
        not_extension_member("pg_statistic_ext", "s.oid"),
        not_extension_member("pg_class", "tc.oid"),
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[&excluded]).await? {
        let table = format!("{}.{}", required(&row, 2)?, required(&row, 3)?);
        let target = int(&row, 6)?;
        let mut fields = Fields::default()
            .text("table", Some(table.clone()))
            .text("definition", text(&row, 5)?);
        if target >= 0 {
            fields = fields.int("target", target);
        }
        objects.push(fields.object(
            ObjectKind::Statistics,
            qualified_name(&row)?,
            Some(key(relation_kind(&required(&row, 4)?), &table)),
        ));
    }
    Ok(objects)
}

/// Publications: what they publish (tables with their column lists and row filters, whole
/// schemas, or all tables), which operations, and through which root.
async fn publications(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT pub.pubname::text, pub.puballtables,
           ARRAY(SELECT w FROM (VALUES ('insert', pub.pubinsert), ('update', pub.pubupdate),
                                       ('delete', pub.pubdelete),
                                       ('truncate', pub.pubtruncate)) AS v(w, on_)
                 WHERE on_ ORDER BY w),
           pub.pubviaroot,
           ARRAY(SELECT x FROM (
             SELECT format('TABLE %I.%I', tn.nspname, tc.relname)
                    || coalesce(' (' || (SELECT string_agg(quote_ident(a.attname), ', '
                                                           ORDER BY a.attnum)
                                         FROM pg_attribute a
                                         WHERE a.attrelid = pr.prrelid
                                           AND a.attnum = ANY(pr.prattrs)) || ')', '')
                    || coalesce(' WHERE (' || pg_get_expr(pr.prqual, pr.prrelid) || ')', '') AS x
             FROM pg_publication_rel pr
             JOIN pg_class tc ON tc.oid = pr.prrelid
             JOIN pg_namespace tn ON tn.oid = tc.relnamespace
             WHERE pr.prpubid = pub.oid
             UNION ALL
             SELECT format('TABLES IN SCHEMA %I', sn.nspname)
             FROM pg_publication_namespace pn JOIN pg_namespace sn ON sn.oid = pn.pnnspid
             WHERE pn.pnpubid = pub.oid) AS objects ORDER BY x)
         FROM pg_publication pub
         WHERE {}",
        not_extension_member("pg_publication", "pub.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .flag("all_tables", flag(&row, 1)?)
                .list("operations", list(&row, 2)?)
                .flag("via_root", flag(&row, 3)?)
                .list("objects", list(&row, 4)?)
                .object(ObjectKind::Publication, required(&row, 0)?, None),
        );
    }
    Ok(objects)
}

/// User-defined operators: argument and result types, function, and the optimizer's hints.
async fn operators(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT {OPERATOR_NAME},
           CASE WHEN o.oprleft = 0 THEN NULL ELSE format_type(o.oprleft, NULL) END,
           CASE WHEN o.oprright = 0 THEN NULL ELSE format_type(o.oprright, NULL) END,
           format_type(o.oprresult, NULL),
           (SELECT format('%I.%I', pn.nspname, p.proname) FROM pg_proc p
            JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = o.oprcode),
           (SELECT format('OPERATOR(%I.%s)', cn.nspname, c.oprname) FROM pg_operator c
            JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprcom),
           (SELECT format('OPERATOR(%I.%s)', cn.nspname, c.oprname) FROM pg_operator c
            JOIN pg_namespace cn ON cn.oid = c.oprnamespace WHERE c.oid = o.oprnegate),
           (SELECT format('%I.%I', pn.nspname, p.proname) FROM pg_proc p
            JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = o.oprrest),
           (SELECT format('%I.%I', pn.nspname, p.proname) FROM pg_proc p
            JOIN pg_namespace pn ON pn.oid = p.pronamespace WHERE p.oid = o.oprjoin),
           o.oprcanhash, o.oprcanmerge
         FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace
         WHERE {USER_SCHEMA} AND {}",
        not_extension_member("pg_operator", "o.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("left", text(&row, 1)?)
                .text("right", text(&row, 2)?)
                .text("result", text(&row, 3)?)
                .text("function", text(&row, 4)?)
                .text("commutator", text(&row, 5)?)
                .text("negator", text(&row, 6)?)
                .text("restrict", text(&row, 7)?)
                .text("join", text(&row, 8)?)
                .flag("hashes", flag(&row, 9)?)
                .flag("merges", flag(&row, 10)?)
                .object(ObjectKind::Operator, required(&row, 0)?, None),
        );
    }
    Ok(objects)
}

/// Text search configurations: the parser and, per token type, the dictionaries in order
/// (`asciiword WITH english_stem`).
async fn text_search_configs(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, cfg.cfgname::text,
           (SELECT format('%I.%I', pn.nspname, prs.prsname) FROM pg_ts_parser prs
            JOIN pg_namespace pn ON pn.oid = prs.prsnamespace WHERE prs.oid = cfg.cfgparser),
           ARRAY(SELECT format('%s WITH %s', tt.alias,
                               string_agg(m.mapdict::regdictionary::text, ', '
                                          ORDER BY m.mapseqno))
                 FROM pg_ts_config_map m
                 JOIN ts_token_type(cfg.cfgparser) AS tt ON tt.tokid = m.maptokentype
                 WHERE m.mapcfg = cfg.oid
                 GROUP BY tt.alias ORDER BY tt.alias)
         FROM pg_ts_config cfg JOIN pg_namespace n ON n.oid = cfg.cfgnamespace
         WHERE {USER_SCHEMA} AND {}",
        not_extension_member("pg_ts_config", "cfg.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("parser", text(&row, 2)?)
                .list("mappings", list(&row, 3)?)
                .object(ObjectKind::TextSearchConfig, qualified_name(&row)?, None),
        );
    }
    Ok(objects)
}

/// Text search dictionaries: their template and the options they were created with
/// (`dictinitoption`, as the server prints them: `stopwords = 'english', language = 'english'`).
async fn text_search_dictionaries(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT n.nspname::text, d.dictname::text, format('%I.%I', tn.nspname, t.tmplname),
           d.dictinitoption
         FROM pg_ts_dict d JOIN pg_namespace n ON n.oid = d.dictnamespace
         JOIN pg_ts_template t ON t.oid = d.dicttemplate
         JOIN pg_namespace tn ON tn.oid = t.tmplnamespace
         WHERE {USER_SCHEMA} AND {}",
        not_extension_member("pg_ts_dict", "d.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("template", text(&row, 2)?)
                .text("options", text(&row, 3)?)
                .object(
                    ObjectKind::TextSearchDictionary,
                    qualified_name(&row)?,
                    None,
                ),
        );
    }
    Ok(objects)
}

/// Collations created in user schemas (not their version, which changes with the library).
async fn collations(client: &Client) -> Result<Vec<Object>> {
    // The locale column changed names across versions (colliculocale, colllocale): read
    // through to_jsonb to stay version-neutral.
    let sql = format!(
        "SELECT n.nspname::text, co.collname::text,
           CASE co.collprovider WHEN 'i' THEN 'icu' WHEN 'c' THEN 'libc'
                                WHEN 'b' THEN 'builtin' ELSE 'default' END,
           co.collisdeterministic,
           coalesce(to_jsonb(co) ->> 'colllocale', to_jsonb(co) ->> 'colliculocale'),
           to_jsonb(co) ->> 'collcollate', to_jsonb(co) ->> 'collctype'
         FROM pg_collation co JOIN pg_namespace n ON n.oid = co.collnamespace
         WHERE {USER_SCHEMA} AND {}",
        not_extension_member("pg_collation", "co.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("provider", text(&row, 2)?)
                .flag("deterministic", flag(&row, 3)?)
                .text("locale", text(&row, 4)?.filter(|s| !s.is_empty()))
                .text("lc_collate", text(&row, 5)?.filter(|s| !s.is_empty()))
                .text("lc_ctype", text(&row, 6)?.filter(|s| !s.is_empty()))
                .object(ObjectKind::Collation, qualified_name(&row)?, None),
        );
    }
    Ok(objects)
}

/// Casts created after `initdb`, not those a type made for itself (a range's casts to its
/// multirange): `(source AS target)`, how and when they apply.
async fn casts(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT format('(%s AS %s)', format_type(c.castsource, NULL),
                       format_type(c.casttarget, NULL)),
           CASE c.castmethod WHEN 'f' THEN 'function ' || c.castfunc::regprocedure::text
                             WHEN 'i' THEN 'inout' ELSE 'binary' END,
           CASE c.castcontext WHEN 'i' THEN 'implicit' WHEN 'a' THEN 'assignment'
                              ELSE 'explicit' END
         FROM pg_cast c
         WHERE c.oid >= {FIRST_NORMAL_OID} AND {}
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_cast'::regclass
                           AND d.objid = c.oid AND d.deptype = 'i')",
        not_extension_member("pg_cast", "c.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("method", text(&row, 1)?)
                .text("context", text(&row, 2)?)
                .object(ObjectKind::Cast, required(&row, 0)?, None),
        );
    }
    Ok(objects)
}

/// Foreign servers: their wrapper, type, version and options (`key=value`, sorted).
async fn foreign_servers(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT srv.srvname::text, w.fdwname::text, srv.srvtype, srv.srvversion,
           ARRAY(SELECT o FROM unnest(srv.srvoptions) AS o ORDER BY o)
         FROM pg_foreign_server srv JOIN pg_foreign_data_wrapper w ON w.oid = srv.srvfdw
         WHERE {}",
        not_extension_member("pg_foreign_server", "srv.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        objects.push(
            Fields::default()
                .text("wrapper", text(&row, 1)?)
                .text("type", text(&row, 2)?)
                .text("version", text(&row, 3)?)
                .list_if_any("options", list(&row, 4)?)
                .object(ObjectKind::ForeignServer, required(&row, 0)?, None),
        );
    }
    Ok(objects)
}

/// Event triggers: event, tags, function and whether they fire.
async fn event_triggers(client: &Client) -> Result<Vec<Object>> {
    let sql = format!(
        "SELECT evt.evtname::text, evt.evtevent::text,
           ARRAY(SELECT t FROM unnest(evt.evttags) AS t ORDER BY t),
           evt.evtfoid::regprocedure::text, evt.evtenabled::text
         FROM pg_event_trigger evt
         WHERE {}",
        not_extension_member("pg_event_trigger", "evt.oid")
    );
    let mut objects = Vec::new();
    for row in client.query(&sql, &[]).await? {
        let enabled = enabled_state(&required(&row, 4)?);
        objects.push(
            Fields::default()
                .text("event", text(&row, 1)?)
                .list_if_any("tags", list(&row, 2)?)
                .text("function", text(&row, 3)?)
                .text("enabled", Some(enabled.to_string()))
                .object(ObjectKind::EventTrigger, required(&row, 0)?, None),
        );
    }
    Ok(objects)
}
