//! The group phase: conversations of each size in
//! [`Workload::group_sizes`] (2: the workload's one-to-one conversations;
//! more: named groups made through the API), every user online.
//!
//! Per size it measures, billed and reported:
//! - a message: the send at the API, the stream's row update, and live
//!   delivery's connection lookups, against the arithmetic's `1 + 3N`;
//! - its frame: from the send's answer to the `message` frame at every other
//!   member's socket. Messages go one at a time, each once the last one's
//!   frames arrived, as people write in a group: this times one message's
//!   way through the stream with nothing queued before it, and bills each
//!   message alone (a batch holding two messages of one conversation writes
//!   its rows once, so a busier group costs less per message);
//! - a member's inbox page (their first 20 rows, the group's among them);
//! - making a group, removing a member and adding them back (named groups):
//!   the API's units and the stream's; and how soon a group made is in
//!   every member's list (from the answer to its row's `conversation` frame
//!   at each member's socket), which the making's bill waits for.
//!
//! At the end every member's row must show the group's newest message with
//! an exact unread count: the messages of the others, none of them read, and
//! nothing for a member added back after them.

use std::time::{Duration, Instant};

use dm_domain::{GroupId, User, UserId};
use dm_store::{PageRequest, Repository, capacity::Consumed};
use rand::{Rng, SeedableRng, rngs::SmallRng};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{
    client::Client,
    delivery::{Server, Sockets},
    phases::{Meter, per_op, wait_idle},
    seed::Conversation,
    stats::percentile,
};

/// Billed units of one kind of operation: the API's, the stream's row
/// update, live delivery's lookups.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Units {
    /// At the API.
    pub api: f64,
    /// The stream handler's row update.
    pub stream: f64,
    /// Live delivery's lookups of each member's connections.
    pub live: f64,
}

impl Units {
    /// The API's and the stream's: what the arithmetic counts.
    pub fn api_and_stream(&self) -> f64 {
        self.api + self.stream
    }
}

/// One size of conversation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupSize {
    /// Members of each conversation.
    pub members: usize,
    /// Conversations of this size.
    pub groups: usize,
    /// Messages sent, one at a time.
    pub messages: usize,
    /// Billed per message.
    pub per_message: Units,
    /// Per message, API and stream, as DynamoDB Local reported them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reported_per_message: Option<f64>,
    /// What `docs/access-patterns.md` counts for a message: `1 + 3N`.
    pub arithmetic: f64,
    /// Frames due: each message at each other member.
    pub frames_expected: usize,
    /// Frames that came within the wait.
    pub frames_delivered: usize,
    /// From the send's answer to the frame at another member: median.
    pub frame_p50_ms: f64,
    /// 99th percentile.
    pub frame_p99_ms: f64,
    /// The slowest.
    pub frame_max_ms: f64,
    /// Billed per inbox page (a member's first 20 rows).
    pub inbox_page: f64,
    /// Billed per group made (named groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create: Option<Units>,
    /// How soon a group made is in every member's list (named groups).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listed: Option<Listed>,
    /// Billed per member removed by the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remove: Option<Units>,
    /// Billed per member added (back) by the owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub add: Option<Units>,
    /// Members whose row is missing, stale or miscounted at the end (named
    /// groups; the one-to-one rows are checked with the workload's).
    pub wrong_rows: usize,
}

/// A group made, timed from the API's answer to its row's `conversation`
/// frame at each member's socket (the creator's too).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Listed {
    /// Frames due: each group at each member.
    pub expected: usize,
    /// Those that came within the wait.
    pub arrived: usize,
    /// Median wait.
    pub p50_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// Conversations of each size, measured by [`run`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupsReport {
    /// One entry per size, smallest first.
    pub sizes: Vec<GroupSize>,
}

/// How many conversations of each size.
const GROUPS_PER_SIZE: usize = 3;

/// What the phase needs of the run.
pub(crate) struct Context<'a> {
    pub(crate) repo: &'a dyn Repository,
    pub(crate) server: &'a Server,
    /// The API client (group changes go through the API).
    pub(crate) client: &'a Client,
    pub(crate) meter: Meter<'a>,
    pub(crate) users: &'a [User],
    pub(crate) conversations: &'a [Conversation],
}

/// The running totals of the API's, the stream's and live delivery's
/// repositories.
#[derive(Clone, Copy)]
struct Snapshot {
    api: Consumed,
    stream: Consumed,
    live: Consumed,
}

