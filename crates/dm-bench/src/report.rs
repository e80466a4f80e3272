//! The report: the reference script's JSON shape, plus fields of our own,
//! and its Markdown table.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::{StoreKind, Via, Workload, stats::percentile};

/// One phase.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Phase {
    /// `send`, `list_groups` or `list_messages`.
    pub phase: String,
    /// Operations.
    pub ops: usize,
    /// Operations per second.
    pub ops_per_s: f64,
    /// Median latency.
    pub p50_ms: f64,
    /// 99th percentile latency.
    pub p99_ms: f64,
    /// The client's CPU time per operation, the stream side's excluded.
    pub client_cpu_us_per_op: f64,
    /// The part of it spent in the kernel (ours only; the reference does not report it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_system_us_per_op: Option<f64>,
}

impl Phase {
    /// A phase's figures from its measurements.
    pub fn new(
        name: &str,
        ops: usize,
        wall: Duration,
        latencies_ms: &[f64],
        cpu: crate::cpu::Usage,
    ) -> Self {
        let per_op = |d: Duration| d.as_secs_f64() * 1e6 / ops as f64;
        Self {
            phase: name.into(),
            ops,
            ops_per_s: ops as f64 / wall.as_secs_f64(),
            p50_ms: percentile(latencies_ms, 50.0),
            p99_ms: percentile(latencies_ms, 99.0),
            client_cpu_us_per_op: per_op(cpu.total()),
            client_system_us_per_op: Some(per_op(cpu.system)),
        }
    }
}

/// The stream side.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StreamReport {
    /// Messages sent in the send phase.
    pub messages: usize,
    /// Those the stream handler applied before the wait ran out.
    pub propagated: usize,
    /// Median lag from a message's put to its rows being updated.
    pub lag_p50_ms: f64,
    /// 99th percentile of that lag.
    pub lag_p99_ms: f64,
    /// The stream thread's CPU per message record handled.
    pub handler_cpu_us_per_message: f64,
}

/// Capacity units per operation: billed by AWS's rules (`dm_store::billing`)
/// in `capacity_units_per_op`, as DynamoDB reported them in
/// `reported_capacity_units_per_op` (0 on the memory store, which reports
/// nothing; it bills the same as DynamoDB).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Capacity {
    /// Per message sent (the membership read and the put).
    pub send: f64,
    /// Per message record handled by the stream (reads and writes of the row update).
    pub stream_per_message: f64,
    /// Per message record, live delivery's lookups of each member's
    /// connections (the notifier's own repository); ours only, and only
    /// where live delivery is wired, as the bench wires it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub live_per_message: Option<f64>,
    /// Per conversation list page.
    pub list_groups: f64,
    /// Per message page (the membership read and the query).
    pub list_messages: f64,
    /// Per mark (the API's reads and the marker's write); ours only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mark_read: Option<f64>,
    /// The stream's units per mark (the recount and the rows' write); ours only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_per_mark: Option<f64>,
    /// Per edit (the API's read of the message and its write); ours only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit: Option<f64>,
    /// The stream's units per edit (the rows' write of the new preview).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_per_edit: Option<f64>,
    /// Per delete (the API's read of the message and the tombstone's write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete: Option<f64>,
    /// The stream's units per delete (the newest message left, a recount
    /// where it was unread, the rows' write).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_per_delete: Option<f64>,
}

