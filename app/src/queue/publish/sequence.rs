//! Numbers a batch's keyed deliveries per webhook and key (1, 2, 3, … in publish order), from
//! the `delivery_sequences` counters, with one upsert statement per chunk of pairs.
//!
//! On PostgreSQL the upsert locks each counter row until the publish commits, so two processes
//! publishing for the same webhook and key number their deliveries one after the other, and a
//! higher number is never committed before a lower one. Pairs are taken in sorted order, so two
//! publishes cannot deadlock on them.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, Set, Value};
use std::collections::BTreeMap;

use super::rows::Rows;
use crate::domain::WebhookId;
use crate::queue::sql::pow2_chunks;

pub(super) async fn assign(txn: &impl ConnectionTrait, rows: &mut Rows) -> Result<(), DbErr> {
    if rows.keyed.is_empty() {
        return Ok(());
    }
    // (webhook, key) -> the batch's deliveries of that pair, in publish order.
    let mut pairs: BTreeMap<(WebhookId, &str), Vec<usize>> = BTreeMap::new();
    for (idx, webhook, key) in &rows.keyed {
        pairs
            .entry((*webhook, key.as_str()))
            .or_default()
            .push(*idx);
    }
    let pairs: Vec<((WebhookId, &str), Vec<usize>)> = pairs.into_iter().collect();
    let backend = txn.get_database_backend();
    let mut numbered: Vec<(usize, i64)> = Vec::with_capacity(rows.keyed.len());
    for chunk in pow2_chunks(&pairs, 256) {
        let mut values: Vec<Value> = Vec::with_capacity(chunk.len() * 3);
        let mut tuples = Vec::with_capacity(chunk.len());
        for (n, ((webhook, key), idxs)) in chunk.iter().enumerate() {
            tuples.push(if backend == DbBackend::Postgres {
                format!(
                    "(${}::bigint, ${}::text, ${}::bigint)",
                    n * 3 + 1,
                    n * 3 + 2,
                    n * 3 + 3
                )
            } else {
                "(?, ?, ?)".to_string()
            });
            values.extend([(*webhook).into(), (*key).into(), (idxs.len() as i64).into()]);
        }
        let sql = format!(
            "INSERT INTO delivery_sequences (webhook_id, key, last) VALUES {} \
             ON CONFLICT (webhook_id, key) DO UPDATE SET last = delivery_sequences.last + excluded.last \
             RETURNING webhook_id, key, last",
            tuples.join(", ")
        );
        let mut last: BTreeMap<(WebhookId, String), i64> = BTreeMap::new();
        for row in txn
            .query_all(sea_orm::Statement::from_sql_and_values(
                backend, sql, values,
            ))
            .await?
        {
            last.insert(
                (row.try_get("", "webhook_id")?, row.try_get("", "key")?),
                row.try_get("", "last")?,
            );
        }
        for ((webhook, key), idxs) in chunk {
            let top = *last
                .get(&(*webhook, key.to_string()))
                .ok_or_else(|| DbErr::Custom("a sequence counter was not returned".into()))?;
            let first = top - idxs.len() as i64 + 1;
            numbered.extend(idxs.iter().enumerate().map(|(k, &i)| (i, first + k as i64)));
        }
    }
    for (i, seq) in numbered {
        rows.deliveries[i].sequence = Set(Some(seq));
    }
    Ok(())
}
