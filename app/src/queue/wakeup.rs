use std::sync::Arc;
use tokio::sync::Notify;

/// Wakes the dispatcher of this process as soon as new work is queued, instead of at its next
/// poll. A wake-up sent while the dispatcher is busy is kept until it next waits.
#[derive(Clone, Debug, Default)]
pub struct Wakeup(Arc<Notify>);

impl Wakeup {
    pub fn notify(&self) {
        self.0.notify_one();
    }

    pub async fn wait(&self) {
        self.0.notified().await;
    }
}
