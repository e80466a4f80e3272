//! The world every case runs in: two conversations, and the API's calls on them.

use super::*;

pub(crate) fn handler(repo: &Arc<dyn Repository>) -> Handler {
    Handler::new(repo.clone()).with_retry(RetryPolicy {
        attempts: 8,
        base: Duration::from_millis(1),
        max: Duration::from_millis(5),
    })
}

pub(crate) fn base_time() -> Timestamp {
    "2024-05-01T12:00:00.000000+00:00".parse().unwrap()
}

pub(crate) async fn user(repo: &Arc<dyn Repository>) -> User {
    let id = UserId::new();
    let handle = format!("u{}", &id.to_string()[..8]);
    repo.create_user(NewUser {
        uuid: id,
        handle: Handle::parse(&handle).unwrap(),
        display_name: DisplayName::parse(&handle).unwrap(),
        cognito_user_id: None,
    })
    .await
    .unwrap()
}

/// Two conversations, each started by its member 0 with one message.
pub(crate) struct World {
    pub(crate) groups: Vec<(GroupId, [User; 2])>,
    /// Every message sent, the first ones included.
    pub(crate) sent: Vec<Message>,
    /// Every later state written (edits, tombstones), in the order written.
    pub(crate) states: Vec<Message>,
    /// Every marker the API accepted, in the order it did.
    pub(crate) marked: Vec<ReadMarker>,
}

impl World {
    pub(crate) async fn new(repo: &Arc<dyn Repository>, groups: usize) -> Self {
        let mut world = Self {
            groups: Vec::new(),
            sent: Vec::new(),
            states: Vec::new(),
            marked: Vec::new(),
        };
        for _ in 0..groups {
            let users = [user(repo).await, user(repo).await];
            let first = NewMessage {
                id: MessageId::new(),
                created_at: base_time(),
                text: MessageText::parse("first").unwrap(),
            };
            let started = repo
                .start_conversation(&users[0].summary(), &users[1].summary(), first)
                .await
                .unwrap();
            world.groups.push((started.message.group, users));
            world.sent.push(started.message);
        }
        world
    }

    pub(crate) async fn send(
        &mut self,
        repo: &Arc<dyn Repository>,
        g: usize,
        who: usize,
        secs: i64,
    ) {
        let sent = send(repo, self.groups[g].0, &self.groups[g].1[who], secs).await;
        self.sent.push(sent);
    }

    /// The `pick`-th message sent to conversation `g` (by sending order).
    pub(crate) fn pick(&self, g: usize, pick: usize) -> Message {
        let group = self.groups[g].0;
        let sent: Vec<&Message> = self.sent.iter().filter(|m| m.group == group).collect();
        sent[pick % sent.len()].clone()
    }

    /// Its author edits the `pick`-th message of conversation `g`.
    pub(crate) async fn edit(&mut self, repo: &Arc<dyn Repository>, g: usize, pick: usize, n: i64) {
        let message = self.pick(g, pick);
        self.states.extend(edit(repo, &message, n).await);
    }

    /// Its author deletes the `pick`-th message of conversation `g`.
    pub(crate) async fn delete(&mut self, repo: &Arc<dyn Repository>, g: usize, pick: usize) {
        let message = self.pick(g, pick);
        self.states.push(delete(repo, &message).await);
    }

    /// A message as it is now: its latest state written.
    pub(crate) fn current(&self, id: MessageId) -> Message {
        self.sent
            .iter()
            .chain(&self.states)
            .filter(|m| m.id == id)
            .max_by_key(|m| m.revision())
            .cloned()
            .unwrap()
    }

    /// The preview invariant 5 defines.
    pub(crate) fn expected_preview(&self, group: GroupId) -> String {
        self.sent
            .iter()
            .filter(|m| m.group == group)
            .map(|m| self.current(m.id))
            .filter(|m| !m.deleted)
            .max_by_key(Message::reference)
            .map(|m| m.text)
            .unwrap_or_default()
    }

    /// Member `who` marks conversation `g` read up to its `pick`-th message
    /// sent so far (by sending order: what a page has seen).
    pub(crate) async fn mark(
        &mut self,
        repo: &Arc<dyn Repository>,
        g: usize,
        who: usize,
        pick: usize,
    ) {
        let (group, users) = &self.groups[g];
        let seen: Vec<&Message> = self.sent.iter().filter(|m| m.group == *group).collect();
        let through = seen[pick % seen.len()].reference();
        let member = users[who].uuid;
        let stands = repo.mark_read(*group, member, through).await.unwrap();
        assert!(
            stands >= through,
            "the marker in force is at least the one asked"
        );
        self.marked.push(ReadMarker {
            group: *group,
            member,
            through: stands,
        });
    }

    /// Where each member's marker must stand.
    pub(crate) fn marker(&self, group: GroupId, member: UserId) -> Option<MessageRef> {
        self.marked
            .iter()
            .filter(|r| r.group == group && r.member == member)
            .map(|r| r.through)
            .max()
    }

