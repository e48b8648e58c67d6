//! Allocation of status list indices. A new certificate gets a random index in the current list,
//! so an index reveals nothing about when or in which order certificates were issued. A taken index
//! is rejected by the store's unique constraint and the caller draws again.

use std::sync::Mutex;

use rand::Rng;

use super::{StatusEntry, LIST_SIZE};

/// Entries after which a list counts as full and allocation moves on to the next list. At half
/// full a random draw hits a taken index with probability one half, so draws stay cheap.
pub const FILL_LIMIT: u32 = LIST_SIZE / 2;

/// Taken indices in a row after which allocation moves on to the next list, because other nodes
/// sharing the database have filled the current one.
const COLLISIONS_BEFORE_NEXT_LIST: u32 = 8;

#[derive(Debug)]
struct State {
    list: u32,
    /// Entries of `list` known to be taken: the count at start-up plus this process's allocations.
    used: u32,
    collisions_in_a_row: u32,
}

/// Hands out random candidate indices and tracks how full the current list is.
#[derive(Debug)]
pub struct StatusAllocator {
    state: Mutex<State>,
}

impl StatusAllocator {
    /// Starts from the highest list in use and its number of entries (`None` for an empty store).
    pub fn new(usage: Option<(u32, u32)>) -> Self {
        let (list, used) = match usage {
            Some((list, used)) if used >= FILL_LIMIT => (list + 1, 0),
            Some((list, used)) => (list, used),
            None => (0, 0),
        };
        Self {
            state: Mutex::new(State {
                list,
                used,
                collisions_in_a_row: 0,
            }),
        }
    }

    /// Returns a random index of the current list, which may still be taken.
    pub fn candidate(&self) -> StatusEntry {
        let list = self.state.lock().map_or(0, |state| state.list);
        StatusEntry {
            list,
            index: rand::thread_rng().gen_range(0..LIST_SIZE),
        }
    }

    /// Records that `entry` is now this certificate's.
    pub fn taken(&self, entry: StatusEntry) {
        if let Ok(mut state) = self.state.lock() {
            if state.list == entry.list {
                state.used += 1;
                state.collisions_in_a_row = 0;
                if state.used >= FILL_LIMIT {
                    state.list += 1;
                    state.used = 0;
                }
            }
        }
    }

    /// Records that `entry` was already taken by another certificate.
    pub fn collided(&self, entry: StatusEntry) {
        if let Ok(mut state) = self.state.lock() {
            if state.list == entry.list {
                state.collisions_in_a_row += 1;
                if state.collisions_in_a_row >= COLLISIONS_BEFORE_NEXT_LIST {
                    state.list += 1;
                    state.used = 0;
                    state.collisions_in_a_row = 0;
                }
            }
        }
    }
}
