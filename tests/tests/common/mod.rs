//! Starts the real `cogway` binary on a free port with a fresh SQLite file and talks to it.
//!
//! The binary is `$COGWAY_BIN` (the Makefile sets it), else `$CARGO_TARGET_DIR/debug/cogway`.
//! Servers run with `exit_on_stdin_close`, so none outlives the test process.
#![allow(dead_code, clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::{Value, json};

pub const ADMIN_KEY: &str = "e2e-admin-key-0123456789abcdef";
pub const JWT_SECRET: &str = "e2e-jwt-secret-0123456789abcdef0123456789";

pub struct Server {
    pub base: String,
    /// What the server printed on stdout before it listened (e.g. a first-start admin key).
    pub preamble: Vec<String>,
    pub db_path: PathBuf,
    child: Child,
    stdin: Option<ChildStdin>,
    client: Client,
}

/// True when the servers of this test run use Postgres (`COGWAY_TEST_POSTGRES`).
pub fn on_postgres() -> bool {
    std::env::var("COGWAY_TEST_POSTGRES").is_ok_and(|u| !u.is_empty())
}

pub fn binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("COGWAY_BIN") {
        return PathBuf::from(bin);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/cogway")
}

const TEMP_PREFIX: &str = "cogway-e2e-";

/// Removes the temporary directories of test processes that have ended. A directory cannot go
/// when its server stops (tests restart servers on the same database), and the shared servers are
/// never dropped, so each test process sweeps up after the earlier ones instead (a directory can
/// hold hundreds of MB of unpacked models and user data). Names carry the pid:
/// `cogway-e2e-<pid>-<n>-<nanos>`; a pid with no `/proc` entry has ended.
fn remove_stale_temp_dirs() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else { return };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(TEMP_PREFIX)).and_then(|n| n.split('-').next())
        else {
            continue;
        };
        if !pid.is_empty() && !std::path::Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A new, empty database file path in a fresh temporary directory.
