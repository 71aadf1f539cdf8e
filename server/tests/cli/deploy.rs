//! `docker-compose.yml` and the `Dockerfile` cannot run here (no image can be pulled), so they are
//! checked against the code they describe: services, the `lore` commands and flags they start (asked
//! of the binary itself), the configuration keys they set, ports, volumes and health checks.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().join(name)
}

fn compose() -> Value {
    let text = std::fs::read_to_string(repo_file("docker-compose.yml")).unwrap();
    serde_saphyr::from_str(&text).expect("docker-compose.yml is valid YAML")
}

fn help(subcommand: &str) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_lore")).args([subcommand, "--help"]).output().unwrap();
    assert!(out.status.success(), "lore {subcommand} --help failed");
    String::from_utf8(out.stdout).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().into_iter().flatten().filter_map(Value::as_str).map(str::to_string).collect()
}

/// A `LORE_A__B` variable's configuration path, checked against the configuration's own shape.
fn assert_is_config_key(variable: &str) {
    let path: Vec<String> =
        variable.strip_prefix("LORE_").unwrap().split("__").map(|part| part.to_ascii_lowercase()).collect();
    let mut node = serde_json::to_value(lore_core::config::Config::default()).unwrap();
    for part in &path {
        node = node.get(part).cloned().unwrap_or_else(|| panic!("{variable} names no configuration key"));
    }
}

#[test]
fn compose_names_the_services_the_code_expects() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    for name in ["postgres", "qdrant", "worker", "web", "model"] {
        let service = &services[name];
        assert!(service.is_object(), "service {name} is missing");
        assert!(service["healthcheck"]["test"].is_array(), "service {name} has no health check");
    }

    let qdrant = services["qdrant"]["image"].as_str().unwrap();
    let (major, minor) = lore_core::qdrant_server::SUPPORTED_SERVER;
    assert!(qdrant.starts_with(&format!("qdrant/qdrant:v{major}.{minor}.")), "{qdrant} is not the tested release");
    assert_eq!(services["qdrant"]["environment"]["QDRANT__TELEMETRY_DISABLED"], "true", "nothing leaves the network");
    assert!(services["postgres"]["image"].as_str().unwrap().starts_with("postgres:15"), "the tested PostgreSQL");

    for (name, subcommand) in [("worker", "worker"), ("web", "serve")] {
        let service = &services[name];
        let command = strings(&service["command"]);
        assert_eq!(command.first().map(String::as_str), Some(subcommand), "{name}: {command:?}");
        let help = help(subcommand);
        for flag in command.iter().filter(|arg| arg.starts_with("--")) {
            assert!(help.contains(flag.as_str()), "{name} runs `lore {subcommand} {flag}`, which does not exist");
        }
        let env = service["environment"].as_object().expect("environment");
        for key in ["LORE_CATALOG__URL", "LORE_VECTORS__URL"] {
            assert!(env.contains_key(key), "{name} does not set {key}");
        }
        for key in env.keys() {
            assert_is_config_key(key);
        }
        assert!(env["LORE_CATALOG__URL"].as_str().unwrap().contains("@postgres:5432/"), "{name}");
        assert_eq!(env["LORE_VECTORS__URL"], "http://qdrant:6334", "{name}: the gRPC port");
        assert!(service["deploy"]["replicas"].as_u64().unwrap() >= 2, "{name} is scaled out");
        assert!(strings(&service["volumes"]).iter().any(|v| v.ends_with(":/documents:ro")), "{name}: documents");
        for dependency in ["postgres", "qdrant"] {
            assert_eq!(service["depends_on"][dependency]["condition"], "service_healthy", "{name}");
        }
    }

    let web = &services["web"];
    let command = strings(&web["command"]);
    assert!(command.contains(&"--no-worker".to_string()), "web replicas leave ingestion to the workers");
    let addr = command.iter().position(|a| a == "--addr").map(|i| command[i + 1].clone()).unwrap();
    assert!(addr.ends_with(":8080"));
    assert!(strings(&web["ports"]).iter().all(|p| p.starts_with("127.0.0.1:") && p.ends_with(":8080")));
    assert!(web["environment"]["LORE_SERVER__PRINCIPAL_HEADER"].is_string(), "a non-loopback bind needs an auth mode");
    let web_check = strings(&web["healthcheck"]["test"]).join(" ");
    assert!(web_check.contains("127.0.0.1:8080/readyz"), "{web_check}");

    let worker_check = strings(&services["worker"]["healthcheck"]["test"]).join(" ");
    let worker_command = strings(&services["worker"]["command"]);
    let health = worker_command.iter().position(|a| a == "--health-addr").map(|i| worker_command[i + 1].clone());
    let port = health.expect("the worker's health check needs --health-addr").rsplit(':').next().unwrap().to_string();
    assert!(worker_check.contains(&format!("127.0.0.1:{port}/healthz")), "{worker_check}");

    // The optional model service: `lore serve-model` on the port its health check and the web
    // replicas' LORE_GENERATION__URL use.
    let model = &services["model"];
    let command = strings(&model["command"]);
    assert_eq!(command.first().map(String::as_str), Some("serve-model"));
    let help = help("serve-model");
    for flag in command.iter().filter(|arg| arg.starts_with("--")) {
        assert!(help.contains(flag.as_str()), "the model service runs `lore serve-model {flag}`, which does not exist");
    }
    let addr = command.iter().position(|a| a == "--addr").map(|i| command[i + 1].clone()).unwrap();
    let port = addr.rsplit(':').next().unwrap();
    let model_check = strings(&model["healthcheck"]["test"]).join(" ");
    assert!(model_check.contains(&format!("127.0.0.1:{port}/healthz")), "{model_check}");
    assert!(strings(&model["profiles"]).contains(&"model".to_string()), "optional: a profile");
    assert!(model["environment"]["LORE_GENERATION__API_KEY"].is_string(), "a key, required beyond loopback");

    for volume in ["postgres", "qdrant"] {
        assert!(compose["volumes"].get(volume).is_some(), "named volume {volume}");
    }
}

#[test]
fn the_image_is_multi_stage_slim_and_unprivileged() {
    let dockerfile = std::fs::read_to_string(repo_file("Dockerfile")).unwrap();
    let stages: Vec<&str> = dockerfile.lines().filter(|l| l.starts_with("FROM ")).collect();
    assert!(stages.len() >= 2, "a build stage and a runtime stage: {stages:?}");
    assert!(stages.last().unwrap().contains("slim"), "a slim runtime image: {stages:?}");
    assert!(dockerfile.contains("scripts/fetch-models.sh"), "models come from the project's own script");
    assert!(dockerfile.contains("cargo build --release --locked"));
    let user = dockerfile.lines().filter_map(|l| l.strip_prefix("USER ")).last().expect("a USER line");
    assert_ne!(user.trim(), "root");
    assert!(dockerfile.contains("EXPOSE 8080"));
    assert!(dockerfile.contains("/healthz"), "a health check");
    let ignored = std::fs::read_to_string(repo_file(".dockerignore")).unwrap();
    for path in ["target", "models", "data"] {
        assert!(ignored.lines().any(|l| l.trim() == path), ".dockerignore keeps {path} out of the build context");
    }
}
