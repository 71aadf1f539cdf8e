//! A throwaway PostgreSQL cluster for the tests: Debian's `postgresql` package (`initdb`, `pg_ctl`),
//! initialised in a temporary folder, listening on a free loopback port, trusting local connections,
//! stopped when the test binary exits. `initdb` refuses to run as root, so under root the cluster
//! belongs to the `postgres` user (the package creates it).
//!
//! Each caller gets a database of its own on one cluster per test binary ([`database`]), so tests run
//! in parallel without seeing each other's rows.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

/// The cluster of this test binary.
pub struct Cluster {
    /// Holds the data folder; removed by [`Cluster::stop`] (statics are never dropped).
    _dir: tempfile::TempDir,
    data: PathBuf,
    bin: PathBuf,
    run_as_postgres: bool,
    port: u16,
}

static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DATABASE: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database on this binary's cluster (started on first use): its URL.
pub fn database() -> String {
    let cluster = CLUSTER.get_or_init(Cluster::start);
    let name = format!("test_{}_{}", std::process::id(), NEXT_DATABASE.fetch_add(1, Ordering::Relaxed));
    cluster.psql(&format!("CREATE DATABASE {name}"));
    cluster.url(&name)
}

impl Cluster {
    fn start() -> Cluster {
        let bin = bin_dir();
        let dir = tempfile::Builder::new().prefix("lore-pg-").tempdir().expect("a temporary folder for PostgreSQL");
        let run_as_postgres = is_root();
        if run_as_postgres {
            let uid = postgres_uid();
            std::os::unix::fs::chown(dir.path(), Some(uid), None).expect("the cluster folder handed to postgres");
        }
        let data = dir.path().join("data");
        let port = free_port();
        let cluster = Cluster { _dir: dir, data, bin, run_as_postgres, port };
        cluster.run(
            "initdb",
            &["-D", path_str(&cluster.data), "-U", "lore", "--auth=trust", "-E", "UTF8", "--locale=C", "--no-sync"],
        );
        let socket_dir = cluster.data.parent().expect("data has a parent").to_path_buf();
        let options = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off -c max_connections=300",
            socket_dir.display()
        );
        let log = socket_dir.join("server.log");
        cluster.run("pg_ctl", &["-D", path_str(&cluster.data), "-l", path_str(&log), "-o", &options, "-w", "start"]);
        register_stop();
        cluster
    }

    fn url(&self, database: &str) -> String {
        format!("postgres://lore@127.0.0.1:{}/{database}", self.port)
    }

    fn psql(&self, sql: &str) {
        let port = self.port.to_string();
        let status = Command::new(self.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "lore", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qc", sql])
            .status()
            .expect("psql runs");
        assert!(status.success(), "psql failed on {sql:?}");
    }

    /// Runs one of the server's programs, as `postgres` when the tests run as root.
    fn run(&self, program: &str, args: &[&str]) {
        let program = self.bin.join(program);
        let mut command = if self.run_as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let output = command.args(args).output().unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()));
        assert!(
            output.status.success(),
            "{} failed: {}{}",
            program.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }

    fn stop(&self) {
        let data = path_str(&self.data).to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        let _ = std::fs::remove_dir_all(self._dir.path());
    }
}

/// The newest installed server's programs (`LORE_TEST_PG_BIN` overrides). Panics with the command to run
/// when PostgreSQL is missing: the tests that need it must not pass without it.
fn bin_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LORE_TEST_PG_BIN") {
        return PathBuf::from(dir);
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).expect(
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): run `scripts/setup.sh --test` first",
    )
}

fn is_root() -> bool {
    output_of("id", &["-u"]) == "0"
}

fn postgres_uid() -> u32 {
    output_of("id", &["-u", "postgres"]).parse().expect("the postgres user exists (Debian's postgresql package)")
}

fn output_of(program: &str, args: &[&str]) -> String {
    let output = Command::new(program).args(args).output().unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("a free loopback port").port()
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temporary paths are UTF-8")
}

/// Statics are never dropped, so the cluster is stopped by an exit handler.
fn register_stop() {
    extern "C" fn stop_cluster() {
        if let Some(cluster) = CLUSTER.get() {
            cluster.stop();
        }
    }
    // SAFETY: `atexit` only stores the function pointer; `stop_cluster` is a plain `extern "C" fn`.
    unsafe {
        libc::atexit(stop_cluster);
    }
}
