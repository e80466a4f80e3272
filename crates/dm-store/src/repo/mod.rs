//! The access patterns, written once over [`Table`].
//!
//! [`Repository`] is the front: each method is one access pattern of
//! `docs/access-patterns.md` (the letter in its doc comment is the
//! pattern's), and its implementation hands off in one line to the module of
//! its group:
//!
//! | module | patterns |
//! |---|---|
//! | [`users`] | F: users by uuid, handle, Cognito subject; creating one |
//! | [`membership`] | the one membership check every member-only call makes |
//! | [`conversations`] | B: a user's rows; E: starting a conversation |
//! | [`messages`] | A: a conversation's messages; C: sending; I: edits and deletes |
//! | [`read_state`] | H: read markers and unread totals |
//! | [`rows`] and [`plan`] | D: the stream's row update, and its arithmetic |
//! | [`connections`] | G: live connections |
//! | [`idempotency`] | sending once per idempotency key |
//! | [`paging`] | pages and cursors, shared by A and B |
//! | [`unchecked`] | reads without a membership check, for the stream's side |

mod connections;
mod conversations;
mod groups;
mod idempotency;
mod member_rows;
mod membership;
mod messages;
mod migrate;
mod paging;
mod plan;
mod read_state;
mod rows;
mod unchecked;
mod users;

use async_trait::async_trait;
use dm_domain::{
    Connection, Conversation, Group, GroupId, GroupName, Handle, IdempotencyClaim, Message,
    MessageRef, MessageText, NewUser, Page, ReadMarker, Timestamp, User, UserId, UserSummary,
};

pub use conversations::Sent;
pub use groups::GroupChange;
pub use messages::{MessageBound, MessageLookup, NewMessage};
pub use migrate::{Migrated, Progress as MigrationProgress, migrate};
pub use paging::{PAGE_DEFAULT, PAGE_MAX, PageRequest};
pub use plan::Changes;
pub use rows::{Applied, Written};

use crate::{StoreResult, table::Table};

/// The repository of direct messaging: every access pattern of the design.
///
/// Implemented by [`crate::DynamoRepository`] and [`crate::MemoryRepository`]
/// (and by anything that implements [`Table`]). Both keep the same
/// invariants; services can test against the memory one.
///
/// Every call that takes a `member` (or an `author`, or a `sender`) acts on
/// their behalf and checks that they belong to the conversation: for anyone
/// else it does not exist (`NotFound(Conversation)`). The calls at the end,
/// under "Unchecked", take no member and check nothing: they serve the
/// stream's side (the row update, the notifier), seeds and imports.
#[async_trait]
pub trait Repository: Send + Sync + std::fmt::Debug {
    // ---- Users ----

    /// Creates a user, claiming its handle (case-insensitively) and Cognito
    /// subject in the same transaction. (F)
    async fn create_user(&self, user: NewUser) -> StoreResult<User>;

    /// A user by uuid. (F)
    async fn user(&self, id: UserId) -> StoreResult<User>;

    /// A user by handle, in any case. (F)
    async fn user_by_handle(&self, handle: &Handle) -> StoreResult<User>;

    /// A user by Cognito subject. (F)
    async fn user_by_cognito_sub(&self, sub: &str) -> StoreResult<User>;

    // ---- Conversations, on behalf of a member ----

    /// A conversation, if `member` is one of its members; otherwise it does
    /// not exist for them (`NotFound`).
    async fn group(&self, id: GroupId, member: UserId) -> StoreResult<Group>;

    /// Whether `member` belongs to the conversation; `false` for one that
    /// does not exist. Also answers for conversations the seed wrote, which
    /// have rows but no group item.
    async fn is_member(&self, id: GroupId, member: UserId) -> StoreResult<bool>;

    /// Makes a named group owned by `creator`, with `others` (2 to 99
    /// users, each once, not the creator: `Invalid` otherwise). One write of
    /// its group item, whatever its size; each member's row follows through
    /// the stream handler, standing at the group's creation until its first
    /// message. (J)
    async fn create_group(
        &self,
        creator: &UserSummary,
        name: GroupName,
        others: Vec<UserSummary>,
    ) -> StoreResult<Group>;

