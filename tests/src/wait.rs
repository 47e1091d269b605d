//! Deadlines for cross-process steps: every step of a browser or process
//! scenario fails with its name instead of hanging the test run.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Awaits `fut` for at most `secs`, so a stuck step fails with its name.
pub async fn within<T>(what: &str, secs: u64, fut: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    eprintln!("[step] {what}");
    match tokio::time::timeout(Duration::from_secs(secs), fut).await {
        Ok(r) => r.with_context(|| format!("step failed: {what}")),
        Err(_) => bail!("step timed out after {secs} s: {what}"),
    }
}

/// Polls `probe` every 100 ms until it returns `Some`, for at most `secs`.
pub async fn until<T, F, Fut>(what: &str, secs: u64, mut probe: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Option<T>>>,
{
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    loop {
        match probe().await {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => {}
            Err(e) => last = format!(" (last error: {e:#})"),
        }
        if Instant::now() >= deadline {
            bail!("{what}: not so within {secs} s{last}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
