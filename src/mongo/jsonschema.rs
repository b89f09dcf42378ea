//! `$jsonSchema` validators checked before anything is sent: MongoDB implements a subset of
//! JSON Schema draft 4 (no `integer` type, no `format`, no `$ref`, no `default`, ...), and a
//! keyword it does not know fails the whole migration halfway through.

use mongodb::bson::{Bson, Document};

/// Keywords MongoDB's `$jsonSchema` understands.
const SUPPORTED: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "bsonType",
    "dependencies",
    "description",
    "encrypt",
    "encryptMetadata",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "patternProperties",
    "properties",
    "required",
    "title",
    "type",
    "uniqueItems",
];

/// `bsonType` aliases the server accepts.
const BSON_TYPES: &[&str] = &[
    "double",
    "string",
    "object",
    "array",
    "binData",
    "undefined",
    "objectId",
    "bool",
    "date",
    "null",
    "regex",
    "dbPointer",
    "javascript",
    "symbol",
    "javascriptWithScope",
    "int",
    "timestamp",
    "long",
    "decimal",
    "minKey",
    "maxKey",
    "number",
];

/// JSON Schema `type` names the server accepts (`integer` is not one of them).
const JSON_TYPES: &[&str] = &["object", "array", "number", "boolean", "string", "null"];

/// Checks every `$jsonSchema` found anywhere in `document` (a validator, a `collMod`, a raw
/// command). The error names the path of the offending keyword.
pub fn check_document(document: &Document, path: &str) -> Result<(), String> {
    for (key, value) in document {
        let here = join(path, key);
        if key == "$jsonSchema" {
            match value {
                Bson::Document(schema) => check_schema(schema, &here)?,
                _ => return Err(format!("{here} must be an object")),
            }
        } else {
            check_value(value, &here)?;
        }
    }
    Ok(())
}

