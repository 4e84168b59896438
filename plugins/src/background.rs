//! A thread for work no caller waits for (dropping used stores, making instances ahead of
//! calls), kept out of the way of requests.
//!
//! - It runs at the lowest priority Linux has (`SCHED_IDLE`): it gets a CPU only when no
//!   request wants it, so under load it falls behind instead of competing, and callers do the
//!   work themselves (`crate::ready` bounds what may be queued).
//! - Handing it a job costs a lock and a push, not a wake-up: waking a sleeping thread is a
//!   system call and, on a virtual machine, an interrupt to another CPU, several microseconds
//!   on the caller's path. While jobs keep coming the thread looks for them every
//!   [`POLL`]; only after [`STAY_AWAKE`] without one does it sleep until woken.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// A job gets the thread's single-threaded async runtime to run futures on.
pub(crate) type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) + Send>;

const POLL: Duration = Duration::from_micros(200);
const STAY_AWAKE: Duration = Duration::from_millis(20);

#[derive(Default)]
struct Shared {
    jobs: Mutex<VecDeque<Job>>,
    asleep: AtomicBool,
    closed: AtomicBool,
}

pub(crate) struct BackgroundWorker {
    shared: Arc<Shared>,
    thread: Thread,
}

impl BackgroundWorker {
    pub fn start(name: &str) -> std::io::Result<BackgroundWorker> {
        let shared = Arc::new(Shared::default());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let theirs = shared.clone();
        let handle = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(&theirs, &runtime))?;
        Ok(BackgroundWorker {
            shared,
            thread: handle.thread().clone(),
        })
    }

    pub fn submit(&self, job: Job) {
        self.shared.jobs.lock().unwrap().push_back(job);
        if self.shared.asleep.swap(false, Ordering::SeqCst) {
            self.thread.unpark();
        }
    }
}

impl Drop for BackgroundWorker {
    /// The thread finishes the jobs already queued, then ends.
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::SeqCst);
        self.thread.unpark();
    }
}

fn run(shared: &Shared, runtime: &tokio::runtime::Runtime) {
    lower_priority();
    let mut last_job = Instant::now();
    loop {
        let next = shared.jobs.lock().unwrap().pop_front();
        if let Some(job) = next {
            // A job that panics must not end the thread: the jobs queued after it hold used
            // stores, and with them slots of the instance pool.
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(runtime)));
            if ran.is_err() {
                tracing::error!("a background pack job panicked; the thread carries on");
            }
            last_job = Instant::now();
            continue;
        }
        if shared.closed.load(Ordering::SeqCst) {
            return;
        }
        if last_job.elapsed() < STAY_AWAKE {
            std::thread::sleep(POLL);
            continue;
        }
        // Say so before looking once more: a job pushed after that look finds the flag set
        // and wakes the thread.
        shared.asleep.store(true, Ordering::SeqCst);
        if shared.jobs.lock().unwrap().is_empty() && !shared.closed.load(Ordering::SeqCst) {
            std::thread::park();
        }
        shared.asleep.store(false, Ordering::SeqCst);
        last_job = Instant::now();
    }
}

/// `SCHED_IDLE` for the calling thread; where that is refused the thread runs at normal
/// priority, which is correct, only less polite.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: pid 0 is the calling thread, and `param` is a valid sched_param.
        if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
            tracing::debug!(
                error = %std::io::Error::last_os_error(),
                "the background pack thread keeps its normal priority"
            );
        }
    }
}
