//! W7, the native floor of the workloads in bench/README.md, as machine-readable
//! lines for `bench/run.exs`:
//!
//!     W7 <case> <median µs/op> <best µs/op>
//!
//! For W3 and W4 an "op" is one row. Each case is warmed up once, then run
//! `REPS` times (default 5, or the first argument).
//!
//!     cargo run --release --example floor [-- REPS]

#[path = "../../../bench/workloads.rs"]
mod workloads;

use std::time::Instant;

use workloads::*;

/// W1 and W6 calls per repetition, as bench/README.md asks of W1 and W6.
const W1_CALLS: i64 = 20_000;
const W6_CALLS: i64 = 50_000;

fn main() {
    let reps: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5);

    let point = Fixture::seeded("point", POINT_ROWS);
    let mut ids = Ids::new(0x5eed);

    report("W1_query", reps, W1_CALLS, || {
        for _ in 0..W1_CALLS {
            std::hint::black_box(point_read_query(&point.conn, ids.next_id(POINT_ROWS)));
        }
    });

    let stmt = prepare(&point.conn, POINT_READ);
    report("W1_prepared", reps, W1_CALLS, || {
        for _ in 0..W1_CALLS {
            std::hint::black_box(point_read_prepared(&stmt, ids.next_id(POINT_ROWS), 6));
        }
    });

    let stmt = prepare(&point.conn, DRIVER_READ);
    report("W6", reps, W6_CALLS, || {
        for _ in 0..W6_CALLS {
            std::hint::black_box(point_read_prepared(&stmt, ids.next_id(POINT_ROWS), 3));
        }
    });
    drop(stmt);
    drop(point);

    let bulk = Fixture::new("bulk");
    let insert = BulkInsert::new(&bulk.conn);
    report_with_setup(
        "W3",
        reps,
        BULK_ROWS,
        || bulk.truncate(),
        || insert.all(BULK_ROWS),
    );

    report("W4", reps, BULK_ROWS, || {
        assert_eq!(full_scan(&bulk.conn), BULK_ROWS);
    });
}

fn report(name: &str, reps: usize, ops: i64, mut run: impl FnMut()) {
    report_with_setup(name, reps, ops, || {}, &mut run)
}

/// Runs `setup` (untimed) and `run` (timed) once to warm up, then `reps`
/// times, and prints the median and best µs per op.
fn report_with_setup(
    name: &str,
    reps: usize,
    ops: i64,
    mut setup: impl FnMut(),
    mut run: impl FnMut(),
) {
    setup();
    run();
    let mut times: Vec<f64> = (0..reps.max(1))
        .map(|_| {
            setup();
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64() * 1e6 / ops as f64
        })
        .collect();
    times.sort_by(|a, b| a.total_cmp(b));
    println!("W7 {name} {:.4} {:.4}", times[times.len() / 2], times[0]);
}
