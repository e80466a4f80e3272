//! The property test: runs of sends, marks, edits and deletes, their records
//! shuffled, duplicated, replayed and applied by one or two handlers.

use super::{world::*, *};

/// What one step of a run does.
#[derive(Debug, Clone, Copy)]
enum Op {
    Send,
    Mark,
    Edit,
    Delete,
}

fn op_strategy() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => Just(Op::Send),
        2 => Just(Op::Mark),
        1 => Just(Op::Edit),
        1 => Just(Op::Delete),
    ]
}

/// A sequence of sends, marks, edits and deletes, and how the stream
/// delivers the records.
#[derive(Debug, Clone)]
struct Run {
    /// (conversation, member, what, milliseconds or which message).
    ops: Vec<(usize, usize, Op, i64)>,
    /// A permutation (with duplicates) of the records, by index modulo their number.
    order: Vec<usize>,
    batch: usize,
    /// A second handler at once, taking the records backward.
    concurrent: bool,
}

fn run_strategy() -> impl Strategy<Value = Run> {
    (
        prop::collection::vec((0..2usize, 0..2usize, op_strategy(), 0..40i64), 1..24),
        prop::collection::vec(0..1000usize, 0..40),
        1..7usize,
        prop::bool::ANY,
    )
        .prop_map(|(ops, order, batch, concurrent)| Run {
            ops,
            order,
            batch,
            concurrent,
        })
}

fn check_run(backend: Backend, run: &Run) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let repo = backend.repo().await;
        let mut world = World::new(&repo, 2).await;
        for &(g, who, op, n) in &run.ops {
            match op {
                Op::Send => world.send(&repo, g, who, n).await,
                Op::Mark => world.mark(&repo, g, who, n as usize).await,
                Op::Edit => world.edit(&repo, g, n as usize, n).await,
                Op::Delete => world.delete(&repo, g, n as usize).await,
            }
        }
        let records = world.records();
        // Every record once, shuffled by the run's order, then duplicates.
        let mut delivered: Vec<ChangeEvent> = Vec::new();
        let mut left: Vec<usize> = (0..records.len()).collect();
        for &k in &run.order {
            if !left.is_empty() {
                let at = k % left.len();
                delivered.push(records[left.remove(at)].clone());
            }
            delivered.push(records[k % records.len()].clone());
        }
        delivered.extend(left.into_iter().map(|i| records[i].clone()));
        // One handler in batches; or two at once, one forward, one backward.
        let (one, two) = (handler(&repo), handler(&repo));
        let forward = delivered.clone();
        let backward: Vec<ChangeEvent> = delivered.iter().rev().cloned().collect();
        let batch = run.batch;
        let mut tasks = vec![tokio::spawn(async move {
            for chunk in forward.chunks(batch) {
                assert_eq!(one.handle(chunk).await.failed_at, None);
            }
        })];
        if run.concurrent {
            tasks.push(tokio::spawn(async move {
                for chunk in backward.chunks(batch + 1) {
                    assert_eq!(two.handle(chunk).await.failed_at, None);
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        world.assert_exact(&repo).await;
        // Replaying everything changes nothing.
        let outcome = handler(&repo).handle(&records).await;
        assert_eq!(
            (outcome.moved, outcome.counted),
            (0, 0),
            "a replay changes nothing"
        );
        world.assert_exact(&repo).await;
    });
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]
    #[test]
    fn unread_counts_are_exact_in_memory(run in run_strategy()) {
        check_run(Backend::Memory, &run);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 8, ..ProptestConfig::default() })]
    #[test]
    fn unread_counts_are_exact_on_dynamodb(run in run_strategy()) {
        check_run(Backend::DynamoDbLocal, &run);
    }
}
