//! Raw SQL for the few statements SeaORM's builder cannot express (UPDATE … RETURNING with a
//! locking subquery), written once with `$n` placeholders.

use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

/// A statement for `backend`, from SQL written with PostgreSQL's `$n` placeholders (SQLite
/// takes the same numbers as `?n`).
pub fn stmt(backend: DbBackend, sql: &str, values: Vec<Value>) -> Statement {
    let sql = match backend {
        DbBackend::Sqlite => sql.replace('$', "?"),
        _ => sql.to_string(),
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// `$1,$2,…,$n`: the placeholders of an `IN (…)` list of `n` values.
pub fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// SQLite: makes the open transaction a writer now (a write statement that changes nothing),
/// before it reads. A deferred transaction that reads first and writes later cannot wait for
/// the write lock — SQLite answers `SQLITE_BUSY` at once to avoid a deadlock — and its read
/// snapshot may go stale meanwhile; as a writer from the start it waits its turn (busy
/// timeout) and reads the latest data. A no-op on PostgreSQL.
pub async fn write_lock_first(txn: &impl ConnectionTrait) -> Result<(), sea_orm::DbErr> {
    if txn.get_database_backend() == DbBackend::Sqlite {
        txn.execute_unprepared("DELETE FROM storage_probe WHERE id = -1")
            .await?;
    }
    Ok(())
}

/// Splits `items` into chunks whose lengths are powers of two (at most `max`), so that batch
/// statements come in a handful of shapes and their prepared forms are reused.
pub fn pow2_chunks<T>(items: &[T], max: usize) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = rest.len().min(max);
        let size = 1usize << (usize::BITS - 1 - n.leading_zeros());
        let (head, tail) = rest.split_at(size);
        rest = tail;
        Some(head)
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn chunks_are_powers_of_two_and_cover_everything() {
        let v: Vec<u32> = (0..300).collect();
        let sizes: Vec<usize> = super::pow2_chunks(&v, 256).map(<[u32]>::len).collect();
        assert_eq!(sizes, vec![256, 32, 8, 4]);
        assert_eq!(super::pow2_chunks(&v[..0], 256).count(), 0);
        assert_eq!(
            super::pow2_chunks(&v[..1], 256)
                .map(<[u32]>::len)
                .collect::<Vec<_>>(),
            vec![1]
        );
    }

    #[test]
    fn placeholders_number_from_one() {
        assert_eq!(super::placeholders(3), "$1,$2,$3");
        assert_eq!(super::placeholders(1), "$1");
    }
}
