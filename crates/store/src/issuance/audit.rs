//! The audit log and proofing failures.

use super::*;

impl Partition {
    /// Appends several entries to the audit log in one transaction (a resident-wide change
    /// audits every credential: one write, not one per credential waiting its turn).
    pub(crate) async fn audit_all(&self, entries: &[AuditEntry]) -> Result<(), StoreError> {
        if entries.is_empty() {
            return Ok(());
        }
        retrying("writing the audit log", || async {
            on_pool!(self, pool => {
                let mut tx = pool.begin_write().await.map_err(db("writing the audit log"))?;
                for entry in entries {
                    insert_audit!(tx, entry)?;
                }
                tx.commit().await.map_err(db("writing the audit log"))
            })
        })
        .await
    }

    /// The newest `limit` audit entries, newest first.
    pub(crate) async fn audit_log(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows: Vec<(i64, String, String, String, String, String)> =
            on_pool!(self, pool => sqlx::query_as(
            "SELECT at, actor, action, subject, outcome, detail FROM audit_log
             ORDER BY seq DESC LIMIT $1",
        )
        .bind(i64::from(limit))
        .fetch_all(pool)
        .await)
            .map_err(db("reading the audit log"))?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, action, subject, outcome, detail)| AuditEntry {
                at,
                actor,
                action,
                subject,
                outcome,
                detail,
            })
            .collect())
    }

    /// Records a failed proofing attempt under a pseudonymous key.
    pub(crate) async fn record_proofing_failure(
        &self,
        key: &str,
        at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, pool => sqlx::query("INSERT INTO proofing_failures (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(at)
            .execute(pool)
            .await
            .map(|_| ()))
        .map_err(db("recording a proofing failure"))
    }

    /// How many proofing failures `key` had since `since`.
    pub(crate) async fn proofing_failures_since(
        &self,
        key: &str,
        since: i64,
    ) -> Result<u64, StoreError> {
        let n: i64 = on_pool!(self, pool => sqlx::query_scalar(
            "SELECT count(*) FROM proofing_failures WHERE key = $1 AND at >= $2",
        )
        .bind(key)
        .bind(since)
        .fetch_one(pool)
        .await)
        .map_err(db("counting proofing failures"))?;
        Ok(count(n))
    }
}