    /// The unread count invariant 2 defines.
    pub(crate) fn expected_unread(&self, group: GroupId, member: UserId) -> u32 {
        let marker = self.marker(group, member);
        let n = self
            .sent
            .iter()
            .filter(|m| m.group == group && m.sender.uuid != member)
            .filter(|m| marker.is_none_or(|t| m.reference() > t))
            .filter(|m| !self.current(m.id).deleted)
            .count();
        u32::try_from(n).unwrap().min(UNREAD_CAP + 1)
    }

    /// The stream as it would carry the writes: each message, each later
    /// state of one, and each accepted marker (a repeated one is a harmless
    /// replay).
    pub(crate) fn records(&self) -> Vec<ChangeEvent> {
        let messages = self
            .sent
            .iter()
            .map(|m| (Record::Message(m.clone()), ChangeKind::Insert))
            .chain(
                self.states
                    .iter()
                    .map(|m| (Record::Message(m.clone()), ChangeKind::Modify)),
            );
        let marks = self
            .marked
            .iter()
            .map(|r| (Record::ReadMarker(*r), ChangeKind::Modify));
        messages
            .chain(marks)
            .enumerate()
            .map(|(i, (record, kind))| ChangeEvent {
                sequence: (i + 1).to_string(),
                kind,
                key: record.key(),
                new_image: Some(record),
                expired: false,
            })
            .collect()
    }

    pub(crate) async fn assert_exact(&self, repo: &Arc<dyn Repository>) {
        for (group, users) in &self.groups {
            for user in users {
                let rows = repo
                    .conversations(user.uuid, &PageRequest::default())
                    .await
                    .unwrap();
                assert_eq!(rows.items.len(), 1, "one row per member");
                let expected = self.expected_unread(*group, user.uuid);
                assert_eq!(rows.items[0].unread, expected, "the row's unread count");
                assert_eq!(
                    rows.items[0].preview,
                    self.expected_preview(*group),
                    "the row's preview"
                );
                let newest = self
                    .sent
                    .iter()
                    .filter(|m| m.group == *group)
                    .map(Message::reference)
                    .max()
                    .unwrap();
                assert_eq!(
                    rows.items[0].last_message_at, newest.at,
                    "the row stands at the newest message sent"
                );
                let own_only = self
                    .sent
                    .iter()
                    .filter(|m| m.group == *group)
                    .all(|m| m.sender.uuid == user.uuid);
                if own_only {
                    assert_eq!(rows.items[0].unread, 0, "one's own messages never count");
                }
                assert_eq!(
                    rows.items[0].read_through,
                    self.marker(*group, user.uuid),
                    "the row's marker, as applied"
                );
                // The recorded marker is the newest accepted (invariant 3).
                let markers = repo.read_markers(*group, user.uuid).await.unwrap();
                assert_eq!(
                    markers
                        .iter()
                        .find(|r| r.member == user.uuid)
                        .map(|r| r.through),
                    self.marker(*group, user.uuid)
                );
            }
        }
    }
}

/// A message from `user` to `group`, sent `ms` milliseconds after the base time.
pub(crate) async fn send(
    repo: &Arc<dyn Repository>,
    group: GroupId,
    user: &User,
    ms: i64,
) -> Message {
    let message = NewMessage {
        id: MessageId::new(),
        created_at: base_time().plus(TimeDelta::milliseconds(ms)),
        text: MessageText::parse(&format!("at {ms}")).unwrap(),
    };
    repo.send_message(group, &user.summary(), message)
        .await
        .unwrap()
}

/// Its author edits `message` as the API does (stamped now); the state in
/// force after, unless it was deleted.
pub(crate) async fn edit(repo: &Arc<dyn Repository>, message: &Message, n: i64) -> Option<Message> {
    let text = MessageText::parse(&format!("edit {n}")).unwrap();
    match repo
        .edit_message(
            message.group,
            message.sender.uuid,
            lookup(message),
            text,
            Timestamp::now(),
        )
        .await
    {
        Ok(m) => {
            assert!(m.edited_at.is_some() && !m.deleted);
            Some(m)
        }
        Err(dm_store::StoreError::Conflict(dm_store::Clash::MessageDeleted)) => None,
        Err(e) => panic!("edit failed: {e}"),
    }
}

/// Its author deletes `message`; the tombstone.
pub(crate) async fn delete(repo: &Arc<dyn Repository>, message: &Message) -> Message {
    let tombstone = repo
        .delete_message(message.group, message.sender.uuid, lookup(message))
        .await
        .unwrap();
    assert!(tombstone.deleted && tombstone.text.is_empty());
    assert_eq!(tombstone.reference(), message.reference(), "in its place");
    tombstone
}

pub(crate) fn lookup(message: &Message) -> MessageLookup {
    MessageLookup {
        id: message.id,
        sent_at: Some(message.created_at),
    }
}
