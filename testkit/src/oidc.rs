//! A real OpenID provider for the tests: `testkit/oidc-provider/provider.mjs` (the OpenID Certified
//! `oidc-provider` npm package, which `scripts/setup.sh --test` installs) started on loopback, with
//! the users that script lists. Stopped when dropped.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const CLIENT_ID: &str = "lore";
pub const CLIENT_SECRET: &str = "only-for-tests-on-loopback";

pub struct OidcProvider {
    pub issuer: String,
    child: Child,
}

/// A port nobody listens on now, for a provider whose issuer must be known before it starts.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl OidcProvider {
    /// Starts the provider on `port` for Lore's client, which may come back to `redirect_uris`; returns
    /// once it listens.
    pub fn start(port: u16, redirect_uris: &[String]) -> Self {
        let dir = crate::workspace_root().join("testkit/oidc-provider");
        assert!(
            dir.join("node_modules/oidc-provider").is_dir(),
            "the test identity provider is missing: run `scripts/setup.sh --test` (npm ci in {})",
            dir.display()
        );
        let mut child = Command::new("node")
            .current_dir(&dir)
            .arg("provider.mjs")
            .arg(port.to_string())
            .args([CLIENT_ID, CLIENT_SECRET])
            .args(redirect_uris)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node runs");
        let stdout = child.stdout.take().expect("piped");
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = BufReader::new(stdout).lines();
        let issuer = loop {
            assert!(Instant::now() < deadline, "the test identity provider did not start");
            match lines.next() {
                Some(Ok(line)) if line.starts_with("ready ") => break line["ready ".len()..].to_string(),
                Some(Ok(_)) => continue,
                _ => panic!("the test identity provider stopped before it was ready"),
            }
        };
        // Keep reading what it prints: a closed pipe would end it at its next line.
        std::thread::spawn(move || lines.for_each(drop));
        Self { issuer, child }
    }
}

impl Drop for OidcProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
