//! Names no other process uses: for a queue handle's consumer, a pool's caller, a worker.

use std::sync::atomic::{AtomicU64, Ordering};

/// A name unique across machines and processes: host, process, a counter and the clock
/// (a pid reused on the same host comes with another time).
pub(crate) fn unique_name() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "host".into());
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_nanos())
        .unwrap_or_default();
    format!(
        "{host}-{}-{}-{now:x}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A duration as the milliseconds Redis takes (`BLOCK`, `PX`, `PEXPIRE`, idle times),
/// saturating.
pub(crate) fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}
