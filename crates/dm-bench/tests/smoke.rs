//! The workload, small, on both stores: every report field present, and no
//! correctness violation. (Figures come from `cargo xtask bench`, not tests.)

use dm_bench::{Backend, Via, Workload, backend, report::markdown};

fn small() -> Workload {
    Workload {
        users: 12,
        groups: 20,
        seed_messages: 3,
        ops: 60,
        concurrency: 4,
        pause_stream: false,
        // 100 is above the users: left out.
        group_sizes: vec![2, 10, 100],
        group_messages: 6,
    }
}

async fn check(backend: Backend, via: Via) -> dm_bench::report::Report {
    check_workload(backend, via, &small()).await
}

async fn check_workload(
    backend: Backend,
    via: Via,
    workload: &Workload,
) -> dm_bench::report::Report {
    let report = dm_bench::run(&backend, via, workload).await.unwrap();
    let json = serde_json::to_value(&report).unwrap();
    for phase in json["phases"].as_array().unwrap() {
        for field in [
            "phase",
            "ops",
            "ops_per_s",
            "p50_ms",
            "p99_ms",
            "client_cpu_us_per_op",
        ] {
            assert!(!phase[field].is_null(), "{field}");
        }
    }
    let names: Vec<&str> = json["phases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "send",
            "list_groups",
            "list_messages",
            "mark_read",
            "edit_message",
            "delete_message"
        ]
    );
    for field in [
        "messages",
        "propagated",
        "lag_p50_ms",
        "lag_p99_ms",
        "handler_cpu_us_per_message",
    ] {
        assert!(!json["stream"][field].is_null(), "stream.{field}");
    }
    for field in ["send", "stream_per_message", "list_groups", "list_messages"] {
        assert!(
            !json["capacity_units_per_op"][field].is_null(),
            "capacity_units_per_op.{field}"
        );
    }
    let c = &report.correctness;
    assert_eq!(c.messages_stored, c.messages_expected);
    assert_eq!(
        (
            c.extra_conversation_rows,
            c.missing_conversation_rows,
            c.stale_conversation_rows,
            c.wrong_unread_counts
        ),
        (0, 0, 0, Some(0))
    );
    assert_eq!(
        report.stream.propagated, report.stream.messages,
        "every message reached its rows"
    );
    // Everyone online: each send's frame reached the other member's socket.
    let delivery = report.delivery.as_ref().expect("a delivery figure");
    assert_eq!(delivery.sockets, workload.users);
    assert_eq!(delivery.sends, workload.ops);
    assert_eq!(delivery.delivered, delivery.sends, "{delivery:?}");
    assert!(delivery.p99_ms >= delivery.p50_ms, "{delivery:?}");
    // The group phase: each size up to the users, every frame at every
    // other member, every row exact after a removal and an add back.
    let groups = report.groups.as_ref().expect("a group phase");
    let sizes: Vec<usize> = groups.sizes.iter().map(|s| s.members).collect();
    assert_eq!(sizes, [2, 10]);
    for size in &groups.sizes {
        assert_eq!(size.messages, workload.group_messages);
        assert_eq!(
            size.frames_expected,
            size.messages * (size.members - 1),
            "{size:?}"
        );
        assert_eq!(size.frames_delivered, size.frames_expected, "{size:?}");
        assert_eq!(size.wrong_rows, 0, "{size:?}");
        assert_eq!(size.arithmetic, 1.0 + 3.0 * size.members as f64);
        assert_eq!(
            (
                size.create.is_some(),
                size.remove.is_some(),
                size.add.is_some()
            ),
            (size.members > 2, size.members > 2, size.members > 2),
            "{size:?}"
        );
        // A group made is in every member's list, each told by a frame.
        match &size.listed {
            Some(listed) => {
                assert_eq!(listed.expected, size.groups * size.members, "{size:?}");
                assert_eq!(listed.arrived, listed.expected, "{size:?}");
                assert!(listed.p99_ms >= listed.p50_ms, "{size:?}");
            }
            None => assert_eq!(size.members, 2, "{size:?}"),
        }
    }
    let table = markdown(&report, None);
    assert!(
        table.contains("| 10 members: send answer to frame p99 ms |"),
        "{table}"
    );
    assert!(
        table.contains("| 10 members: group made, answer to every member's list p99 ms |"),
        "{table}"
    );
    assert!(table.contains("| send: ops/s |"));
    assert!(
        table.contains("| live: send answer to frame p99 ms |"),
        "{table}"
    );
    report
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_direct() {
    let report = check(Backend::Memory, Via::Direct).await;
    assert_eq!(
        report.capacity_units_per_op.send, 0.0,
        "no capacity units in memory"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_via_api() {
    let report = check(Backend::Memory, Via::Api).await;
    assert_eq!(report.phases.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_direct() {
    let endpoint = tokio::task::spawn_blocking(dm_local::shared).await.unwrap();
    let backend = backend(dm_bench::StoreKind::Dynamodb, Some(endpoint.to_owned())).unwrap();
    let report = check(backend, Via::Direct).await;
    assert!(
        report.capacity_units_per_op.send > 0.0,
        "capacity is measured on DynamoDB"
    );
    assert!(report.capacity_units_per_op.stream_per_message > 0.0);
    assert!(report.delivery.as_ref().unwrap().stream_units_per_message > 0.0);
    // A group message is billed each member's row: more than a pair's, and
    // at most the arithmetic's 1 + 3N plus the exact membership read and,
    // where the handler forgot a row (its memory keeps one a minute, and a
    // loaded machine can take longer than that), a read of it per member.
    let sizes = &report.groups.as_ref().unwrap().sizes;
    let ten = sizes.iter().find(|s| s.members == 10).unwrap();
    let two = sizes.iter().find(|s| s.members == 2).unwrap();
    assert!(
        ten.per_message.api_and_stream() > two.per_message.api_and_stream(),
        "{sizes:?}"
    );
    assert!(
        ten.per_message.api_and_stream() <= ten.arithmetic + 1.0 + ten.members as f64,
        "{ten:?}"
    );
    assert!(ten.add.unwrap().stream > 0.0 && ten.remove.unwrap().api > 0.0);
    let c = &report.capacity_units_per_op;
    assert!(
        c.edit.unwrap() > 0.0
            && c.stream_per_edit.unwrap() > 0.0
            && c.delete.unwrap() > 0.0
            && c.stream_per_delete.unwrap() > 0.0,
        "{c:?}"
    );
    assert!(
        c.mark_read.unwrap() > 0.0 && c.stream_per_mark.unwrap() > 0.0,
        "{c:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_with_the_stream_paused_during_sends() {
    let endpoint = tokio::task::spawn_blocking(dm_local::shared).await.unwrap();
    let backend = backend(dm_bench::StoreKind::Dynamodb, Some(endpoint.to_owned())).unwrap();
    let workload = Workload {
        pause_stream: true,
        ..small()
    };
    // check_workload asserts that every message still reached its rows.
    let report = check_workload(backend, Via::Direct, &workload).await;
    // Resumed from its checkpoint: the stream side read each record once, so
    // its units per message are a transaction's, not the seed's replayed.
    assert!(
        report.capacity_units_per_op.stream_per_message > 0.0
            && report.capacity_units_per_op.stream_per_message < 10.0,
        "{:?}",
        report.capacity_units_per_op
    );
    assert!(serde_json::to_value(&report).unwrap()["workload"]["pause_stream"] == true);
}

#[tokio::test]
async fn pausing_the_stream_in_memory_is_refused() {
    let workload = Workload {
        pause_stream: true,
        ..small()
    };
    let err = dm_bench::run(&Backend::Memory, Via::Direct, &workload)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("needs DynamoDB"), "{err}");
}
