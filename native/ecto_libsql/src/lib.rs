//! The Rust core of EctoLibSql: libSQL connections, statements and cursors
//! as BEAM resources, with a per-connection statement cache. The NIF
//! functions are thin shells; the rules live in plain modules (`cache`,
//! `control`, `error`, `gate`, `handback`, `jsonb`, `panics`, `params`,
//! `slots`, `sql`) with their own tests.
//!
//! The NIF shells call the BEAM's `enif_*` API, which exists only inside a
//! running VM: a test binary that links them cannot even start. So `cargo
//! test` builds the plain modules alone, and the shells are tested from
//! ExUnit, where they run for real.

pub mod cache;
pub mod control;
pub mod engine;
pub mod error;
pub mod gate;
pub mod handback;
pub mod jsonb;
pub mod panics;
pub mod params;
pub mod runtime;
pub mod slots;
pub mod sql;

#[cfg(not(test))]
mod nif {
    pub mod authorizer;
    pub mod batch;
    pub mod changes;
    pub mod connection;
    pub mod cursor;
    pub mod database;
    pub mod exec;
    pub mod file_lock;
    pub mod json;
    pub mod sandbox;
    pub mod statement;
    pub mod stats;
    pub mod term;
    pub mod transaction;
    pub mod worker;

    /// The SQLite version libSQL bundles, for `EctoLibSql.Native.sqlite_version/0`.
    #[rustler::nif]
    fn sqlite_version() -> String {
        libsql::version().to_string()
    }

    rustler::init!("Elixir.EctoLibSql.Nif");
}