    /// Changes a named group `actor` is a member of (`NotFound` otherwise):
    /// renames it or adds members (its owner only: `Forbidden` for another
    /// member), removes a member (its owner), or lets `actor` leave. One
    /// conditional write of the group item, whatever its size; past
    /// [`dm_domain::MAX_MEMBERS`] members it is `Invalid("too_many_members")`
    /// and nothing changes. A removed member's row is taken away at once; the
    /// others' rows follow through the stream handler. Returns the group as
    /// it now is. (J)
    async fn change_group(
        &self,
        group: GroupId,
        actor: UserId,
        change: &GroupChange,
    ) -> StoreResult<Group>;

    /// `owner`'s conversations, most recent first. (B)
    async fn conversations(
        &self,
        owner: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>>;

    /// Sends a message to a user: into the pair's conversation, which is
    /// created (pair claim, group, both rows and the message, in one
    /// transaction) if the pair has none. Concurrent starts by the same pair
    /// end in one conversation. (E)
    async fn start_conversation(
        &self,
        sender: &UserSummary,
        recipient: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Sent>;

    // ---- Messages, on behalf of a member ----

    /// The messages of a conversation `member` belongs to: the newest page
    /// first, each page oldest to newest; the next page goes back in time. (A)
    async fn messages(
        &self,
        group: GroupId,
        member: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>>;

    /// The messages of a conversation `member` belongs to that come after
    /// `after`, oldest first, up to `limit` (clamped as a page's); the page
    /// has a cursor when more follow. What a client that was offline missed.
    async fn messages_after(
        &self,
        group: GroupId,
        member: UserId,
        after: MessageBound,
        limit: usize,
    ) -> StoreResult<Page<Message>>;

    /// Sends a message to a conversation the sender belongs to. The members'
    /// rows follow through the stream handler ([`Repository::apply_message`]).
    /// Sending a message id that exists is `Conflict(ItemExists)`. (C)
    async fn send_message(
        &self,
        group: GroupId,
        sender: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Message>;

    /// A message of a conversation `member` belongs to, as stored now
    /// (tombstones included). (I)
    async fn find_message(
        &self,
        group: GroupId,
        member: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message>;

    /// Edits one of `author`'s messages: its text becomes `text` and its
    /// `edited_at` the later of `at` and just after its previous edit. Edits
    /// apply in the order of their stamps: one stamped before the edit in
    /// force changes nothing. Editing to the text it has changes nothing.
    /// Returns the message as it now is. Another member's message, like a
    /// missing one, is `NotFound(Message)`; a deleted one is
    /// `Conflict(MessageDeleted)`. (I)
    async fn edit_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
        text: MessageText,
        at: Timestamp,
    ) -> StoreResult<Message>;

    /// Deletes one of `author`'s messages: it becomes a tombstone in its
    /// place. Deleting a tombstone changes nothing and returns it, as the
    /// first delete did. Another member's message, like a missing one, is
    /// `NotFound(Message)`. (I)
    async fn delete_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message>;

    // ---- Read state ----

    /// Records that `member` has seen the conversation up to `through`, one
    /// of its messages. The marker only moves forward: marking an older or
    /// the same message changes nothing. Returns the marker in force. The
    /// stream handler applies it to the unread counts. (H)
    async fn mark_read(
        &self,
        group: GroupId,
        member: UserId,
        through: MessageRef,
    ) -> StoreResult<MessageRef>;

    /// The members' read markers of a conversation `member` belongs to, as
    /// recorded (members who never marked have none). (H)
    async fn read_markers(&self, group: GroupId, member: UserId) -> StoreResult<Vec<ReadMarker>>;

    /// The sum of `owner`'s unread counts over all their conversations. (H)
    async fn unread_total(&self, owner: UserId) -> StoreResult<u32>;

    // ---- Live connections and idempotency, a user's own items ----

    /// Records a live connection of a user, replacing one with the same id. (G)
    async fn add_connection(&self, connection: &Connection) -> StoreResult<()>;

    /// Forgets a live connection; one already gone is not an error. (G)
    async fn remove_connection(&self, user: UserId, id: &str) -> StoreResult<()>;

    /// A user's live connections unexpired at `now` (epoch seconds): the
    /// table's TTL deletes expired ones only eventually. (G)
    async fn connections(&self, user: UserId, now: i64) -> StoreResult<Vec<Connection>>;

    /// Claims an idempotency key for a message about to be sent; returns the
    /// claim in force: this one, or an unexpired one made before (whose
    /// message must then be sent, or was). Expired claims count as absent.
    async fn claim_idempotency(
        &self,
        claim: IdempotencyClaim,
        now: i64,
    ) -> StoreResult<IdempotencyClaim>;

    // ---- Unchecked: no membership check, for the stream's side ----

    /// Applies a conversation's changes, as the stream carries them: moves the
    /// members' rows to the newest message if it is newer than where they
    /// stand, keeps their preview the current text of the newest message not
    /// deleted (an edit or a delete changes the preview, never the place),
    /// applies the read markers, and keeps each member's unread count exact
    /// (the other members' messages newer than their marker and not deleted,
    /// up to the cap). Idempotent, order-independent, safe to run
    /// concurrently. Used by the stream handler. Returns what it did and
    /// the group item it leaves, whose rows the notifier tells. (D)
    async fn apply_changes(&self, group: GroupId, changes: &Changes) -> StoreResult<Written>;

    /// [`Repository::apply_changes`] of one message record.
    async fn apply_message(&self, message: &Message) -> StoreResult<Applied> {
        let changes = Changes {
            messages: vec![message.clone()],
            ..Changes::default()
        };
        Ok(self.apply_changes(message.group, &changes).await?.applied)
    }

    /// Stores many messages of one conversation in batches (no conditions:
    /// ids are unique) and moves the rows to the newest. For seeds and
    /// imports; senders must be members.
    async fn import_messages(&self, group: GroupId, messages: Vec<Message>) -> StoreResult<()>;

    /// The conversation of a pair of users, if they have one.
    async fn conversation_between(&self, a: UserId, b: UserId) -> StoreResult<Option<GroupId>>;

    /// A conversation's group item, as this process last saw it (or read),
    /// whoever asks.
    async fn group_unchecked(&self, group: GroupId) -> StoreResult<Option<Group>>;

    /// One message by its place in a conversation, whoever asks.
    async fn message_unchecked(
        &self,
        group: GroupId,
        at: MessageRef,
    ) -> StoreResult<Option<Message>>;

    /// The members of a conversation, as its group item (or, for a seed
    /// conversation, its rows) names them; read once per process and minute.
    /// For the stream's notifier.
    async fn members_unchecked(&self, group: GroupId) -> StoreResult<Vec<UserSummary>>;

    /// Brings a table written before issue 25 (or by the seed) to the
    /// current layout ([`migrate`]); with `dry_run`, only counts what it
    /// would do. `progress` is told the items read, then the conversions
    /// done of all there are.
    async fn migrate_layout(
        &self,
        dry_run: bool,
        progress: &mut (dyn FnMut(migrate::Progress) + Send),
    ) -> StoreResult<Migrated>;

    /// Checks that the store can be reached.
    async fn ping(&self) -> StoreResult<()>;
}

#[async_trait]
impl<T: Table> Repository for T {
    async fn create_user(&self, user: NewUser) -> StoreResult<User> {
        users::create(self, user).await
    }

    async fn user(&self, id: UserId) -> StoreResult<User> {
        users::by_id(self, id).await
    }

    async fn user_by_handle(&self, handle: &Handle) -> StoreResult<User> {
        users::by_handle(self, handle).await
    }

    async fn user_by_cognito_sub(&self, sub: &str) -> StoreResult<User> {
        users::by_cognito_sub(self, sub).await
    }

    async fn group(&self, id: GroupId, member: UserId) -> StoreResult<Group> {
        membership::group_of_member(self, id, member).await
    }

    async fn is_member(&self, id: GroupId, member: UserId) -> StoreResult<bool> {
        membership::is_member(self, id, member).await
    }

    async fn create_group(
        &self,
        creator: &UserSummary,
        name: GroupName,
        others: Vec<UserSummary>,
    ) -> StoreResult<Group> {
        groups::create(self, creator, name, others).await
    }

    async fn change_group(
        &self,
        group: GroupId,
        actor: UserId,
        change: &GroupChange,
    ) -> StoreResult<Group> {
        groups::change(self, group, actor, change).await
    }

    async fn conversations(
        &self,
        owner: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Conversation>> {
        conversations::list_rows(self, owner, page).await
    }

    async fn start_conversation(
        &self,
        sender: &UserSummary,
        recipient: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Sent> {
        conversations::start(self, sender, recipient, message).await
    }

    async fn messages(
        &self,
        group: GroupId,
        member: UserId,
        page: &PageRequest,
    ) -> StoreResult<Page<Message>> {
        messages::page(self, group, member, page).await
    }

    async fn messages_after(
        &self,
        group: GroupId,
        member: UserId,
        after: MessageBound,
        limit: usize,
    ) -> StoreResult<Page<Message>> {
        messages::after(self, group, member, after, limit).await
    }

    async fn send_message(
        &self,
        group: GroupId,
        sender: &UserSummary,
        message: NewMessage,
    ) -> StoreResult<Message> {
        messages::send(self, group, sender, message).await
    }

    async fn find_message(
        &self,
        group: GroupId,
        member: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message> {
        messages::find(self, group, member, lookup).await
    }

    async fn edit_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
        text: MessageText,
        at: Timestamp,
    ) -> StoreResult<Message> {
        messages::edit(self, group, author, lookup, text, at).await
    }

    async fn delete_message(
        &self,
        group: GroupId,
        author: UserId,
        lookup: MessageLookup,
    ) -> StoreResult<Message> {
        messages::delete(self, group, author, lookup).await
    }

    async fn mark_read(
        &self,
        group: GroupId,
        member: UserId,
        through: MessageRef,
    ) -> StoreResult<MessageRef> {
        read_state::mark(self, group, member, through).await
    }

    async fn read_markers(&self, group: GroupId, member: UserId) -> StoreResult<Vec<ReadMarker>> {
        read_state::markers(self, group, member).await
    }

    async fn unread_total(&self, owner: UserId) -> StoreResult<u32> {
        read_state::total(self, owner).await
    }

    async fn add_connection(&self, connection: &Connection) -> StoreResult<()> {
        connections::add(self, connection).await
    }

    async fn remove_connection(&self, user: UserId, id: &str) -> StoreResult<()> {
        connections::remove(self, user, id).await
    }

    async fn connections(&self, user: UserId, now: i64) -> StoreResult<Vec<Connection>> {
        connections::of_user(self, user, now).await
    }

    async fn claim_idempotency(
        &self,
        claim: IdempotencyClaim,
        now: i64,
    ) -> StoreResult<IdempotencyClaim> {
        idempotency::claim(self, claim, now).await
    }

    async fn apply_changes(&self, group: GroupId, changes: &Changes) -> StoreResult<Written> {
        rows::apply(self, group, changes).await
    }

    async fn import_messages(&self, group: GroupId, messages: Vec<Message>) -> StoreResult<()> {
        rows::import(self, group, messages).await
    }

    async fn migrate_layout(
        &self,
        dry_run: bool,
        progress: &mut (dyn FnMut(migrate::Progress) + Send),
    ) -> StoreResult<Migrated> {
        migrate::migrate(self, dry_run, progress).await
    }

    async fn conversation_between(&self, a: UserId, b: UserId) -> StoreResult<Option<GroupId>> {
        conversations::between(self, a, b).await
    }

    async fn group_unchecked(&self, group: GroupId) -> StoreResult<Option<Group>> {
        unchecked::group(self, group).await
    }

    async fn message_unchecked(
        &self,
        group: GroupId,
        at: MessageRef,
    ) -> StoreResult<Option<Message>> {
        unchecked::message(self, group, at).await
    }

    async fn members_unchecked(&self, group: GroupId) -> StoreResult<Vec<UserSummary>> {
        unchecked::members(self, group).await
    }

    async fn ping(&self) -> StoreResult<()> {
        Table::ping(self).await
    }
}