/// What the data looks like at the end.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Correctness {
    /// Messages that should be stored.
    pub messages_expected: usize,
    /// Messages stored.
    pub messages_stored: usize,
    /// Conversation rows beyond one per member per conversation.
    #[serde(default)]
    pub extra_conversation_rows: usize,
    /// Members without a row for their conversation.
    #[serde(default)]
    pub missing_conversation_rows: usize,
    /// Rows not showing their conversation's newest message.
    #[serde(default)]
    pub stale_conversation_rows: usize,
    /// Rows whose unread count is not the other member's messages past the
    /// owner's marker (ours only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wrong_unread_counts: Option<usize>,
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// What ran.
    #[serde(rename = "impl")]
    pub implementation: String,
    /// On which store.
    pub store: StoreKind,
    /// Through the repository or the API.
    pub via: Via,
    /// The workload's size.
    pub workload: Workload,
    /// The phases.
    pub phases: Vec<Phase>,
    /// The stream.
    pub stream: StreamReport,
    /// Capacity units.
    pub capacity_units_per_op: Capacity,
    /// The same, as DynamoDB Local reported them (ours only, on DynamoDB):
    /// right for single calls, 2 units for any small transaction.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_capacity_units_per_op: Option<Capacity>,
    /// Correctness.
    pub correctness: Correctness,
    /// Live delivery, with every user online.
    pub delivery: Option<crate::delivery::DeliveryReport>,
    /// Conversations of 2, 10 and 100 members.
    pub groups: Option<crate::groups::GroupsReport>,
    /// Idle sockets held by one `dm-api`.
    pub idle_sockets: Option<crate::delivery::IdleSockets>,
}

/// The reference script's report, as far as it is compared.
#[derive(Debug, Clone, Deserialize)]
pub struct Reference {
    /// The phases.
    pub phases: Vec<Phase>,
    /// The stream.
    pub stream: StreamReport,
    /// Capacity units.
    pub capacity_units_per_op: Capacity,
    /// Correctness.
    pub correctness: Correctness,
}

fn ratio(reference: f64, ours: f64) -> String {
    if ours > 0.0 && reference > 0.0 {
        format!("{:.1}x", reference / ours)
    } else {
        "-".into()
    }
}

