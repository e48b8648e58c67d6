//! Fetching status lists over HTTP for a verifier, with a cache that keeps each verified list
//! for its `ttl`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::status::StatusLists;
use super::{StatusList, VerifyError, VerifyOptions};

/// How long a list without a `ttl` is cached, in seconds.
const DEFAULT_TTL_SECONDS: i64 = 300;
/// The maximum time a list is cached whatever its `ttl`, in seconds.
const MAX_TTL_SECONDS: i64 = 3600;
/// The largest list accepted over HTTP, in bytes.
const MAX_LIST_BYTES: usize = 8 * 1024 * 1024;
/// Time allowed for one fetch, connection included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Lists after which the cache is emptied, so that many distinct URLs cannot grow memory.
const MAX_CACHED_LISTS: usize = 1000;

struct Cached {
    list: Arc<StatusList>,
    expires: Instant,
    generation: u64,
}

/// Fetches status lists and caches the verified ones.
pub struct StatusListFetcher {
    client: reqwest::Client,
    cache: Mutex<HashMap<String, Cached>>,
    /// When set, a change of this counter empties the cache. The server increments it whenever it
    /// changes a status, so its own verify API never uses a list older than the change.
    generation: Option<Arc<AtomicU64>>,
}

impl StatusListFetcher {
    pub fn new(generation: Option<Arc<AtomicU64>>) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::limited(3))
            .build()
            .map_err(|error| format!("cannot build the HTTP client: {error}"))?;
        Ok(Self {
            client,
            cache: Mutex::default(),
            generation,
        })
    }

    /// Returns the verified list of each URI, from the cache or fetched now.
    pub async fn lists(&self, uris: &[String], options: &VerifyOptions) -> StatusLists {
        let mut lists = StatusLists::new();
        for uri in uris {
            let list = match self.cached(uri) {
                Some(list) => Ok(list),
                None => self.fetch(uri, options).await,
            };
            lists.insert(uri.clone(), list);
        }
        lists
    }

    fn current_generation(&self) -> u64 {
        self.generation
            .as_ref()
            .map_or(0, |generation| generation.load(Ordering::Relaxed))
    }

    fn cached(&self, uri: &str) -> Option<Arc<StatusList>> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.get(uri)?;
        (entry.expires > Instant::now() && entry.generation == self.current_generation())
            .then(|| Arc::clone(&entry.list))
    }

    async fn fetch(
        &self,
        uri: &str,
        options: &VerifyOptions,
    ) -> Result<Arc<StatusList>, VerifyError> {
        let unavailable = |detail: String| VerifyError::StatusUnavailable {
            uri: uri.to_owned(),
            detail,
        };
        if !(uri.starts_with("https://") || uri.starts_with("http://")) {
            return Err(unavailable("only http and https URLs are fetched".into()));
        }
        let generation = self.current_generation();
        let response = self
            .client
            .get(uri)
            .header(
                reqwest::header::ACCEPT,
                "application/statuslist+jwt, application/vc+jwt",
            )
            .send()
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        if !response.status().is_success() {
            return Err(unavailable(format!(
                "the server answered {}",
                response.status()
            )));
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_LIST_BYTES as u64)
        {
            return Err(unavailable(format!(
                "the list is larger than {MAX_LIST_BYTES} bytes"
            )));
        }
        let body = response
            .bytes()
            .await
            .map_err(|error| unavailable(error.to_string()))?;
        if body.len() > MAX_LIST_BYTES {
            return Err(unavailable(format!(
                "the list is larger than {MAX_LIST_BYTES} bytes"
            )));
        }
        let text = std::str::from_utf8(&body)
            .map_err(|_| unavailable("the list is not UTF-8 text".into()))?;
        let list = Arc::new(StatusList::parse(text, Some(uri), options)?);
        let ttl = list
            .ttl
            .unwrap_or(DEFAULT_TTL_SECONDS)
            .clamp(0, MAX_TTL_SECONDS);
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_LISTS {
                cache.clear();
            }
            cache.insert(
                uri.to_owned(),
                Cached {
                    list: Arc::clone(&list),
                    expires: Instant::now() + Duration::from_secs(ttl.unsigned_abs()),
                    generation,
                },
            );
        }
        Ok(list)
    }
}
