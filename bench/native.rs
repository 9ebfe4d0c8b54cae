//! Criterion benches for the native crate: W7 of bench/README.md
//! (the native floor, plain Rust on the `libsql` crate) and the crate's own
//! pure hot paths (statement cache policy, SQL classification).
//!
//!     cargo bench -p ecto_libsql --bench native
//!
//! Sample sizes and times are tuned so the whole run stays near a minute
//! and a half on a small machine.

#[path = "workloads.rs"]
mod workloads;

// The crate's pure modules, compiled in by path rather than linked through
// `ecto_libsql`: linking the crate into an executable drags in its
// `nif_init` and with it every `enif_*` symbol, which only a running BEAM
// provides. Both files are free of `crate::` references; the allow covers
// their unit-test modules, which `cargo clippy --all-targets` compiles too.
#[allow(dead_code, unused_imports)]
#[path = "../native/ecto_libsql/src/cache.rs"]
mod cache;
#[allow(dead_code, unused_imports)]
#[path = "../native/ecto_libsql/src/sql.rs"]
mod sql;

use std::hint::black_box;
use std::time::{Duration, Instant};

use cache::StatementCache;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use workloads::*;

fn point_reads(c: &mut Criterion) {
    let fixture = Fixture::seeded("point", POINT_ROWS);
    let mut group = c.benchmark_group("W7");
    group
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .throughput(Throughput::Elements(1));

    let mut ids = Ids::new(0x5eed);
    group.bench_function("W1 point read, conn.query", |b| {
        b.iter(|| point_read_query(&fixture.conn, ids.next_id(POINT_ROWS)))
    });

    let stmt = prepare(&fixture.conn, POINT_READ);
    group.bench_function("W1 point read, prepared", |b| {
        b.iter(|| point_read_prepared(&stmt, ids.next_id(POINT_ROWS), 6))
    });

    let stmt = prepare(&fixture.conn, DRIVER_READ);
    group.bench_function("W6 prepared 3-column read", |b| {
        b.iter(|| point_read_prepared(&stmt, ids.next_id(POINT_ROWS), 3))
    });
    group.finish();
}

fn bulk_insert(c: &mut Criterion) {
    let fixture = Fixture::new("bulk");
    let insert = BulkInsert::new(&fixture.conn);
    let mut group = c.benchmark_group("W7");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(8))
        .throughput(Throughput::Elements(BULK_ROWS as u64));
    // Each iteration is all of W3 on an emptied table; the DELETE is not
    // timed.
    group.bench_function("W3 bulk insert 100k rows, 1k-row chunks", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                fixture.truncate();
                let start = Instant::now();
                insert.all(BULK_ROWS);
                total += start.elapsed();
            }
            total
        })
    });
    group.finish();
}

fn full_scan_bench(c: &mut Criterion) {
    let fixture = Fixture::seeded("scan", BULK_ROWS);
    let mut group = c.benchmark_group("W7");
    group
        .sample_size(10)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Elements(BULK_ROWS as u64));
    group.bench_function("W4 full scan 100k rows", |b| {
        b.iter(|| assert_eq!(full_scan(&fixture.conn), BULK_ROWS))
    });
    group.finish();
}

fn statement_cache(c: &mut Criterion) {
    let sqls: Vec<String> = (0..256)
        .map(|i| format!("SELECT * FROM t{i} WHERE id = ?"))
        .collect();
    let mut group = c.benchmark_group("cache");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));

    let mut cache = StatementCache::new(256);
    for (i, sql) in sqls.iter().enumerate() {
        let _ = cache.insert(sql, i);
    }
    let mut n = 0;
    group.bench_function("get hit (256 entries)", |b| {
        b.iter(|| {
            n = (n + 1) % sqls.len();
            black_box(cache.get(&sqls[n]).copied())
        })
    });
    group.bench_function("get miss", |b| {
        b.iter(|| black_box(cache.get("SELECT 1 FROM nowhere").copied()))
    });
    group.bench_function("insert into full cache (evicts LRU)", |b| {
        b.iter_batched_ref(
            || {
                let mut full = StatementCache::new(256);
                for (i, sql) in sqls.iter().enumerate() {
                    let _ = full.insert(sql, i);
                }
                full
            },
            |full| black_box(full.insert("SELECT 'new'", 0).is_ok()),
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn classify(c: &mut Criterion) {
    let insert = insert_sql(CHUNK);
    let cases = [
        ("select", DRIVER_READ),
        ("insert 6000 params", insert.as_str()),
        (
            "with cte + comments",
            "-- a comment\nWITH recent AS (SELECT id FROM posts /* ok */ WHERE views > 10) \
             UPDATE posts SET views = views + 1 WHERE id IN (SELECT id FROM recent)",
        ),
    ];
    let mut group = c.benchmark_group("sql::command");
    group
        .sample_size(50)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1));
    for (name, text) in cases {
        group.bench_function(name, |b| {
            b.iter(|| black_box(sql::command(black_box(text))))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    point_reads,
    bulk_insert,
    full_scan_bench,
    statement_cache,
    classify
);
criterion_main!(benches);