impl Context<'_> {
    fn snapshot(&self) -> Snapshot {
        Snapshot {
            api: self.meter.capacity(),
            stream: self.meter.stream.capacity(),
            live: self.meter.stream.live_capacity(),
        }
    }

    /// Billed units per operation since `before`, of `ops` operations, once
    /// the stream side is idle; and the API's and stream's as reported.
    async fn since(&self, before: Snapshot, ops: usize) -> (Units, f64) {
        wait_idle(self.meter.stream, Duration::from_secs(120)).await;
        let now = self.snapshot();
        let (api, stream, live) = (
            per_op(now.api - before.api, ops),
            per_op(now.stream - before.stream, ops),
            per_op(now.live - before.live, ops),
        );
        let units = Units {
            api: api.billed.total(),
            stream: stream.billed.total(),
            live: live.billed.total(),
        };
        (units, api.reported.total() + stream.reported.total())
    }
}

/// A conversation of the phase: its members, the first its owner.
struct Members {
    group: GroupId,
    members: Vec<User>,
}

/// Runs the phase for each of `sizes` no larger than the users, sending
/// `messages` messages at each size.
pub(crate) async fn run(
    cx: &Context<'_>,
    sizes: &[usize],
    messages: usize,
) -> anyhow::Result<GroupsReport> {
    let sockets = Sockets::open(cx.server, cx.users).await?;
    let mut report = GroupsReport { sizes: Vec::new() };
    for &size in sizes.iter().filter(|&&n| n >= 2 && n <= cx.users.len()) {
        report
            .sizes
            .push(one_size(cx, &sockets, size, messages).await?);
    }
    Ok(report)
}

async fn one_size(
    cx: &Context<'_>,
    sockets: &Sockets,
    size: usize,
    messages: usize,
) -> anyhow::Result<GroupSize> {
    let mut rng = SmallRng::seed_from_u64(size as u64);
    // The conversations: the workload's pairs, or groups made now.
    let (groups, made) = if size == 2 {
        let pairs = cx.conversations.iter().take(GROUPS_PER_SIZE);
        let groups = pairs
            .map(|c| Members {
                group: c.group,
                members: c.members.to_vec(),
            })
            .collect();
        (groups, None)
    } else {
        let before = cx.snapshot();
        let mut groups = Vec::with_capacity(GROUPS_PER_SIZE);
        // Each member's list gains the group: its row's frame, timed from
        // the answer.
        let mut listed = Vec::new();
        for g in 0..GROUPS_PER_SIZE {
            // Each group its own slice of the users, its owner first.
            let first = (g * 7) % cx.users.len();
            let members: Vec<User> = (0..size)
                .map(|k| cx.users[(first + k) % cx.users.len()].clone())
                .collect();
            let handles: Vec<String> = members[1..]
                .iter()
                .map(|u| u.handle.as_str().to_owned())
                .collect();
            let group = cx
                .client
                .create_group(members[0].uuid, &format!("bench {size} #{g}"), &handles)
                .await?;
            let answered = Instant::now();
            listed.extend(members.iter().map(|u| (*group.as_uuid(), u.uuid, answered)));
            groups.push(Members { group, members });
        }
        // Every row made (and told) before the making is billed.
        let waits = sockets.waits(&listed, Duration::from_secs(30)).await;
        let (units, _) = cx.since(before, GROUPS_PER_SIZE).await;
        let listed = Listed {
            expected: listed.len(),
            arrived: waits.len(),
            p50_ms: percentile(&waits, 50.0),
            p99_ms: percentile(&waits, 99.0),
        };
        (groups, Some((units, listed)))
    };
    let (create, listed) = made.unzip();

    // Messages, one at a time, each timed to every other member's frame.
    let before = cx.snapshot();
    let mut waits = Vec::new();
    let mut expected = 0;
    // Per conversation, who sent each message (the member's place).
    let mut senders: Vec<Vec<usize>> = vec![Vec::new(); groups.len()];
    for m in 0..messages {
        let c = &groups[m % groups.len()];
        let from = rng.gen_range(0..c.members.len());
        senders[m % groups.len()].push(from);
        let id = cx
            .client
            .send(c.group, &c.members[from], "group message")
            .await?;
        let answered = Instant::now();
        let due: Vec<(Uuid, UserId, Instant)> = c
            .members
            .iter()
            .enumerate()
            .filter(|(k, _)| *k != from)
            .map(|(_, u)| (*id.as_uuid(), u.uuid, answered))
            .collect();
        expected += due.len();
        waits.extend(sockets.waits(&due, Duration::from_secs(10)).await);
    }
    let (per_message, reported) = cx.since(before, messages).await;

    // A member's inbox page, the group's row among the rows, as a steady
    // client reads it: once first, unmeasured, so that the API remembers
    // the token's user (a reader idle for a minute costs its two reads).
    let readers: Vec<UserId> = groups[0].members.iter().take(20).map(|u| u.uuid).collect();
    for &reader in &readers {
        cx.client.list_groups(reader).await?;
    }
    let before = cx.snapshot();
    for &reader in &readers {
        cx.client.list_groups(reader).await?;
    }
    let (inbox, _) = cx.since(before, readers.len()).await;

    // The owner removes their last member, then adds them back.
    let (mut remove, mut add) = (None, None);
    if size > 2 {
        let before = cx.snapshot();
        for c in &groups {
            let last = c.members.last().map(|u| u.handle.as_str()).unwrap_or("");
            cx.client
                .remove_member(c.group, c.members[0].uuid, last)
                .await?;
            wait_idle(cx.meter.stream, Duration::from_secs(60)).await;
        }
        remove = Some(cx.since(before, groups.len()).await.0);
        let before = cx.snapshot();
        for c in &groups {
            let last: Vec<String> = c
                .members
                .last()
                .map(|u| u.handle.as_str().to_owned())
                .into_iter()
                .collect();
            cx.client
                .add_members(c.group, c.members[0].uuid, &last)
                .await?;
            wait_idle(cx.meter.stream, Duration::from_secs(60)).await;
        }
        add = Some(cx.since(before, groups.len()).await.0);
    }

    let wrong_rows = if size > 2 {
        wrong_rows(cx.repo, &groups, &senders).await?
    } else {
        0
    };
    Ok(GroupSize {
        members: size,
        groups: groups.len(),
        messages,
        per_message,
        reported_per_message: cx.meter.dynamo.is_some().then_some(reported),
        arithmetic: 1.0 + 3.0 * size as f64,
        frames_expected: expected,
        frames_delivered: waits.len(),
        frame_p50_ms: percentile(&waits, 50.0),
        frame_p99_ms: percentile(&waits, 99.0),
        frame_max_ms: waits.iter().copied().fold(0.0, f64::max),
        inbox_page: inbox.api,
        create,
        listed,
        remove,
        add,
        wrong_rows,
    })
}

