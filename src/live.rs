//! The retriever in service, swappable while questions are being answered.
//!
//! A question takes the current [`Retriever`] (an `Arc` clone) and keeps it until its answer is
//! out, so a reload never changes the index under a question in flight: questions that started
//! before the swap finish on the old index, new ones use the new one.

use crate::retrieval::Retriever;
use std::sync::{Arc, RwLock};

/// A shared handle to the retriever in service.
#[derive(Debug)]
pub struct Live {
    current: RwLock<Arc<Retriever>>,
}

impl Live {
    /// Puts `retriever` in service.
    pub fn new(retriever: Retriever) -> Live {
        Live { current: RwLock::new(Arc::new(retriever)) }
    }

    /// The retriever in service now.
    pub fn current(&self) -> Arc<Retriever> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            // A writer panicked mid-swap: the value itself is still a whole Arc.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `retriever` in service and returns the one it replaces.
    pub fn replace(&self, retriever: Retriever) -> Arc<Retriever> {
        let new = Arc::new(retriever);
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        std::mem::replace(&mut *guard, new)
    }
}
