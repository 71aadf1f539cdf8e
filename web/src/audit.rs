//! Recording the audit log: give it a caller and what they did, get an event appended to the catalog's
//! `audit_events` in the background. Requests never wait for the database: events go through a bounded
//! channel to one writer task that appends whatever has queued up in one transaction (a search while
//! ingestion holds SQLite's write lock is not slowed down). When the channel is full, the request waits
//! for room rather than lose an event.

use std::net::IpAddr;
use std::sync::Arc;

use lore_core::accounts::UserId;
use lore_core::audit::{AuditAction, AuditEvent, AuditLog};
use lore_core::config::AuditConfig;
use tokio::sync::mpsc;

use crate::access::Caller;

/// Events waiting for the writer at most.
const QUEUE: usize = 4096;
/// Events one append carries at most.
const BATCH: usize = 500;

pub struct Auditor {
    /// `None` when the audit log is off (`audit.enabled = false`).
    events: Option<mpsc::Sender<AuditEvent>>,
}

impl Auditor {
    /// Starts the writer task (when enabled).
    pub fn start(log: Arc<dyn AuditLog>, config: &AuditConfig) -> Self {
        if !config.enabled {
            return Self { events: None };
        }
        let (sender, mut receiver) = mpsc::channel::<AuditEvent>(QUEUE);
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while receiver.recv_many(&mut batch, BATCH).await > 0 {
                if let Err(error) = log.append(&batch).await {
                    tracing::error!(%error, events = batch.len(), "cannot append to the audit log");
                }
                batch.clear();
            }
        });
        Self { events: Some(sender) }
    }

    /// Records what `caller` did.
    pub async fn record(&self, caller: &Caller, action: AuditAction, subject: &str) {
        let user = caller.user.as_ref().map(|u| u.id);
        self.record_as(user, caller.actor(), caller.client, action, subject).await;
    }

    /// Records what someone did who is not (or not yet) a caller: a sign-in, say.
    pub async fn record_as(
        &self,
        user: Option<UserId>,
        actor: String,
        client: Option<IpAddr>,
        action: AuditAction,
        subject: &str,
    ) {
        let Some(events) = &self.events else { return };
        let event = AuditEvent::now(user, &actor, client.map(|ip| ip.to_string()), action, subject);
        if events.send(event).await.is_err() {
            tracing::error!(action = action.as_str(), "the audit log's writer has stopped; an event is lost");
        }
    }
}
