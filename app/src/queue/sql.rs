//! Raw SQL for the few statements SeaORM's builder cannot express (UPDATE … RETURNING with a
//! locking subquery), written once with `$n` placeholders.

use sea_orm::{DbBackend, Statement, Value};

/// A statement for `backend`, from SQL written with PostgreSQL's `$n` placeholders (SQLite
/// takes the same numbers as `?n`).
pub fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}