/// The Markdown table of a run, beside the reference's when given. Ratios
/// are reference / ours: above 1 means ours uses less (or waits less).
pub fn markdown(ours: &Report, reference: Option<&Reference>) -> String {
    let mut rows: Vec<(String, f64, Option<f64>, &str)> = Vec::new();
    for phase in &ours.phases {
        let theirs = reference.and_then(|r| r.phases.iter().find(|p| p.phase == phase.phase));
        let name = &phase.phase;
        rows.push((
            format!("{name}: ops/s"),
            phase.ops_per_s,
            theirs.map(|t| t.ops_per_s),
            "higher is better",
        ));
        rows.push((
            format!("{name}: p50 ms"),
            phase.p50_ms,
            theirs.map(|t| t.p50_ms),
            "",
        ));
        rows.push((
            format!("{name}: p99 ms"),
            phase.p99_ms,
            theirs.map(|t| t.p99_ms),
            "",
        ));
        rows.push((
            format!("{name}: client CPU µs/op"),
            phase.client_cpu_us_per_op,
            theirs.map(|t| t.client_cpu_us_per_op),
            "",
        ));
    }
    let s = &ours.stream;
    let rs = reference.map(|r| &r.stream);
    // Paused, the lag includes the pause: it measures the catching up, not the stream.
    let lag = if ours.workload.pause_stream {
        "stream (paused during send): lag"
    } else {
        "stream: lag"
    };
    rows.push((
        format!("{lag} p50 ms"),
        s.lag_p50_ms,
        rs.map(|r| r.lag_p50_ms),
        "",
    ));
    rows.push((
        format!("{lag} p99 ms"),
        s.lag_p99_ms,
        rs.map(|r| r.lag_p99_ms),
        "",
    ));
    rows.push((
        "stream: handler CPU µs/message".into(),
        s.handler_cpu_us_per_message,
        rs.map(|r| r.handler_cpu_us_per_message),
        "",
    ));
    let c = &ours.capacity_units_per_op;
    let rc = reference.map(|r| &r.capacity_units_per_op);
    rows.push((
        "capacity billed: send".into(),
        c.send,
        rc.map(|r| r.send),
        "",
    ));
    rows.push((
        "capacity billed: stream per message".into(),
        c.stream_per_message,
        rc.map(|r| r.stream_per_message),
        "",
    ));
    rows.push((
        "capacity billed: send + stream".into(),
        c.send + c.stream_per_message,
        rc.map(|r| r.send + r.stream_per_message),
        "",
    ));
    if let Some(live) = c.live_per_message {
        rows.push((
            "capacity billed: live delivery's connection lookups per message".into(),
            live,
            None,
            "",
        ));
        rows.push((
            "capacity billed: send + stream + live delivery".into(),
            c.send + c.stream_per_message + live,
            None,
            "",
        ));
    }
    // Beside the bill, what DynamoDB Local reported. The reference makes
    // single calls only, which DynamoDB Local reports as AWS bills them.
    if let Some(r) = &ours.reported_capacity_units_per_op {
        rows.push((
            "capacity reported by DynamoDB Local: send + stream".into(),
            r.send + r.stream_per_message,
            rc.map(|r| r.send + r.stream_per_message),
            "",
        ));
        for (name, api, stream) in [
            ("mark_read", r.mark_read, r.stream_per_mark),
            ("edit_message", r.edit, r.stream_per_edit),
            ("delete_message", r.delete, r.stream_per_delete),
        ] {
            if let (Some(api), Some(stream)) = (api, stream) {
                rows.push((
                    format!("capacity reported by DynamoDB Local: {name} + stream"),
                    api + stream,
                    None,
                    "",
                ));
            }
        }
    }
    rows.push((
        "capacity billed: list_groups".into(),
        c.list_groups,
        rc.map(|r| r.list_groups),
        "",
    ));
    rows.push((
        "capacity billed: list_messages".into(),
        c.list_messages,
        rc.map(|r| r.list_messages),
        "",
    ));
    if let Some(d) = &ours.delivery {
        rows.push((
            "live: send answer to frame p50 ms".into(),
            d.p50_ms,
            None,
            "",
        ));
        rows.push((
            "live: send answer to frame p99 ms".into(),
            d.p99_ms,
            None,
            "",
        ));
        rows.push((
            "live: frames delivered / sends".into(),
            d.delivered as f64 / d.sends.max(1) as f64,
            None,
            "",
        ));
        rows.push((
            "capacity billed: stream per message, everyone online".into(),
            d.stream_units_per_message,
            None,
            "",
        ));
    }
    if let Some(idle) = &ours.idle_sockets {
        rows.push((
            format!("live: dm-api RSS MB with {} idle sockets", idle.sockets),
            idle.rss_after_mb,
            None,
            "",
        ));
        rows.push((
            "live: dm-api RSS MB before them".into(),
            idle.rss_before_mb,
            None,
            "",
        ));
        rows.push((
            "live: KiB per idle socket".into(),
            idle.kib_per_socket,
            None,
            "",
        ));
    }
    if let (Some(mark), Some(stream)) = (c.mark_read, c.stream_per_mark) {
        rows.push(("capacity billed: mark_read".into(), mark, None, ""));
        rows.push(("capacity billed: stream per mark".into(), stream, None, ""));
        rows.push((
            "capacity billed: mark_read + stream".into(),
            mark + stream,
            None,
            "",
        ));
    }
    for (name, api, stream) in [
        ("edit_message", c.edit, c.stream_per_edit),
        ("delete_message", c.delete, c.stream_per_delete),
    ] {
        if let (Some(api), Some(stream)) = (api, stream) {
            rows.push((format!("capacity billed: {name}"), api, None, ""));
            rows.push((
                format!("capacity billed: stream per {name}"),
                stream,
                None,
                "",
            ));
            rows.push((
                format!("capacity billed: {name} + stream"),
                api + stream,
                None,
                "",
            ));
        }
    }
    for size in ours.groups.iter().flat_map(|g| &g.sizes) {
        rows.extend(group_rows(size));
    }
    let k = &ours.correctness;
    let rk = reference.map(|r| &r.correctness);
    rows.push((
        "correctness: messages expected".into(),
        k.messages_expected as f64,
        rk.map(|r| r.messages_expected as f64),
        "",
    ));
    rows.push((
        "correctness: messages stored".into(),
        k.messages_stored as f64,
        rk.map(|r| r.messages_stored as f64),
        "",
    ));
    rows.push((
        "correctness: extra conversation rows".into(),
        k.extra_conversation_rows as f64,
        rk.map(|r| r.extra_conversation_rows as f64),
        "",
    ));

    if let Some(wrong) = k.wrong_unread_counts {
        rows.push((
            "correctness: wrong unread counts".into(),
            wrong as f64,
            None,
            "",
        ));
    }

    let mut out = String::new();
    if reference.is_some() {
        out.push_str("| metric | ours | reference | reference / ours |\n|---|---:|---:|---:|\n");
    } else {
        out.push_str("| metric | ours |\n|---|---:|\n");
    }
    for (name, value, theirs, note) in rows {
        let higher_is_better = !note.is_empty();
        match theirs {
            Some(t) if reference.is_some() => {
                let r = if higher_is_better {
                    ratio(value, t)
                } else {
                    ratio(t, value)
                };
                out.push_str(&format!("| {name} | {value:.2} | {t:.2} | {r} |\n"));
            }
            _ => out.push_str(&format!("| {name} | {value:.2} |\n")),
        }
    }
    out
}

