//! Deployed models kept ready in memory (question answering indexes, CLU models), by (key,
//! project, deployment), each with the deployment time it was built from: a redeployment (on any
//! replica) changes the time, so the next request builds it again. Bounded: past the capacity the
//! oldest deployment is forgotten.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

type Key = (String, String, String);

pub struct DeploymentCache<T> {
    capacity: usize,
    entries: Mutex<HashMap<Key, (i64, Arc<T>)>>,
}

impl<T> DeploymentCache<T> {
    pub fn new(capacity: usize) -> Self {
        Self { capacity: capacity.max(1), entries: Mutex::new(HashMap::new()) }
    }

    fn key(owner: &str, project: &str, deployment: &str) -> Key {
        (owner.to_string(), project.to_string(), deployment.to_string())
    }

    /// The cached model if it was built from the deployment made at `deployed_at`.
    pub fn get(&self, owner: &str, project: &str, deployment: &str, deployed_at: i64) -> Option<Arc<T>> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(&Self::key(owner, project, deployment)).filter(|(at, _)| *at == deployed_at).map(|(_, v)| v.clone())
    }

    pub fn insert(&self, owner: &str, project: &str, deployment: &str, deployed_at: i64, value: Arc<T>) {
        let key = Self::key(owner, project, deployment);
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= self.capacity
            && !entries.contains_key(&key)
            && let Some(oldest) = entries.iter().min_by_key(|(_, (at, _))| *at).map(|(k, _)| k.clone())
        {
            entries.remove(&oldest);
        }
        entries.insert(key, (deployed_at, value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redeployment_or_the_capacity_evicts() {
        let cache = DeploymentCache::new(2);
        cache.insert("k", "p", "prod", 10, Arc::new(1));
        assert_eq!(cache.get("k", "p", "prod", 10).as_deref(), Some(&1));
        assert!(cache.get("k", "p", "prod", 11).is_none(), "redeployed since");
        cache.insert("k", "q", "prod", 20, Arc::new(2));
        cache.insert("k", "r", "prod", 30, Arc::new(3));
        assert!(cache.get("k", "p", "prod", 10).is_none(), "the oldest went");
        assert_eq!(cache.get("k", "r", "prod", 30).as_deref(), Some(&3));
    }
}
