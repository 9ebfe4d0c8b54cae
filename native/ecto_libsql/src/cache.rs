//! The per-connection statement cache policy: SQL text to prepared
//! statement, bounded, least recently used out first. Generic over the
//! statement type so the policy is tested without a database.

use std::collections::HashMap;

/// A bounded map from SQL text to a value, evicting the least recently used
/// entry when full. A capacity of zero disables caching.
pub struct StatementCache<S> {
    capacity: usize,
    tick: u64,
    entries: HashMap<String, Entry<S>>,
    hits: u64,
    misses: u64,
    evictions: u64,
}

struct Entry<S> {
    value: S,
    last_used: u64,
}

/// Counters for observability (`EctoLibSql.Native.cache_stats/1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub size: usize,
    pub capacity: usize,
    pub hits: u64,
    pub misses: u64,
    pub evictions: u64,
}

impl<S> StatementCache<S> {
    pub fn new(capacity: usize) -> Self {
        StatementCache {
            capacity,
            tick: 0,
            entries: HashMap::new(),
            hits: 0,
            misses: 0,
            evictions: 0,
        }
    }

    /// The cached value for `sql`, marked as just used. Counts a hit or a
    /// miss.
    pub fn get(&mut self, sql: &str) -> Option<&S> {
        self.tick += 1;
        match self.entries.get_mut(sql) {
            Some(entry) => {
                self.hits += 1;
                entry.last_used = self.tick;
                Some(&entry.value)
            }
            None => {
                self.misses += 1;
                None
            }
        }
    }

    /// The cached value for `sql`, without counting or marking a use.
    pub fn peek(&self, sql: &str) -> Option<&S> {
        self.entries.get(sql).map(|e| &e.value)
    }

    /// Caches `value` for `sql` and returns a reference to it, evicting the
    /// least recently used entry if the cache is full. Returns the value back
    /// when caching is disabled.
    pub fn insert(&mut self, sql: &str, value: S) -> std::result::Result<&S, S> {
        if self.capacity == 0 {
            return Err(value);
        }
        if self.entries.len() >= self.capacity && !self.entries.contains_key(sql) {
            self.evict_one();
        }
        self.tick += 1;
        let entry = self.entries.entry(sql.to_string()).or_insert(Entry {
            value,
            last_used: 0,
        });
        entry.last_used = self.tick;
        Ok(&entry.value)
    }

    /// Drops the entry for `sql`, for example after its schema changed.
    pub fn remove(&mut self, sql: &str) -> Option<S> {
        self.entries.remove(sql).map(|e| e.value)
    }

    pub fn values(&self) -> impl Iterator<Item = &S> {
        self.entries.values().map(|e| &e.value)
    }

    pub fn clear(&mut self) {
        self.entries.clear();
    }

    pub fn stats(&self) -> Stats {
        Stats {
            size: self.entries.len(),
            capacity: self.capacity,
            hits: self.hits,
            misses: self.misses,
            evictions: self.evictions,
        }
    }

    fn evict_one(&mut self) {
        // A linear scan: it only runs on a miss with a full cache, and keeps
        // the hot path (a hit) to one hash lookup with no list to maintain.
        let oldest = self
            .entries
            .iter()
            .min_by_key(|(_, e)| e.last_used)
            .map(|(k, _)| k.clone());
        if let Some(key) = oldest {
            self.entries.remove(&key);
            self.evictions += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn least_recently_used_goes_first() {
        let mut cache = StatementCache::new(2);
        cache.insert("a", 1).unwrap();
        cache.insert("b", 2).unwrap();
        assert_eq!(cache.get("a"), Some(&1));
        cache.insert("c", 3).unwrap();
        assert_eq!(cache.get("b"), None);
        assert_eq!(cache.get("a"), Some(&1));
        assert_eq!(cache.get("c"), Some(&3));
        assert_eq!(cache.stats().evictions, 1);
    }

    #[test]
    fn zero_capacity_caches_nothing() {
        let mut cache = StatementCache::new(0);
        assert_eq!(cache.insert("a", 1), Err(1));
        assert_eq!(cache.stats().size, 0);
    }

    #[test]
    fn hits_and_misses_are_counted() {
        let mut cache = StatementCache::new(4);
        assert_eq!(cache.get("a"), None);
        cache.insert("a", 1).unwrap();
        cache.get("a");
        cache.get("a");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.size), (2, 1, 1));
    }

    proptest! {
        #[test]
        fn never_exceeds_capacity(capacity in 1usize..16, keys in proptest::collection::vec(0u8..32, 0..200)) {
            let mut cache = StatementCache::new(capacity);
            for k in keys {
                let key = k.to_string();
                if cache.get(&key).is_none() {
                    cache.insert(&key, k).unwrap();
                }
                prop_assert!(cache.stats().size <= capacity);
                // What was just used is always still there.
                prop_assert_eq!(cache.get(&key), Some(&k));
            }
        }
    }
}
