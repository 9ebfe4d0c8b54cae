//! An authorizer for untrusted SQL: SQLite asks it about every action a
//! statement takes while the statement is prepared, and a denied action
//! makes the statement fail with SQLITE_AUTH (`:auth`, extended code 23).
//! Setting or removing it expires the connection's prepared statements, so
//! cached ones are checked again.

use std::collections::HashSet;
use std::sync::Arc;

use rustler::{Env, NifMap, ResourceArc, Term};

use crate::nif::changes;
use crate::nif::connection::ConnResource;
use crate::nif::worker::{handed_over, submit_ok};

/// What `EctoLibSql.Native.authorize/2` passes down: what to deny.
#[derive(NifMap)]
pub struct Rules {
    /// ATTACH and DETACH.
    attach: bool,
    /// Schema changes: CREATE, DROP, ALTER of tables, indexes, views,
    /// triggers and virtual tables; ANALYZE and REINDEX.
    ddl: bool,
    /// PRAGMA statements that set a value.
    pragma_writes: bool,
    /// INSERT, UPDATE and DELETE.
    writes: bool,
    /// Tables that may be neither read nor written.
    tables: Vec<String>,
}

struct Policy {
    rules: Rules,
    tables: HashSet<String>,
}

/// This library's own objects (change capture's TEMP table and triggers)
/// stay usable whatever the rules. (What a trigger's body does is checked
/// on its own, each time it runs.)
fn own(name: &str) -> bool {
    name == changes::TABLE
        || ["insert", "update", "delete"]
            .iter()
            .any(|op| name.starts_with(&format!("ecto_libsql_{op}_")))
}

impl Policy {
    fn denies(&self, action: &libsql::AuthAction) -> bool {
        use libsql::AuthAction as A;
        let r = &self.rules;
        let table = |name: &str| self.tables.contains(name);
        match *action {
            A::Attach { .. } | A::Detach { .. } => r.attach,
            A::CreateIndex { table_name, .. }
            | A::CreateTable { table_name }
            | A::CreateTrigger { table_name, .. }
            | A::DropIndex { table_name, .. }
            | A::DropTable { table_name }
            | A::DropTrigger { table_name, .. }
            | A::AlterTable { table_name, .. }
            | A::CreateVtable { table_name, .. }
            | A::DropVtable { table_name, .. }
            | A::Analyze { table_name } => r.ddl || table(table_name),
            A::CreateView { .. } | A::DropView { .. } | A::Reindex { .. } => r.ddl,
            A::CreateTempTrigger {
                trigger_name,
                table_name,
            }
            | A::DropTempTrigger {
                trigger_name,
                table_name,
            } => !own(trigger_name) && (r.ddl || table(table_name)),
            A::CreateTempIndex { table_name, .. }
            | A::CreateTempTable { table_name }
            | A::DropTempIndex { table_name, .. }
            | A::DropTempTable { table_name } => !own(table_name) && (r.ddl || table(table_name)),
            A::CreateTempView { .. } | A::DropTempView { .. } => r.ddl,
            A::Pragma { pragma_value, .. } => r.pragma_writes && pragma_value.is_some(),
            A::Insert { table_name } | A::Delete { table_name } | A::Update { table_name, .. } => {
                !own(table_name) && (r.writes || table(table_name))
            }
            A::Read { table_name, .. } => table(table_name),
            _ => false,
        }
    }
}

/// Sets the connection's authorizer (`nil` rules remove it).
#[rustler::nif]
fn set_authorizer<'a>(
    env: Env<'a>,
    tag: Term<'a>,
    conn: ResourceArc<ConnResource>,
    rules: Option<Rules>,
) -> Term<'a> {
    let seq = submit_ok(&conn.worker, env, tag, move |inner, _ctx| {
        // The hook is made here, on the connection's own thread: libsql's
        // hook type is not Send.
        let hook: Option<libsql::AuthHook> = rules.map(|rules| {
            let tables = rules.tables.iter().cloned().collect();
            let policy = Policy { rules, tables };
            Arc::new(move |ctx: &libsql::AuthContext| {
                if policy.denies(&ctx.action) {
                    libsql::Authorization::Deny
                } else {
                    libsql::Authorization::Allow
                }
            }) as libsql::AuthHook
        });
        inner.conn.libsql("authorizers")?.authorizer(hook)?;
        Ok(())
    });
    handed_over(env, seq)
}
