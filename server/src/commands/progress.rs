//! Progress bars for syncs: files done out of files to read, with files/s and chunks/s.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use lore_ingest::progress::{FileOutcome, Progress, ProgressEvent};

pub struct BarProgress {
    bar: ProgressBar,
    started: Instant,
    chunks: AtomicU64,
    files: AtomicU64,
}

impl BarProgress {
    /// A bar on stderr; hidden when stderr is not a terminal (CI logs, pipes) or when `quiet`.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet { ProgressDrawTarget::hidden() } else { ProgressDrawTarget::stderr() };
        let bar = ProgressBar::with_draw_target(None, target);
        bar.set_style(ProgressStyle::with_template("{spinner} {msg}").expect("static template"));
        bar.enable_steady_tick(Duration::from_millis(120));
        Self { bar, started: Instant::now(), chunks: AtomicU64::new(0), files: AtomicU64::new(0) }
    }

    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }

    fn refresh_message(&self, current: &str) {
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        let files = self.files.load(Ordering::Relaxed) as f64 / secs;
        let chunks = self.chunks.load(Ordering::Relaxed);
        let rate = chunks as f64 / secs;
        self.bar.set_message(format!("{files:.1} files/s · {chunks} chunks, {rate:.0}/s · {current}"));
    }
}

impl Progress for BarProgress {
    fn event(&self, event: ProgressEvent<'_>) {
        match event {
            ProgressEvent::Scanning => self.bar.set_message("scanning the folder…"),
            ProgressEvent::Planned { to_read, .. } => {
                self.bar.set_length(to_read);
                self.bar.set_position(0);
                self.bar.reset_eta();
                self.bar.set_style(
                    ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} files · {msg} · eta {eta}")
                        .expect("static template")
                        .progress_chars("=> "),
                );
            }
            ProgressEvent::Embedded { chunks } => {
                self.chunks.fetch_add(chunks, Ordering::Relaxed);
                self.refresh_message("embedding");
            }
            ProgressEvent::FileDone { path, outcome, .. } => {
                self.files.fetch_add(1, Ordering::Relaxed);
                self.bar.inc(1);
                let verb = match outcome {
                    FileOutcome::Indexed => "indexed",
                    FileOutcome::Unchanged => "unchanged",
                    FileOutcome::Failed => "failed",
                };
                self.refresh_message(&format!("{verb} {path}"));
            }
            ProgressEvent::Committed { .. } | ProgressEvent::Relabeled { .. } => {}
            ProgressEvent::Relabeling { documents } => {
                self.bar.set_message(format!("the source's ACL changed: relabelling {documents} documents…"))
            }
            ProgressEvent::Optimizing => self.bar.set_message("optimising the indexes for search…"),
        }
    }
}