fn check_value(value: &Bson, path: &str) -> Result<(), String> {
    match value {
        Bson::Document(document) => check_document(document, path),
        Bson::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                check_value(item, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// One schema node: its keywords, then the schemas nested under it.
fn check_schema(schema: &Document, path: &str) -> Result<(), String> {
    for (keyword, value) in schema {
        let here = join(path, keyword);
        if let Some(advice) = unsupported_advice(keyword) {
            return Err(format!(
                "{here}: MongoDB's $jsonSchema does not support `{keyword}`: {advice}"
            ));
        }
        if !SUPPORTED.contains(&keyword.as_str()) {
            return Err(format!(
                "{here}: `{keyword}` is not a $jsonSchema keyword MongoDB supports (it knows: {})",
                SUPPORTED.join(", ")
            ));
        }
        match keyword.as_str() {
            "bsonType" => check_type_names(value, &here, BSON_TYPES, "bsonType")?,
            "type" => check_type_names(value, &here, JSON_TYPES, "type")?,
            "properties" | "patternProperties" => match value {
                Bson::Document(members) => {
                    for (name, member) in members {
                        check_subschema(member, &join(&here, name))?;
                    }
                }
                _ => return Err(format!("{here} must be an object of schemas")),
            },
            "items" => match value {
                Bson::Array(items) => {
                    for (index, item) in items.iter().enumerate() {
                        check_subschema(item, &format!("{here}[{index}]"))?;
                    }
                }
                other => check_subschema(other, &here)?,
            },
            "additionalProperties" | "additionalItems" => {
                if let Bson::Document(sub) = value {
                    check_schema(sub, &here)?;
                }
            }
            "allOf" | "anyOf" | "oneOf" => match value {
                Bson::Array(items) if !items.is_empty() => {
                    for (index, item) in items.iter().enumerate() {
                        check_subschema(item, &format!("{here}[{index}]"))?;
                    }
                }
                _ => return Err(format!("{here} must be a non-empty array of schemas")),
            },
            "not" => check_subschema(value, &here)?,
            "dependencies" => {
                if let Bson::Document(members) = value {
                    for (name, member) in members {
                        if let Bson::Document(sub) = member {
                            check_schema(sub, &join(&here, name))?;
                        }
                    }
                }
            }
            "required" => match value {
                Bson::Array(names) if names.iter().all(|n| matches!(n, Bson::String(_))) => {}
                _ => return Err(format!("{here} must be an array of field names")),
            },
            _ => {}
        }
    }
    Ok(())
}

fn check_subschema(value: &Bson, path: &str) -> Result<(), String> {
    match value {
        Bson::Document(schema) => check_schema(schema, path),
        _ => Err(format!("{path} must be a schema (an object)")),
    }
}

fn check_type_names(value: &Bson, path: &str, known: &[&str], keyword: &str) -> Result<(), String> {
    let names: Vec<&Bson> = match value {
        Bson::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    for name in names {
        let Bson::String(name) = name else {
            return Err(format!("{path} must be a type name or an array of them"));
        };
        if name == "integer" {
            return Err(format!(
                "{path}: MongoDB's $jsonSchema has no `integer` type: use `bsonType: \"int\"` or `\"long\"` (or `[\"int\", \"long\"]`)"
            ));
        }
        if !known.contains(&name.as_str()) {
            return Err(format!(
                "{path}: unknown {keyword} `{name}` (known: {})",
                known.join(", ")
            ));
        }
    }
    Ok(())
}

/// Keywords of JSON Schema that MongoDB leaves out, with what to do instead.
fn unsupported_advice(keyword: &str) -> Option<&'static str> {
    Some(match keyword {
        "format" => "validate the shape with `pattern` (or a `bsonType` such as `date`)",
        "$ref" | "definitions" | "$defs" => "inline the referenced schema",
        "default" => "defaults are not applied by the server; set them in the application",
        "$schema" | "$id" | "id" => "remove it (MongoDB implements draft 4 without meta keywords)",
        "const" => "use `enum` with a single value",
        "if" | "then" | "else" => "express the condition with `anyOf`/`oneOf`",
        "examples" | "contentEncoding" | "contentMediaType" => "remove it",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mongodb::bson::doc;

    #[test]
    fn accepts_the_supported_subset() {
        let validator = doc! {"$jsonSchema": {
            "bsonType": "object",
            "required": ["documentId", "version"],
            "additionalProperties": false,
            "properties": {
                "_id": {"bsonType": "objectId"},
                "format": {"bsonType": "string", "enum": ["md", "html"]},
                "version": {"bsonType": ["int", "long"], "minimum": 1},
                "elements": {"bsonType": "array", "items": {"bsonType": "object"}},
                "meta": {"anyOf": [{"bsonType": "object"}, {"bsonType": "null"}]},
            }
        }};
        check_document(&validator, "validator").unwrap();
    }

    #[test]
    fn rejects_integer_format_ref_default_with_their_path() {
        let cases = [
            (
                doc! {"$jsonSchema": {"properties": {"n": {"bsonType": "integer"}}}},
                "validator.$jsonSchema.properties.n.bsonType",
                "no `integer` type",
            ),
            (
                doc! {"$jsonSchema": {"properties": {"n": {"type": ["integer", "null"]}}}},
                "properties.n.type",
                "no `integer` type",
            ),
            (
                doc! {"$jsonSchema": {"properties": {"email": {"bsonType": "string", "format": "email"}}}},
                "properties.email.format",
                "does not support `format`",
            ),
            (
                doc! {"$jsonSchema": {"items": {"$ref": "#/definitions/x"}}},
                "$jsonSchema.items.$ref",
                "inline",
            ),
            (
                doc! {"$and": [{"$jsonSchema": {"properties": {"a": {"default": 1}}}}]},
                "$and[0].$jsonSchema.properties.a.default",
                "`default`",
            ),
            (
                doc! {"$jsonSchema": {"bsonType": "object", "propertys": {}}},
                "propertys",
                "not a $jsonSchema keyword",
            ),
            (
                doc! {"$jsonSchema": {"bsonType": "datetime"}},
                "bsonType",
                "unknown bsonType `datetime`",
            ),
        ];
        for (validator, path, message) in cases {
            let err = check_document(&validator, "validator").unwrap_err();
            assert!(err.contains(path), "{err} should name {path}");
            assert!(err.contains(message), "{err} should say {message}");
        }
    }
}
