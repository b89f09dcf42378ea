//! The operations of a Mongo migration (`{"op": "create_index", ...}`), parsed and checked
//! before anything is sent to the server.

use mongodb::bson::{Bson, Document};

use super::jsonschema;

/// One step of a Mongo migration's `up` or `down` list.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    /// `create` with its options (validator, validationLevel, validationAction, ...).
    CreateCollection {
        collection: String,
        options: Document,
    },
    DropCollection {
        collection: String,
    },
    /// One `createIndexes` spec: `key`, `name` and options, defaults normalized away.
    CreateIndex {
        collection: String,
        spec: Document,
    },
    DropIndex {
        collection: String,
        name: String,
    },
    /// `collMod` with its changes (validator, validation level/action, index TTL, ...).
    CollMod {
        collection: String,
        changes: Document,
    },
    /// Any command, run against the migration's database as written.
    RunCommand {
        command: Document,
    },
}

/// The op names, for messages.
pub const OP_NAMES: &[&str] = &[
    "create_collection",
    "drop_collection",
    "create_index",
    "drop_index",
    "coll_mod",
    "run_command",
];

const CREATE_COLLECTION_OPTIONS: &[&str] = &[
    "validator",
    "validationLevel",
    "validationAction",
    "collation",
    "capped",
    "size",
    "max",
    "timeseries",
    "expireAfterSeconds",
    "clusteredIndex",
    "changeStreamPreAndPostImages",
];

const INDEX_OPTIONS: &[&str] = &[
    "unique",
    "expireAfterSeconds",
    "partialFilterExpression",
    "sparse",
    "collation",
    "hidden",
    "wildcardProjection",
    "2dsphereIndexVersion",
];

const COLL_MOD_CHANGES: &[&str] = &[
    "validator",
    "validationLevel",
    "validationAction",
    "index",
    "changeStreamPreAndPostImages",
    "expireAfterSeconds",
];

/// Collections migrate keeps for itself; migrations must not touch them.
pub const RESERVED_COLLECTIONS: &[&str] = &["migrate_history", "migrate_lock"];

