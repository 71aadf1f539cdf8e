//! `lore admin` and `lore token` as an operator runs them: no default account, the password from
//! standard input, one account per login, tokens shown once and revoked.

use std::io::Write;
use std::process::{Output, Stdio};

use crate::workspace::Workspace;

/// `lore ARGS` with `input` on standard input.
fn run_with_input(workspace: &Workspace, args: &[&str], input: &str) -> Output {
    let mut child = workspace
        .command(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("lore runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn the_first_administrator_is_made_on_the_command_line() {
    let workspace = Workspace::new();
    let none = workspace.run_ok(&["admin", "list"]);
    assert!(text(&none.stdout).contains("No accounts yet"), "{}", text(&none.stdout));

    let short = run_with_input(&workspace, &["admin", "create", "alice"], "short\n");
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("at least 12 characters"), "{}", text(&short.stderr));
    let bad_name = run_with_input(&workspace, &["admin", "create", "Alice Admin"], "a long enough password\n");
    assert!(!bad_name.status.success() && text(&bad_name.stderr).contains("lowercase"));

    let made = run_with_input(&workspace, &["admin", "create", "alice", "--group", "it"], "a long enough password\n");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let out = text(&made.stdout);
    assert!(out.contains("user:alice, group:it") && out.contains("auth.mode"), "{out}");
    let again = run_with_input(&workspace, &["admin", "create", "alice"], "another long password\n");
    assert!(!again.status.success() && text(&again.stderr).contains("already an account"));

    let listed = workspace.json(&["admin", "list", "--json"]);
    let users = listed["users"].as_array().unwrap();
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["subject"], "alice");
    assert_eq!(users[0]["is_admin"], true);
    let dump = listed.to_string();
    assert!(!dump.contains("argon2") && !dump.contains("a long enough password"), "no secret is listed: {dump}");

    let changed = run_with_input(&workspace, &["admin", "password", "alice"], "the new long password\n");
    assert!(changed.status.success(), "{}", text(&changed.stderr));
    workspace.run_ok(&["admin", "disable", "alice"]);
    assert_eq!(workspace.json(&["admin", "list", "--json"])["users"][0]["disabled"], true);
    workspace.run_ok(&["admin", "enable", "alice"]);

    // Every change is in the audit log, made by the command line.
    let exported = text(&workspace.run_ok(&["audit", "export", "--action", "user_change"]).stdout);
    let subjects: Vec<String> = exported
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .inspect(|event| assert!(event["actor"].as_str().unwrap().starts_with("command line ("), "{event}"))
        .map(|event| event["subject"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(subjects.len(), 4, "{exported}");
    assert!(subjects[0].starts_with("administrator alice created"), "{subjects:?}");
    assert_eq!(subjects[1], "password of alice changed");
    assert!(subjects[2].ends_with("(alice) disabled") && subjects[3].ends_with("(alice) enabled"), "{subjects:?}");
    assert!(!exported.contains("long password"), "no password is logged");
}

#[test]
fn tokens_are_shown_once_listed_without_secrets_and_revoked() {
    let workspace = Workspace::new();
    let made = run_with_input(&workspace, &["admin", "create", "bob"], "a long enough password\n");
    assert!(made.status.success(), "{}", text(&made.stderr));

    let created = workspace.run_ok(&["token", "create", "--user", "bob", "--name", "report", "--scope", "search"]);
    let token = text(&created.stdout).trim().to_string();
    assert!(token.starts_with("lore_t_") && token.len() == 71, "{token}");
    assert!(text(&created.stderr).contains("not shown again"));
    let refused = workspace.run(&["token", "create", "--user", "bob", "--name", "x", "--principal", "group:hr"]);
    assert!(!refused.status.success() && text(&refused.stderr).contains("does not have group:hr"));
    let unknown = workspace.run(&["token", "create", "--user", "nobody", "--name", "x"]);
    assert!(!unknown.status.success() && text(&unknown.stderr).contains("no account named 'nobody'"));

    let listed = workspace.json(&["token", "list", "--user", "bob", "--json"]);
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0]["scopes"], serde_json::json!(["search"]));
    assert!(!listed.to_string().contains(&token), "the list never holds the token");
    let id = tokens[0]["id"].to_string();
    workspace.run_ok(&["token", "revoke", "--user", "bob", &id]);
    let twice = workspace.run(&["token", "revoke", "--user", "bob", &id]);
    assert!(!twice.status.success());
    assert!(workspace.json(&["token", "list", "--user", "bob", "--json"])["tokens"][0]["revoked_ms"].is_i64());

    let made = text(&workspace.run_ok(&["audit", "export", "--action", "token_create"]).stdout);
    assert!(made.contains("(report: search) for bob") && !made.contains(&token), "{made}");
    let revoked = text(&workspace.run_ok(&["audit", "export", "--action", "token_revoke"]).stdout);
    assert!(revoked.contains(&format!("\"{id} of bob\"")), "{revoked}");
}