pub fn fresh_db_path() -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    static SWEEP: std::sync::Once = std::sync::Once::new();
    SWEEP.call_once(remove_stale_temp_dirs);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    let dir = std::env::temp_dir().join(format!("{TEMP_PREFIX}{}-{n}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("cogway.db")
}

impl Server {
    /// Starts a server on `db_path` with extra `COGWAY__...` settings and waits until `/ready`.
    pub fn start_with(db_path: PathBuf, env: &[(&str, &str)]) -> Server {
        let server = Self::launch(db_path, env, true);
        server.wait_ready();
        server
    }

    /// Starts a server with no admin key configured (it makes one on a first start).
    pub fn start_without_admin_key(db_path: PathBuf) -> Server {
        let server = Self::launch(db_path, &[], false);
        server.wait_ready();
        server
    }

    /// Starts a server that may never become ready (e.g. a model is missing); waits until its
    /// models have finished loading, whatever the outcome.
    pub fn start_unready(env: &[(&str, &str)]) -> Server {
        let server = Self::launch(fresh_db_path(), env, true);
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            let body = server.get("/ready").send().map(|r| r.text().unwrap_or_default()).unwrap_or_default();
            if !body.is_empty() && !body.contains("\"loading\"") {
                return server;
            }
            assert!(Instant::now() < deadline, "cogway models did not finish loading");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn launch(db_path: PathBuf, env: &[(&str, &str)], admin_key: bool) -> Server {
        let bin = binary();
        assert!(bin.exists(), "cogway binary not found at {} (build it, or set COGWAY_BIN)", bin.display());
        let mut cmd = Command::new(&bin);
        cmd.args(["serve", "--port", "0", "--host", "127.0.0.1", "--database"])
            .arg(database_url(&db_path))
            .env("COGWAY__AUTH__JWT_SECRET", JWT_SECRET)
            .env("COGWAY__SERVER__EXIT_ON_STDIN_CLOSE", "true")
            .env("COGWAY__SERVER__WORKERS", "2")
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if admin_key {
            cmd.env("COGWAY__AUTH__ADMIN_KEY", ADMIN_KEY);
        } else {
            cmd.env_remove("COGWAY__AUTH__ADMIN_KEY");
        }
        // An empty value removes the variable (e.g. the JWT secret the harness sets by default).
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let mut child = cmd.spawn().expect("start cogway");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut preamble = Vec::new();
        let port = loop {
            let line = lines.next().expect("cogway exited before listening").unwrap();
            if let Some(port) = line.strip_prefix("cogway listening on port ") {
                break port.trim().parse::<u16>().unwrap();
            }
            preamble.push(line);
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let stdin = child.stdin.take();
        Server {
            base: format!("http://127.0.0.1:{port}"),
            preamble,
            db_path,
            child,
            stdin,
            // Idle connections are dropped before the server's 5 s keep-alive closes them: a request
            // sent on a connection the server is closing fails with IncompleteMessage (seen once in CI
            // on a PUT, which the client does not retry).
            client: Client::builder()
                .timeout(Duration::from_secs(120))
                .pool_idle_timeout(Duration::from_secs(2))
                .build()
                .unwrap(),
        }
    }

    pub fn start() -> Server {
        Self::start_with(fresh_db_path(), &[])
    }

    fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Ok(r) = self.client.get(self.url("/ready")).send()
                && r.status() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "cogway did not become ready within 180 s");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The server's resident memory now and at its peak (VmRSS, VmHWM), in MB.
    pub fn rss_mb(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                .map_or(0, |kb| kb / 1024)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// Whether the server still answers `/livez`.
    pub fn alive(&self) -> bool {
        self.get("/livez").send().is_ok_and(|r| r.status() == 200)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.client.get(self.url(path))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.client.post(self.url(path))
    }

    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path))
    }

    /// Creates a key through the admin API; returns (key, id).
    pub fn create_key(&self, body: Value) -> (String, String) {
        let r = self.post("/admin/keys").header("Ocp-Apim-Subscription-Key", ADMIN_KEY).json(&body).send().unwrap();
        assert_eq!(r.status(), 201, "creating a key: {}", r.text().unwrap_or_default());
        let v: Value = r.json().unwrap();
        (v["key"].as_str().unwrap().to_string(), v["info"]["id"].as_str().unwrap().to_string())
    }

    /// `POST /language/:analyze-text` with the admin key; returns (status, body).
    pub fn analyze(&self, kind: &str, documents: Value, parameters: Value) -> (u16, Value) {
        let body = json!({ "kind": kind, "parameters": parameters, "analysisInput": { "documents": documents } });
        let r = self
            .post("/language/:analyze-text?api-version=2023-04-01")
            .header("Ocp-Apim-Subscription-Key", ADMIN_KEY)
            .json(&body)
            .send()
            .unwrap();
        status_json(r)
    }

    /// Stops the server as an orchestrator would (closing stdin triggers a graceful stop).
    pub fn stop(mut self) {
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

pub fn status_json(r: Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let text = r.text().unwrap();
    let value = match serde_json::from_str(&text) {
        Ok(v) => v,
        Err(_) => Value::String(text),
    };
    (status, value)
}

/// One server shared by the tests of a test binary.
pub fn shared() -> &'static Server {
    static SERVER: OnceLock<Server> = OnceLock::new();
    SERVER.get_or_init(Server::start)
}

/// Asserts Azure's error shape and returns the `error` object.
pub fn azure_error(body: &Value) -> &Value {
    let err = &body["error"];
    assert!(err["code"].is_string(), "not an Azure error body: {body}");
    assert!(err["message"].as_str().is_some_and(|m| !m.is_empty()), "error without a message: {body}");
    err
}

/// Where the model store installed the models (`$COGWAY_MODELS_DIR`, else the cache's `models`).
pub fn models_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("COGWAY_MODELS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("COGWAY_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").unwrap()).join(".cache").join("cogway"));
    cache.join("models")
}

/// The database a test server with this `db_path` uses: the SQLite file, or, when
/// `COGWAY_TEST_POSTGRES` holds a Postgres URL (`make test-cluster` sets it), a database of that
/// server named after the path (created on first use, so a restarted server finds its data).
pub fn database_url(db_path: &std::path::Path) -> String {
    use std::hash::{Hash, Hasher};
    let Some(admin_url) = std::env::var("COGWAY_TEST_POSTGRES").ok().filter(|u| !u.is_empty()) else {
        return format!("sqlite://{}", db_path.display());
    };
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    db_path.hash(&mut hasher);
    let name = format!("cogway_test_{:016x}", hasher.finish());
    // CREATE DATABASE fails when it exists (a restart): that is fine.
    let _ = Command::new("psql")
        .args([admin_url.as_str(), "-q", "-c", &format!("CREATE DATABASE {name}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => admin_url,
    }
}
