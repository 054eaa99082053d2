//! Full issuance flows per second as the database grows: counter enrolment → token → nonce
//! → credential (an mdoc batch of 3), through the authority's two routers, on a SQLite file
//! (the embedded configuration `eid up` runs), at 1 k, 10 k and 100 k credentials already
//! issued.
//!
//! `cargo bench -p eid-authority --bench issuance` (seconds per level: `EID_BENCH_SECONDS`,
//! default 5). The earlier credentials are written straight into the tables as issuance
//! leaves them — a credential row, its instances at distinct indices of shards filled to
//! the ¾ threshold, a redeemed offer, a spent access token and two audit entries each — so
//! that 100 k take seconds rather than the hour the flows would.

#![expect(
    clippy::unwrap_used,
    clippy::print_stdout,
    clippy::disallowed_methods,
    reason = "a benchmark program: a failure ends it, it times with Instant, its figures go to stdout"
)]

#[path = "../tests/service/common.rs"]
#[expect(
    dead_code,
    reason = "the tests' world has more than the benchmark uses"
)]
mod common;

use std::time::{Duration, Instant};

use common::{Phone, World, enrol, obtain};
use eid_authority::credential::CONFIG_MDOC;

/// Instances a shard holds at its ¾ threshold (2^17 entries).
const SHARD_USE: u64 = (1 << 17) * 3 / 4;

/// The written credentials' shards are numbered from here, apart from the shards the
/// measured flows allocate in (random indices there would collide with written ones).
const FILL_SHARDS: u64 = 1_000;

fn main() {
    let seconds: u64 = std::env::var("EID_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let dir = std::env::temp_dir().join(format!("eid-bench-issuance-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("authority.db");
        let url = format!("sqlite:{}", path.display());
        let world = World::new(&url).await;
        let batch = u64::from(world.authority.settings().batch_size);
        let filler = sqlx::SqlitePool::connect(&url).await.unwrap();
        let mut held = 0u64;
        let mut figures = Vec::new();
        for level in [1_000u64, 10_000, 100_000] {
            fill(&filler, held, level, batch).await;
            held = level;
            let started = Instant::now();
            let mut flows = 0u64;
            while started.elapsed() < Duration::from_secs(seconds) {
                let card =
                    &world.residents[usize::try_from(flows).unwrap() % world.residents.len()];
                let phone = Phone::new("wechat", &format!("bench-{level}-{flows}"), 3);
                let (offer, tx_code) = enrol(&world, card).await;
                obtain(&world, &offer, &tx_code, &phone, &[CONFIG_MDOC]).await;
                flows += 1;
            }
            let rate = flows as f64 / started.elapsed().as_secs_f64();
            println!("{level:>7} credentials held: {rate:6.1} flows/s ({flows} flows)");
            figures.push(rate);
        }
        println!("ratio 100 k / 1 k: {:.2}", figures[2] / figures[0]);
        filler.close().await;
        world.authority.store().close().await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// Writes credentials `from..to` as issuance leaves them, in one transaction.
async fn fill(pool: &sqlx::SqlitePool, from: u64, to: u64, batch: u64) {
    let mut tx = pool.begin().await.unwrap();
    let statements = [
        // The flows' own shard exists first, so they never allocate among written entries.
        "INSERT INTO status_shards (shard, size) VALUES (0, 131072) ON CONFLICT DO NOTHING"
            .to_owned(),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {to} - 1)
             INSERT INTO credentials (id, id_number, provider, wallet_instance, configuration, issued_at, expires_at)
             SELECT 'fill-' || i, 'fill-' || (i % 50000), 'wechat', 'fill-phone-' || i, 'resident_identity_mdoc', 0, 4102444800 FROM n"
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last} - 1)
             INSERT INTO status_shards (shard, size, allocated)
             SELECT {FILL_SHARDS} + i / {SHARD_USE}, 131072, 0 FROM n WHERE i % {SHARD_USE} = 0 OR i = {first}
             ON CONFLICT DO NOTHING",
            first = from * batch,
            last = to * batch,
        ),
        // Distinct indices within a shard: 40503 is odd, so j * 40503 mod 2^17 is a
        // permutation.
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {last} - 1)
             INSERT INTO credential_instances (shard, idx, credential)
             SELECT {FILL_SHARDS} + i / {SHARD_USE}, ((i % {SHARD_USE}) * 40503) % 131072, 'fill-' || (i / {batch}) FROM n",
            first = from * batch,
            last = to * batch,
        ),
        "UPDATE status_shards SET allocated =
           (SELECT count(*) FROM credential_instances c WHERE c.shard = status_shards.shard)"
            .to_owned(),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {to} - 1)
             INSERT INTO offers (code_hash, id_number, configurations, expires_at, redeemed)
             SELECT 'fill-' || i, 'fill-' || (i % 50000), '[\"resident_identity_mdoc\"]', 0, 1 FROM n"
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {to} - 1)
             INSERT INTO access_tokens (token_hash, id_number, configurations, expires_at)
             SELECT 'fill-' || i, 'fill-' || (i % 50000), '[\"resident_identity_mdoc\"]', 0 FROM n"
        ),
        format!(
            "WITH RECURSIVE n(i) AS (SELECT 2 * {from} UNION ALL SELECT i + 1 FROM n WHERE i < 2 * {to} - 1)
             INSERT INTO audit_log (at, actor, action, subject, outcome, detail)
             SELECT 0, 'admin', 'issue', 'credential:fill-' || (i / 2), 'ok', '' FROM n"
        ),
    ];
    for statement in statements {
        sqlx::query(sqlx::AssertSqlSafe(statement))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}
