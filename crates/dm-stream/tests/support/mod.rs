//! What the live delivery tests share: users, and a [`Recorder`] standing in
//! for API Gateway's management API.

use std::sync::{Arc, Mutex};

use dm_domain::{User, UserId};
use dm_store::Repository;
use dm_stream::live::{Frame, Post, PostError};

/// A user named `name` and a suffix of their own.
pub(crate) async fn user(repo: &Arc<dyn Repository>, name: &str) -> User {
    let handle = format!("{name}{}", &UserId::new().to_string()[..6]);
    dm_store::testing::user(repo.as_ref(), &handle).await
}

/// Records what was posted where, and what was closed; answers
/// `GoneException` for the ids in `gone`.
#[derive(Debug, Default)]
pub(crate) struct Recorder {
    pub(crate) posted: Mutex<Vec<(String, Frame)>>,
    pub(crate) closed: Mutex<Vec<String>>,
    pub(crate) gone: Vec<String>,
}

#[async_trait::async_trait]
impl Post for Recorder {
    async fn post(&self, id: &str, data: &str) -> Result<(), PostError> {
        if self.gone.iter().any(|g| g == id) {
            return Err(PostError::Gone);
        }
        let frame: Frame = serde_json::from_str(data).unwrap();
        self.posted.lock().unwrap().push((id.to_owned(), frame));
        Ok(())
    }

    async fn close(&self, id: &str) -> Result<(), PostError> {
        self.closed.lock().unwrap().push(id.to_owned());
        Ok(())
    }
}

impl Recorder {
    /// The frames posted to `id` since the last call, in order.
    #[allow(dead_code)] // used by live_groups.rs only
    pub(crate) fn take(&self, id: &str) -> Vec<Frame> {
        let mut posted = self.posted.lock().unwrap();
        let (theirs, rest): (Vec<_>, Vec<_>) = posted.drain(..).partition(|(c, _)| c == id);
        *posted = rest;
        theirs.into_iter().map(|(_, f)| f).collect()
    }
}
