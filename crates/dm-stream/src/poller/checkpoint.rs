//! The poller's checkpoint: the last record handled of each shard, and the
//! shards finished, kept on disk so that a restart resumes where it stopped;
//! always replaced whole, never written in place.

use std::{collections::BTreeMap, path::Path};

use serde::{Deserialize, Serialize};

use super::PollError;

/// The position of the poller, as kept on disk.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The stream this checkpoint belongs to; another stream starts afresh.
    pub stream_arn: String,
    /// Per shard, the last record handled and whether the shard is finished.
    pub shards: BTreeMap<String, ShardPosition>,
}

/// How far one shard has been handled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPosition {
    /// The sequence number of the last record handled.
    pub sequence: Option<String>,
    /// The shard is closed and every record of it was handled.
    pub finished: bool,
}

impl Checkpoint {
    /// Reads a checkpoint file; a missing file is an empty checkpoint.
    pub fn load(path: &Path) -> Result<Self, PollError> {
        match std::fs::read(path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|source| PollError::CheckpointCorrupt {
                    path: path.to_owned(),
                    source,
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(PollError::Checkpoint {
                action: "reading",
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the checkpoint durably: a temporary file in the same folder,
    /// written and synced to disk, then renamed over the old one (tempfile's
    /// `persist`) and the folder synced. A crash at any point leaves either
    /// the old checkpoint or the new one, never a torn or empty file.
    pub fn save(&self, path: &Path) -> Result<(), PollError> {
        let context = |source: std::io::Error| PollError::Checkpoint {
            action: "writing",
            path: path.to_owned(),
            source,
        };
        let dir = match path.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => dir,
            None => Path::new("."),
        };
        std::fs::create_dir_all(dir).map_err(context)?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(context)?;
        let json = serde_json::to_vec_pretty(self).map_err(|e| context(e.into()))?;
        std::io::Write::write_all(&mut file, &json).map_err(context)?;
        file.as_file().sync_all().map_err(context)?;
        file.persist(path).map_err(|e| context(e.error))?;
        // The rename is durable once the folder is.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(context)
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::MetadataExt;

    use super::*;

    fn checkpoint(arn: &str, sequence: &str) -> Checkpoint {
        Checkpoint {
            stream_arn: arn.into(),
            shards: BTreeMap::from([(
                "shardId-1".into(),
                ShardPosition {
                    sequence: Some(sequence.into()),
                    finished: false,
                },
            )]),
        }
    }

    #[test]
    fn a_checkpoint_is_replaced_whole_never_written_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/poller.json");
        assert_eq!(Checkpoint::load(&path).unwrap(), Checkpoint::default());
        let first = checkpoint("arn:1", "100");
        first.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), first);
        let inode = std::fs::metadata(&path).unwrap().ino();

        // A crash while a later save was writing leaves its temporary file
        // half written beside the checkpoint, which is still the old one whole.
        std::fs::write(
            path.with_file_name(".tmpCRASH"),
            b"{\"stream_arn\": \"arn:2\", \"sha",
        )
        .unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), first);

        let second = checkpoint("arn:1", "200");
        second.save(&path).unwrap();
        assert_eq!(Checkpoint::load(&path).unwrap(), second);
        assert_ne!(
            std::fs::metadata(&path).unwrap().ino(),
            inode,
            "a new file renamed over the old, not the old one truncated and rewritten"
        );
        // No temporary file of ours is left behind.
        let left: Vec<_> = std::fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }

    #[test]
    fn a_torn_checkpoint_is_an_error_not_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("poller.json");
        std::fs::write(&path, b"{\"stream_arn\": \"arn:1\", \"sh").unwrap();
        let err = Checkpoint::load(&path).unwrap_err();
        assert!(format!("{err:#}").contains("reading checkpoint"), "{err:#}");
    }
}