impl Op {
    pub fn kind(&self) -> &'static str {
        match self {
            Op::CreateCollection { .. } => "create_collection",
            Op::DropCollection { .. } => "drop_collection",
            Op::CreateIndex { .. } => "create_index",
            Op::DropIndex { .. } => "drop_index",
            Op::CollMod { .. } => "coll_mod",
            Op::RunCommand { .. } => "run_command",
        }
    }

    /// `create_index documentContent.documentId_1`, for progress lines and errors.
    pub fn describe(&self) -> String {
        match self {
            Op::CreateCollection { collection, .. }
            | Op::DropCollection { collection }
            | Op::CollMod { collection, .. } => format!("{} {collection}", self.kind()),
            Op::CreateIndex { collection, spec } => format!(
                "{} {collection}.{}",
                self.kind(),
                spec.get_str("name").unwrap_or("?")
            ),
            Op::DropIndex { collection, name } => format!("{} {collection}.{name}", self.kind()),
            Op::RunCommand { command } => format!(
                "{} {}",
                self.kind(),
                command.keys().next().map_or("?", String::as_str)
            ),
        }
    }

    /// Parses one op document. Errors read well after `up[3]: `.
    pub fn parse(value: &Bson) -> Result<Op, String> {
        let Bson::Document(document) = value else {
            return Err(format!(
                "an op must be an object like {{\"op\": \"create_index\", ...}}, found {}",
                kind_of(value)
            ));
        };
        let op = match document.get("op") {
            Some(Bson::String(op)) => op.as_str(),
            Some(_) => return Err("`op` must be a string".to_string()),
            None => {
                return Err(format!("missing `op` (one of: {})", OP_NAMES.join(", ")));
            }
        };
        let fields = Fields { document, op };
        match op {
            "create_collection" => {
                let collection = fields.collection()?;
                fields.only(&["collection"], CREATE_COLLECTION_OPTIONS)?;
                let mut options = Document::new();
                for (key, value) in document {
                    if CREATE_COLLECTION_OPTIONS.contains(&key.as_str()) {
                        options.insert(key, value.clone());
                    }
                }
                check_validation_settings(&options)?;
                if let Some(validator) = options.get("validator") {
                    let Bson::Document(validator) = validator else {
                        return Err("`validator` must be an object".to_string());
                    };
                    jsonschema::check_document(validator, "validator")?;
                }
                Ok(Op::CreateCollection {
                    collection,
                    options,
                })
            }
            "drop_collection" => {
                let collection = fields.collection()?;
                fields.only(&["collection"], &[])?;
                Ok(Op::DropCollection { collection })
            }
            "create_index" => {
                let collection = fields.collection()?;
                fields.only(&["collection", "name", "keys"], INDEX_OPTIONS)?;
                let name = match document.get("name") {
                    Some(Bson::String(name)) if !name.trim().is_empty() => name.clone(),
                    Some(_) => return Err("index `name` must be a non-empty string".to_string()),
                    None => {
                        return Err(
                            "index `name` is required (names make conflicts and `drop_index` predictable)"
                                .to_string(),
                        );
                    }
                };
                let keys = match document.get("keys") {
                    Some(Bson::Document(keys)) if !keys.is_empty() => keys.clone(),
                    _ => {
                        return Err(
                            "`keys` is required: an object of fields and directions, e.g. {\"userId\": 1}"
                                .to_string(),
                        );
                    }
                };
                for (field, direction) in &keys {
                    let valid = match direction {
                        Bson::Int32(n) => *n == 1 || *n == -1,
                        Bson::Int64(n) => *n == 1 || *n == -1,
                        Bson::Double(n) => *n == 1.0 || *n == -1.0,
                        Bson::String(kind) => {
                            matches!(kind.as_str(), "2dsphere" | "2d" | "hashed" | "text")
                        }
                        _ => false,
                    };
                    if !valid {
                        return Err(format!(
                            "keys.{field}: expected 1, -1, \"2dsphere\", \"2d\", \"hashed\" or \"text\""
                        ));
                    }
                }
                let mut spec = Document::new();
                spec.insert("key", keys.clone());
                spec.insert("name", name);
                for (key, value) in document {
                    if !INDEX_OPTIONS.contains(&key.as_str()) {
                        continue;
                    }
                    // `unique: false` and `sparse: false` are the defaults: the server does not
                    // store them, so leaving them in would make identical specs look different.
                    if matches!(key.as_str(), "unique" | "sparse" | "hidden")
                        && value == &Bson::Boolean(false)
                    {
                        continue;
                    }
                    spec.insert(key, value.clone());
                }
                if let Some(ttl) = spec.get("expireAfterSeconds") {
                    let seconds = as_i64(ttl).ok_or(
                        "`expireAfterSeconds` must be a whole number of seconds".to_string(),
                    )?;
                    if seconds < 0 {
                        return Err("`expireAfterSeconds` must not be negative".to_string());
                    }
                    if keys.len() != 1 || keys.contains_key("_id") {
                        return Err(
                            "a TTL index (`expireAfterSeconds`) must have exactly one key, and not `_id`"
                                .to_string(),
                        );
                    }
                }
                Ok(Op::CreateIndex { collection, spec })
            }
            "drop_index" => {
                let collection = fields.collection()?;
                fields.only(&["collection", "name"], &[])?;
                let name = match document.get("name") {
                    Some(Bson::String(name)) if !name.is_empty() => name.clone(),
                    _ => return Err("index `name` is required".to_string()),
                };
                if name == "_id_" {
                    return Err("the `_id_` index cannot be dropped".to_string());
                }
                Ok(Op::DropIndex { collection, name })
            }
            "coll_mod" => {
                let collection = fields.collection()?;
                fields.only(&["collection"], COLL_MOD_CHANGES)?;
                let mut changes = Document::new();
                for (key, value) in document {
                    if COLL_MOD_CHANGES.contains(&key.as_str()) {
                        changes.insert(key, value.clone());
                    }
                }
                if changes.is_empty() {
                    return Err(format!(
                        "coll_mod changes nothing: give one of {}",
                        COLL_MOD_CHANGES.join(", ")
                    ));
                }
                check_validation_settings(&changes)?;
                jsonschema::check_document(&changes, "")?;
                Ok(Op::CollMod {
                    collection,
                    changes,
                })
            }
            "run_command" => {
                fields.only(&["command"], &[])?;
                let command = match document.get("command") {
                    Some(Bson::Document(command)) if !command.is_empty() => command.clone(),
                    _ => {
                        return Err(
                            "`command` is required: the command document, e.g. {\"collMod\": \"x\", ...}"
                                .to_string(),
                        );
                    }
                };
                jsonschema::check_document(&command, "command")?;
                Ok(Op::RunCommand { command })
            }
            other => Err(format!(
                "unknown op `{other}` (known: {})",
                OP_NAMES.join(", ")
            )),
        }
    }
}

/// Field access with errors that name the op.
struct Fields<'a> {
    document: &'a Document,
    op: &'a str,
}

