//! Where Cogway keeps its downloads and models on this machine (the gateway's defaults, and what
//! the model tests read).

use std::path::PathBuf;

/// The cache root: `$COGWAY_CACHE`, else `~/.cache/cogway`.
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COGWAY_CACHE") {
        return PathBuf::from(dir);
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".cache").join("cogway")
}

/// The models the store installs: `$COGWAY_MODELS_DIR`, else `<cache>/models`.
pub fn models_dir() -> PathBuf {
    std::env::var_os("COGWAY_MODELS_DIR").map_or_else(|| cache_dir().join("models"), PathBuf::from)
}
