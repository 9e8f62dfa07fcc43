//! Work on several containers at once: podman's lifecycle commands stop (and restart) the
//! containers they pick in parallel, so that N that ignore the stop signal take one
//! timeout, not N. The engine takes it: its store is a pool of connections and each
//! container has its own lock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Enough for the waits to overlap; not a thread per container for `stop --all` of
/// thousands.
const AT_ONCE: usize = 32;

/// `op` on every item at once, on threads of their own (at most `AT_ONCE` at a time), its
/// results in the order of the items. A panic in `op` is the caller's, as if it ran here.
pub fn at_once<I: Sync, T: Send>(items: &[I], op: impl Fn(&I) -> T + Sync) -> Vec<T> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..items.len().min(AT_ONCE) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                let result = op(item);
                results.lock().unwrap_or_else(|p| p.into_inner())[i] = Some(result);
            });
        }
    });
    // Every slot is filled: a thread that panicked made the scope panic above.
    results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_items_order_and_the_work_overlaps() {
        let items: Vec<u64> = (0..40).collect();
        let running = AtomicUsize::new(0);
        let most = AtomicUsize::new(0);
        let doubled = at_once(&items, |n| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            // Later items finish first.
            std::thread::sleep(std::time::Duration::from_millis(40 - n));
            running.fetch_sub(1, Ordering::SeqCst);
            n * 2
        });
        assert_eq!(doubled, items.iter().map(|n| n * 2).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!(most > 1 && most <= AT_ONCE, "{most} at once");
        assert!(at_once(&[] as &[u64], |n| *n).is_empty());
    }
}