impl Fields<'_> {
    fn collection(&self) -> Result<String, String> {
        let name = match self.document.get("collection") {
            Some(Bson::String(name)) => name.clone(),
            Some(_) => return Err("`collection` must be a string".to_string()),
            None => return Err(format!("{} needs a `collection`", self.op)),
        };
        if name.is_empty() || name.contains('$') || name.contains('\0') {
            return Err(format!("invalid collection name `{name}`"));
        }
        if name.starts_with("system.") {
            return Err(format!("`{name}`: system collections are off limits"));
        }
        if RESERVED_COLLECTIONS.contains(&name.as_str()) {
            return Err(format!(
                "`{name}` is reserved for migrate's own bookkeeping"
            ));
        }
        Ok(name)
    }

    /// Refuses unknown fields, so that a typo (`uniqe`) never silently drops an option.
    fn only(&self, required: &[&str], optional: &[&str]) -> Result<(), String> {
        for key in self.document.keys() {
            if key == "op" || required.contains(&key.as_str()) || optional.contains(&key.as_str()) {
                continue;
            }
            let mut known: Vec<&str> = required.to_vec();
            known.extend_from_slice(optional);
            return Err(format!(
                "unknown field `{key}` for {} (known: {})",
                self.op,
                known.join(", ")
            ));
        }
        Ok(())
    }
}

fn check_validation_settings(options: &Document) -> Result<(), String> {
    if let Some(level) = options.get("validationLevel") {
        match level {
            Bson::String(level) if matches!(level.as_str(), "off" | "strict" | "moderate") => {}
            _ => {
                return Err("`validationLevel` must be \"off\", \"strict\" or \"moderate\"".into());
            }
        }
    }
    if let Some(action) = options.get("validationAction") {
        match action {
            Bson::String(action) if matches!(action.as_str(), "error" | "warn" | "errorAndLog") => {
            }
            _ => {
                return Err(
                    "`validationAction` must be \"error\", \"warn\" or \"errorAndLog\"".into(),
                );
            }
        }
    }
    Ok(())
}

pub fn as_i64(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(n) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

fn kind_of(value: &Bson) -> &'static str {
    match value {
        Bson::Array(_) => "an array",
        Bson::String(_) => "a string",
        Bson::Null => "null",
        Bson::Boolean(_) => "a boolean",
        _ => "a value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::{bson, doc};

    fn parse(value: Bson) -> Result<Op, String> {
        Op::parse(&value)
    }

    #[test]
    fn create_index_normalizes_defaults_and_keeps_key_order() {
        let op = parse(bson!({
            "op": "create_index", "collection": "c", "name": "a_b",
            "keys": {"b": 1, "a": -1}, "unique": false, "sparse": true
        }))
        .unwrap();
        let Op::CreateIndex { spec, .. } = op else {
            panic!()
        };
        assert_eq!(
            spec,
            doc! {"key": {"b": 1, "a": -1}, "name": "a_b", "sparse": true}
        );
    }

    #[test]
    fn bad_ops_are_named() {
        let cases = [
            (
                bson!({"op": "create_colection", "collection": "c"}),
                "unknown op `create_colection`",
            ),
            (bson!({"collection": "c"}), "missing `op`"),
            (
                bson!({"op": "create_index", "collection": "c", "keys": {"a": 1}}),
                "`name` is required",
            ),
            (
                bson!({"op": "create_index", "collection": "c", "name": "x", "keys": {"a": 1}, "uniqe": true}),
                "unknown field `uniqe`",
            ),
            (
                bson!({"op": "create_index", "collection": "c", "name": "x", "keys": {"a": 1, "b": 1}, "expireAfterSeconds": 5}),
                "exactly one key",
            ),
            (
                bson!({"op": "create_index", "collection": "c", "name": "x", "keys": {"a": "up"}}),
                "keys.a",
            ),
            (
                bson!({"op": "drop_collection", "collection": "migrate_history"}),
                "reserved",
            ),
            (
                bson!({"op": "coll_mod", "collection": "c"}),
                "changes nothing",
            ),
            (
                bson!({"op": "create_collection", "collection": "c", "validationAction": "explode"}),
                "validationAction",
            ),
            (
                bson!({"op": "create_collection", "collection": "c", "validator": {"$jsonSchema": {"properties": {"n": {"bsonType": "integer"}}}}}),
                "no `integer` type",
            ),
            (
                bson!({"op": "run_command", "command": {"collMod": "c", "validator": {"$jsonSchema": {"format": "x"}}}}),
                "format",
            ),
            (bson!(["create_index"]), "an op must be an object"),
        ];
        for (value, message) in cases {
            let err = parse(value).unwrap_err();
            assert!(err.contains(message), "{err:?} should contain {message:?}");
        }
    }

    #[test]
    fn descriptions() {
        let op = parse(bson!({"op": "drop_index", "collection": "c", "name": "i"})).unwrap();
        assert_eq!(op.describe(), "drop_index c.i");
        let op = parse(
            bson!({"op": "run_command", "command": {"collMod": "c", "validationLevel": "off"}}),
        )
        .unwrap();
        assert_eq!(op.describe(), "run_command collMod");
    }
}
