//! The Rust core of EctoLibSql: libSQL connections, statements and cursors
//! as BEAM resources, with a per-connection statement cache. The NIF
//! functions are thin shells; the rules live in plain modules (`cache`,
//! `error`, `params`, `sql`) with their own tests.

pub mod cache;
pub mod connection;
pub mod cursor;
pub mod database;
pub mod error;
pub mod exec;
pub mod params;
pub mod runtime;
pub mod sql;
pub mod statement;
pub mod term;

/// The SQLite version libSQL bundles, for `EctoLibSql.Native.sqlite_version/0`.
#[rustler::nif]
fn sqlite_version() -> String {
    libsql::version().to_string()
}

rustler::init!("Elixir.EctoLibSql.Nif");