/// Members whose row of their group does not show its newest message with
/// the others' messages unread (none for the member added back, whose
/// marker starts at the newest). `senders` holds, per group, the place of
/// each message's sender among its members.
async fn wrong_rows(
    repo: &dyn Repository,
    groups: &[Members],
    senders: &[Vec<usize>],
) -> anyhow::Result<usize> {
    let mut wrong = 0;
    for (c, senders) in groups.iter().zip(senders) {
        let newest = repo
            .messages(c.group, c.members[0].uuid, &PageRequest::first(1))
            .await?
            .items
            .last()
            .map(|m| m.id);
        for (k, member) in c.members.iter().enumerate() {
            let added_back = k == c.members.len() - 1;
            let others = senders.iter().filter(|&&s| s != k).count() as u32;
            let unread = if added_back {
                0
            } else {
                others.min(dm_domain::UNREAD_CAP + 1)
            };
            let row = find_row(repo, member.uuid, c.group).await?;
            if row.is_none_or(|r| r.last_message_id != newest || r.unread != unread) {
                wrong += 1;
            }
        }
    }
    Ok(wrong)
}

/// `owner`'s row of `group`, if they have one.
async fn find_row(
    repo: &dyn Repository,
    owner: UserId,
    group: GroupId,
) -> anyhow::Result<Option<dm_domain::Conversation>> {
    let mut request = PageRequest::first(dm_store::PAGE_MAX);
    loop {
        let page = repo.conversations(owner, &request).await?;
        if let Some(row) = page.items.into_iter().find(|r| r.group == group) {
            return Ok(Some(row));
        }
        match page.next {
            Some(next) => request = PageRequest::after(dm_store::PAGE_MAX, next),
            None => return Ok(None),
        }
    }
}
