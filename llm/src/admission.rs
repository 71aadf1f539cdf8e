//! The bounded queue in front of a model: a request holds a [`Ticket`] from before it is queued until its
//! last token, and none is handed out past the capacity. Waiting is done by the backend's own scheduler;
//! this only bounds how many requests (and their prompts and KV caches) can pile up.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::LlmError;

#[derive(Debug, Clone)]
pub struct Admission {
    slots: Arc<Semaphore>,
    capacity: usize,
}

/// A place in the queue; dropping it frees the place.
#[derive(Debug)]
pub struct Ticket {
    _permit: OwnedSemaphorePermit,
}

impl Admission {
    pub fn new(capacity: usize) -> Self {
        Self { slots: Arc::new(Semaphore::new(capacity)), capacity }
    }

    /// A ticket, or [`LlmError::Busy`] at once when `capacity` requests already hold one.
    pub fn enter(&self) -> Result<Ticket, LlmError> {
        match self.slots.clone().try_acquire_owned() {
            Ok(permit) => Ok(Ticket { _permit: permit }),
            Err(_) => Err(LlmError::Busy { waiting: self.capacity }),
        }
    }

    /// Requests running or waiting now.
    pub fn in_use(&self) -> usize {
        self.capacity - self.slots.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_capacity_and_frees_on_drop() {
        let admission = Admission::new(2);
        let first = admission.enter().unwrap();
        let _second = admission.enter().unwrap();
        assert!(matches!(admission.enter(), Err(LlmError::Busy { waiting: 2 })));
        assert_eq!(admission.in_use(), 2);
        drop(first);
        assert!(admission.enter().is_ok());
    }
}