/// The rows of one size of the group phase.
fn group_rows(size: &crate::groups::GroupSize) -> Vec<(String, f64, Option<f64>, &'static str)> {
    let n = size.members;
    let mut rows = vec![
        (
            format!("{n} members: capacity billed per message (send + stream)"),
            size.per_message.api_and_stream(),
            None,
            "",
        ),
        (
            format!("{n} members: the arithmetic's 1 + 3N"),
            size.arithmetic,
            None,
            "",
        ),
        (
            format!("{n} members: send per message"),
            size.per_message.api,
            None,
            "",
        ),
        (
            format!("{n} members: stream per message"),
            size.per_message.stream,
            None,
            "",
        ),
        (
            format!("{n} members: live delivery's lookups per message"),
            size.per_message.live,
            None,
            "",
        ),
        (
            format!("{n} members: send answer to frame p50 ms"),
            size.frame_p50_ms,
            None,
            "",
        ),
        (
            format!("{n} members: send answer to frame p99 ms"),
            size.frame_p99_ms,
            None,
            "",
        ),
        (
            format!("{n} members: frames delivered / due"),
            size.frames_delivered as f64 / size.frames_expected.max(1) as f64,
            None,
            "",
        ),
        (
            format!("{n} members: capacity billed per inbox page"),
            size.inbox_page,
            None,
            "",
        ),
    ];
    if let Some(reported) = size.reported_per_message {
        rows.push((
            format!("{n} members: capacity reported by DynamoDB Local per message"),
            reported,
            None,
            "",
        ));
    }
    if let Some(listed) = &size.listed {
        rows.extend([
            (
                format!("{n} members: group made, answer to every member's list p50 ms"),
                listed.p50_ms,
                None,
                "",
            ),
            (
                format!("{n} members: group made, answer to every member's list p99 ms"),
                listed.p99_ms,
                None,
                "",
            ),
            (
                format!("{n} members: group made, in the lists / due"),
                listed.arrived as f64 / listed.expected.max(1) as f64,
                None,
                "",
            ),
        ]);
    }
    for (what, units) in [
        ("group made", size.create),
        ("member removed", size.remove),
        ("member added", size.add),
    ] {
        if let Some(units) = units {
            rows.push((
                format!("{n} members: capacity billed per {what} (API + stream)"),
                units.api_and_stream(),
                None,
                "",
            ));
        }
    }
    rows.push((
        format!("{n} members: wrong rows"),
        size.wrong_rows as f64,
        None,
        "",
    ));
    rows
}
