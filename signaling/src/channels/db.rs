//! The database thread: one OS thread owns the channel database's only connection, and async handlers send
//! it jobs through a bounded queue.
//!
//! Why one dedicated thread rather than `spawn_blocking` per request: SQLite runs one writer at a time
//! anyway, so more threads would only queue on its lock (each holding a blocking-pool thread, up to 512);
//! one connection on one thread never sees SQLITE_BUSY from itself, the queue bound caps the waiting jobs,
//! and the tracker's async workers never block on disk. Jobs are short (a primary-key read or one small
//! transaction); signature checking, the CPU-heavy part, happens before a job is sent.

use tokio::sync::{mpsc, oneshot};

use super::store::{Store, StoreError};

/// Jobs waiting for the database thread; beyond it senders wait (asynchronously) for room.
const QUEUE: usize = 64;

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// A handle to the database thread; cheap to clone. The thread ends (closing the database) when the last
/// handle is dropped.
#[derive(Clone)]
pub struct Db {
    jobs: mpsc::Sender<Job>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Db")
    }
}

impl Db {
    /// Starts the database thread with an opened store.
    pub fn start(mut store: Store) -> std::io::Result<Db> {
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE);
        std::thread::Builder::new()
            .name("channels-db".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    job(&mut store);
                }
            })?;
        Ok(Db { jobs })
    }

    /// Runs `f` on the database thread and returns its result.
    pub async fn call<R, F>(&self, f: F) -> Result<R, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&mut Store) -> Result<R, StoreError> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |store| {
            let _ = reply.send(f(store));
        });
        self.jobs.send(job).await.map_err(|_| StoreError::Stopped)?;
        answer.await.map_err(|_| StoreError::Stopped)?
    }
}
