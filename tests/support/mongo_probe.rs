//! A direct connection to a test's Mongo database, for setting up data and checking what the
//! binary did. Drops the database when dropped.

use std::collections::BTreeMap;

use mongodb::bson::{Document, doc};

use super::MongoDb;

pub struct MongoProbe {
    runtime: tokio::runtime::Runtime,
    database: mongodb::Database,
}

impl MongoProbe {
    pub fn new(db: &MongoDb) -> MongoProbe {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(mongodb::Client::with_uri_str(&db.url))
            .unwrap_or_else(|e| panic!("test harness: cannot open a Mongo client: {e}"));
        MongoProbe {
            database: client.database(&db.name),
            runtime,
        }
    }

    pub fn try_command(&self, command: Document) -> Result<Document, mongodb::error::Error> {
        self.runtime
            .block_on(async { self.database.run_command(command).await })
    }

    /// Runs a command that must succeed.
    pub fn command(&self, command: Document) -> Document {
        let shown = format!("{command}");
        self.try_command(command)
            .unwrap_or_else(|e| panic!("mongo command {shown} failed: {e}"))
    }

    /// The first batch of a cursor command (`find`, `listIndexes`, `listCollections`).
    pub fn first_batch(&self, command: Document) -> Vec<Document> {
        self.command(command)
            .get_document("cursor")
            .unwrap()
            .get_array("firstBatch")
            .unwrap()
            .iter()
            .map(|b| b.as_document().unwrap().clone())
            .collect()
    }

    /// Collection names, sorted.
    pub fn collections(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .first_batch(doc! {"listCollections": 1, "cursor": {"batchSize": 100_000}})
            .iter()
            .map(|c| c.get_str("name").unwrap().to_string())
            .collect();
        names.sort();
        names
    }

    /// The `options` of a collection as `listCollections` shows them.
    pub fn options(&self, collection: &str) -> Document {
        self.first_batch(doc! {"listCollections": 1, "filter": {"name": collection}})
            .first()
            .unwrap_or_else(|| panic!("collection {collection} does not exist"))
            .get_document("options")
            .cloned()
            .unwrap_or_default()
    }

    /// Index name -> index document; empty when the collection does not exist.
    pub fn indexes(&self, collection: &str) -> BTreeMap<String, Document> {
        match self.try_command(doc! {"listIndexes": collection}) {
            Ok(_) => self
                .first_batch(doc! {"listIndexes": collection})
                .into_iter()
                .map(|i| (i.get_str("name").unwrap().to_string(), i))
                .collect(),
            Err(_) => BTreeMap::new(),
        }
    }

    /// Index names, sorted.
    pub fn index_names(&self, collection: &str) -> Vec<String> {
        self.indexes(collection).into_keys().collect()
    }

    /// Inserts one document; a write error comes back as its code.
    pub fn insert(&self, collection: &str, document: Document) -> Result<(), i32> {
        let reply = self.command(doc! {"insert": collection, "documents": [document]});
        match reply.get_array("writeErrors") {
            Ok(errors) => Err(errors[0].as_document().unwrap().get_i32("code").unwrap()),
            Err(_) => Ok(()),
        }
    }

    pub fn find(&self, collection: &str, filter: Document) -> Vec<Document> {
        self.first_batch(doc! {"find": collection, "filter": filter, "batchSize": 10_000})
    }

    /// Every document of a collection, ordered by `_id`.
    pub fn documents(&self, collection: &str) -> Vec<Document> {
        let mut documents = self.find(collection, doc! {});
        documents.sort_by_key(|d| format!("{:?}", d.get("_id")));
        documents
    }

    /// The migration history collection's documents.
    pub fn history(&self) -> Vec<Document> {
        self.find("migrate_history", doc! {})
    }
}

impl Drop for MongoProbe {
    fn drop(&mut self) {
        let _ = self.runtime.block_on(async { self.database.drop().await });
    }
}
