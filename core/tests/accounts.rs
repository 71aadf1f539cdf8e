//! The accounts and audit contract, on SQLite and on PostgreSQL: local accounts, sessions that end when
//! idle or old, changes (disabling, a new password) that take effect on the next request, API tokens,
//! users of identity providers, an audit log read by time and action and forgotten past its
//! retention, and conversations that only their user finds.

use std::sync::Arc;

use lore_core::accounts::{
    issue_token, password, secret, AccountStore, NewLocalUser, ProviderUser, Scope, SessionLifetimes, SignInFlow,
    TokenError, TokenRequest, LOCAL_ISSUER,
};
use lore_core::audit::{AuditAction, AuditEvent, AuditLog, AuditQuery};
use lore_core::conversations::{ConversationStore, Turn, MAX_TURNS};
use lore_core::DocumentId;

/// Both catalogs are every store these tests use.
trait Stores: AccountStore + AuditLog + ConversationStore {}
impl<T: AccountStore + AuditLog + ConversationStore> Stores for T {}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test]
            async fn $name() {
                let dir = tempfile::tempdir().unwrap();
                let catalog = lore_core::catalog::SqliteCatalog::open(&dir.path().join("catalog.sqlite")).await.unwrap();
                super::$name(std::sync::Arc::new(catalog)).await;
            })*
        }
        mod postgres {
            $(#[tokio::test]
            async fn $name() {
                let url = lore_testkit::postgres::database();
                let catalog = lore_core::catalog::PostgresCatalog::open(&url, 4).await.unwrap();
                super::$name(std::sync::Arc::new(catalog)).await;
            })*
        }
    };
}

contract!(
    a_local_account_is_made_once_and_checked_by_its_hash,
    sessions_end_when_idle_or_old_and_renewal_keeps_them_alive,
    signing_out_and_new_passwords_end_sessions,
    a_disabled_user_has_no_session,
    principals_are_read_as_stored_now,
    tokens_live_until_revoked_or_expired_and_never_outgrow_their_owner,
    the_audit_log_is_read_newest_first_by_time_and_action_and_purged,
    provider_users_follow_their_latest_sign_in_and_flows_are_taken_once,
    conversations_belong_to_their_user_alone,
);

const HOUR: i64 = 3_600_000;
const LIFETIMES: SessionLifetimes = SessionLifetimes { idle_ms: HOUR, absolute_ms: 24 * HOUR };

fn principals(login: &str) -> Vec<String> {
    vec![format!("user:{login}"), "group:ops".into()]
}

async fn make_user(store: &Arc<dyn Stores>, login: &str, admin: bool) -> lore_core::accounts::UserRecord {
    let principals = principals(login);
    let user = NewLocalUser {
        login,
        display_name: "Some One",
        password_hash: "$argon2id$not-checked-here",
        principals: &principals,
        is_admin: admin,
    };
    store.create_local_user(&user, 1_000).await.unwrap().expect("a new login")
}

async fn a_local_account_is_made_once_and_checked_by_its_hash(store: Arc<dyn Stores>) {
    let hash = password::hash("a long enough password");
    let principals = principals("alice");
    let new = NewLocalUser {
        login: "alice",
        display_name: "Alice",
        password_hash: &hash,
        principals: &principals,
        is_admin: true,
    };
    let alice = store.create_local_user(&new, 1_000).await.unwrap().unwrap();
    assert_eq!((alice.subject.as_str(), alice.is_admin, alice.disabled), ("alice", true, false));
    assert_eq!(alice.principals, principals);
    assert!(store.create_local_user(&new, 2_000).await.unwrap().is_none(), "the login is taken");

    let (found, stored) = store.local_credentials("alice").await.unwrap().unwrap();
    assert_eq!(found, alice);
    assert!(password::verify("a long enough password", &stored));
    assert!(store.local_credentials("bob").await.unwrap().is_none());
    assert_eq!(store.users().await.unwrap(), vec![alice.clone()]);
    assert_eq!(store.user(alice.id).await.unwrap(), Some(alice));
}

async fn sessions_end_when_idle_or_old_and_renewal_keeps_them_alive(store: Arc<dyn Stores>) {
    let user = make_user(&store, "carol", false).await;
    let secret = secret::generate("lore_s_");
    let id = secret::fingerprint(&secret);
    let start = 10 * HOUR;
    store.create_session(&id, user.id, start, LIFETIMES).await.unwrap();
    let session = store.session(&id, start + 1, LIFETIMES).await.unwrap().expect("a live session");
    assert_eq!((session.user.id, session.created_ms, session.expires_ms), (user.id, start, start + 24 * HOUR));
    assert_eq!(store.user(user.id).await.unwrap().unwrap().last_sign_in_ms, Some(start));
    assert!(store.session(&secret, start + 1, LIFETIMES).await.unwrap().is_none(), "only the fingerprint opens it");

    // Unused for an hour: ended. Used every 50 minutes: alive until the absolute end.
    assert!(store.session(&id, start + HOUR, LIFETIMES).await.unwrap().is_none());
    let mut now = start;
    while now + 50 * 60_000 < start + 24 * HOUR {
        now += 50 * 60_000;
        assert!(store.session(&id, now, LIFETIMES).await.unwrap().is_some(), "alive at {}", now - start);
        store.renew_session(&id, now).await.unwrap();
    }
    assert!(store.session(&id, start + 24 * HOUR, LIFETIMES).await.unwrap().is_none(), "past the absolute end");
    // A renewal never moves the last use back.
    store.renew_session(&id, start).await.unwrap();
    assert!(store.session(&id, now + 1, LIFETIMES).await.unwrap().is_some());

    assert_eq!(store.purge_sessions(start + 25 * HOUR, LIFETIMES).await.unwrap(), 1);
    assert!(store.session(&id, now + 1, LIFETIMES).await.unwrap().is_none(), "purged");
}

async fn signing_out_and_new_passwords_end_sessions(store: Arc<dyn Stores>) {
    let user = make_user(&store, "dave", false).await;
    let [a, b, c] = ["a", "b", "c"].map(secret::fingerprint);
    for id in [&a, &b, &c] {
        store.create_session(id, user.id, 0, LIFETIMES).await.unwrap();
    }
    store.delete_session(&a).await.unwrap();
    assert!(store.session(&a, 1, LIFETIMES).await.unwrap().is_none());
    assert!(store.session(&b, 1, LIFETIMES).await.unwrap().is_some(), "other sessions stay");
    assert!(store.set_local_password("dave", "$argon2id$new").await.unwrap());
    assert!(store.session(&b, 1, LIFETIMES).await.unwrap().is_none(), "a new password ends every session");
    assert!(store.session(&c, 1, LIFETIMES).await.unwrap().is_none());
    assert_eq!(store.local_credentials("dave").await.unwrap().unwrap().1, "$argon2id$new");
    assert!(!store.set_local_password("nobody", "$argon2id$x").await.unwrap());

    store.create_session(&a, user.id, 0, LIFETIMES).await.unwrap();
    assert_eq!(store.delete_sessions_of(user.id).await.unwrap(), 1);
}

async fn a_disabled_user_has_no_session(store: Arc<dyn Stores>) {
    let user = make_user(&store, "erin", false).await;
    let id = secret::fingerprint("erin's");
    store.create_session(&id, user.id, 0, LIFETIMES).await.unwrap();
    assert!(store.set_disabled(user.id, true).await.unwrap());
    assert!(store.session(&id, 1, LIFETIMES).await.unwrap().is_none());
    store.create_session(&id, user.id, 2, LIFETIMES).await.unwrap();
    assert!(store.session(&id, 3, LIFETIMES).await.unwrap().is_none(), "disabled users cannot hold one");
    assert!(store.set_disabled(user.id, false).await.unwrap());
    assert!(store.session(&id, 3, LIFETIMES).await.unwrap().is_some());
}

async fn principals_are_read_as_stored_now(store: Arc<dyn Stores>) {
    let (frank, grace) = (make_user(&store, "frank", false).await, make_user(&store, "grace", true).await);
    let (f, g) = (secret::fingerprint("f"), secret::fingerprint("g"));
    store.create_session(&f, frank.id, 0, LIFETIMES).await.unwrap();
    store.create_session(&g, grace.id, 0, LIFETIMES).await.unwrap();
    let seen = store.session(&f, 1, LIFETIMES).await.unwrap().unwrap().user;
    assert_eq!((seen.principals, seen.is_admin), (principals("frank"), false));
    let seen = store.session(&g, 1, LIFETIMES).await.unwrap().unwrap().user;
    assert_eq!((seen.subject.as_str(), seen.is_admin), ("grace", true), "each session is its own user's");
}

async fn tokens_live_until_revoked_or_expired_and_never_outgrow_their_owner(store: Arc<dyn Stores>) {
    let henry = make_user(&store, "henry", false).await;
    let request = |name: &str, principals: Option<Vec<String>>, expires_ms: Option<i64>| TokenRequest {
        user: henry.id,
        name: name.into(),
        scopes: vec![Scope::Ask, Scope::Search, Scope::Ask],
        principals,
        expires_ms,
    };
    let (token, record) = issue_token(store.as_ref(), request("report", None, None), 1_000).await.unwrap();
    assert!(token.starts_with("lore_t_") && token.starts_with(&record.hint), "{token} {}", record.hint);
    assert_eq!(record.scopes, vec![Scope::Search, Scope::Ask], "sorted, once each");
    let (found, owner) = store.token(&secret::fingerprint(&token), 2_000).await.unwrap().expect("live");
    assert_eq!((found.id, owner.id), (record.id, henry.id));
    assert_eq!(found.principals_of(&owner), principals("henry"));
    assert!(store.token(&token, 2_000).await.unwrap().is_none(), "only the fingerprint finds it");

    store.mark_token_used(record.id, 5_000).await.unwrap();
    store.mark_token_used(record.id, 4_000).await.unwrap();
    assert_eq!(store.tokens_of(henry.id).await.unwrap()[0].last_used_ms, Some(5_000));

    // Narrowed to group:ops: the owner's user principal is not the token's.
    let (narrow, _) =
        issue_token(store.as_ref(), request("ops only", Some(vec!["group:ops".into()]), None), 1_000).await.unwrap();
    let (found, owner) = store.token(&secret::fingerprint(&narrow), 2_000).await.unwrap().unwrap();
    assert_eq!(found.principals_of(&owner), vec!["group:ops".to_string()]);
    let not_owned = issue_token(store.as_ref(), request("x", Some(vec!["group:hr".into()]), None), 1_000).await;
    assert!(matches!(not_owned, Err(TokenError::NotOwned(p)) if p == "group:hr"));
    assert!(matches!(issue_token(store.as_ref(), request(" ", None, None), 1_000).await, Err(TokenError::Name)));

    // Expiry, revocation, a disabled owner.
    let (expiring, _) = issue_token(store.as_ref(), request("short", None, Some(10_000)), 1_000).await.unwrap();
    assert!(store.token(&secret::fingerprint(&expiring), 9_999).await.unwrap().is_some());
    assert!(store.token(&secret::fingerprint(&expiring), 10_000).await.unwrap().is_none(), "expired");
    let other = make_user(&store, "ivy", false).await;
    assert!(!store.revoke_token(other.id, record.id, 3_000).await.unwrap(), "only its owner revokes it");
    assert!(store.revoke_token(henry.id, record.id, 3_000).await.unwrap());
    assert!(store.token(&secret::fingerprint(&token), 3_001).await.unwrap().is_none(), "revoked");
    assert!(!store.revoke_token(henry.id, record.id, 3_002).await.unwrap(), "once");
    store.set_disabled(henry.id, true).await.unwrap();
    assert!(store.token(&secret::fingerprint(&narrow), 3_003).await.unwrap().is_none(), "owner disabled");
    assert_eq!(store.tokens_of(henry.id).await.unwrap().len(), 3, "the list keeps revoked and expired ones");
}

async fn the_audit_log_is_read_newest_first_by_time_and_action_and_purged(store: Arc<dyn Stores>) {
    let user = make_user(&store, "judy", false).await;
    let event = |at_ms: i64, action: AuditAction, subject: &str| AuditEvent {
        at_ms,
        user: Some(user.id),
        actor: "Judy".into(),
        client: Some("10.0.0.7".into()),
        action,
        subject: subject.into(),
    };
    let events: Vec<AuditEvent> = (0..1200)
        .map(|n| event(n, if n % 2 == 0 { AuditAction::Search } else { AuditAction::Open }, &format!("q{n}")))
        .collect();
    store.append(&events).await.unwrap();
    store.append(&[event(5_000, AuditAction::SignIn, "password\0with a NUL")]).await.unwrap();

    let all = store.events(&AuditQuery { limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(all.len(), 1201, "appended across several statements, in one transaction");
    assert_eq!(all[0].event.action, AuditAction::SignIn, "newest first");
    assert_eq!(all[0].event.subject, "password\u{fffd}with a NUL", "stored as both engines can");
    assert_eq!(all[1].event, event(1199, AuditAction::Open, "q1199"));

    let window = AuditQuery {
        since_ms: Some(100),
        until_ms: Some(200),
        action: Some(AuditAction::Search),
        limit: 1000,
        ..AuditQuery::default()
    };
    let found = store.events(&window).await.unwrap();
    assert_eq!(found.len(), 50);
    assert!(found.iter().all(|r| r.event.action == AuditAction::Search && (100..200).contains(&r.event.at_ms)));
    let mine = AuditQuery { user: Some(user.id), limit: 3, ..AuditQuery::default() };
    assert_eq!(store.events(&mine).await.unwrap().len(), 3, "the limit holds");
    let nobody =
        AuditQuery { user: Some(lore_core::accounts::UserId(user.id.0 + 1000)), limit: 10, ..AuditQuery::default() };
    assert!(store.events(&nobody).await.unwrap().is_empty());

    assert_eq!(store.purge_before(600).await.unwrap(), 600);
    let left = store.events(&AuditQuery { limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(left.len(), 601);
    assert!(left.iter().all(|r| r.event.at_ms >= 600));
}

async fn provider_users_follow_their_latest_sign_in_and_flows_are_taken_once(store: Arc<dyn Stores>) {
    let groups = vec!["user:ann@example.com".to_string(), "group:hr".to_string()];
    let ann = ProviderUser {
        issuer: "https://idp.example.com",
        subject: "ann",
        display_name: "Ann",
        email: Some("ann@example.com"),
        principals: &groups,
    };
    let first = store.provider_user(&ann, 1_000).await.unwrap();
    assert_eq!((first.issuer.as_str(), first.principals.clone(), first.is_admin), (ann.issuer, groups.clone(), false));
    // A local account with the same login is someone else.
    let local = make_user(&store, "ann", false).await;
    assert_ne!(local.id, first.id);
    assert_eq!(local.issuer, LOCAL_ISSUER);

    // The next sign-in replaces what the provider says; the account stays the same, disabled included.
    store.set_disabled(first.id, true).await.unwrap();
    let fewer = vec!["user:ann@example.com".to_string()];
    let again = store.provider_user(&ProviderUser { display_name: "Ann A.", principals: &fewer, ..ann }, 2_000).await;
    let again = again.unwrap();
    assert_eq!(
        (again.id, again.display_name.as_str(), again.principals, again.disabled),
        (first.id, "Ann A.", fewer, true)
    );
    let other_issuer = store.provider_user(&ProviderUser { issuer: "https://other.example", ..ann }, 3_000).await;
    assert_ne!(other_issuer.unwrap().id, first.id, "a subject is unique per issuer only");

    let flow = SignInFlow {
        browser_hash: "b".repeat(64),
        provider: "corp".into(),
        pkce_verifier: "verifier".into(),
        nonce: "nonce".into(),
        next_path: "/documents/3".into(),
        created_ms: 10_000,
    };
    store.save_sign_in_flow(&"s".repeat(64), &flow).await.unwrap();
    store.save_sign_in_flow(&"o".repeat(64), &SignInFlow { created_ms: 1_000, ..flow.clone() }).await.unwrap();
    assert_eq!(store.take_sign_in_flow(&"s".repeat(64), 5_000).await.unwrap(), Some(flow.clone()));
    assert_eq!(store.take_sign_in_flow(&"s".repeat(64), 5_000).await.unwrap(), None, "a state is used once");
    assert_eq!(store.take_sign_in_flow(&"o".repeat(64), 5_000).await.unwrap(), None, "too old");
    store.save_sign_in_flow(&"t".repeat(64), &flow).await.unwrap();
    assert_eq!(store.take_sign_in_flow(&"t".repeat(64), 20_000).await.unwrap(), None, "expired on its way back");
}

fn turn(question: &str, at_ms: i64) -> Turn {
    Turn {
        question: question.into(),
        answer: format!("{{\"answer\":\"about {question}\"}}"),
        documents: vec![DocumentId(7), DocumentId(9)],
        created_ms: at_ms,
    }
}

async fn conversations_belong_to_their_user_alone(store: Arc<dyn Stores>) {
    let (ann, ben) = (make_user(&store, "ann", false).await.id, make_user(&store, "ben", false).await.id);
    let first = store.start_conversation(ann, "When does the office open?", 1_000).await.unwrap();
    let second = store.start_conversation(ann, "Travel policy", 2_000).await.unwrap();
    assert!(store.add_turn(ann, first, &turn("When does the office open?", 1_100)).await.unwrap());
    assert!(store.add_turn(ann, first, &turn("And on Sundays?", 3_000)).await.unwrap());
    assert!(!store.add_turn(ben, first, &turn("mine now", 3_100)).await.unwrap(), "not ben's to continue");

    let listed = store.conversations(ann, 10).await.unwrap();
    let order: Vec<_> = listed.iter().map(|c| (c.id, c.turns)).collect();
    assert_eq!(order, [(first, 2), (second, 0)], "most recently continued first");
    assert!(store.conversations(ben, 10).await.unwrap().is_empty());
    let (summary, turns) = store.conversation(ann, first).await.unwrap().unwrap();
    assert_eq!(summary.title, "When does the office open?");
    assert_eq!(
        turns.iter().map(|t| t.question.as_str()).collect::<Vec<_>>(),
        ["When does the office open?", "And on Sundays?"]
    );
    assert_eq!(turns[1], turn("And on Sundays?", 3_000));
    assert_eq!(store.conversation(ben, first).await.unwrap(), None, "ben finds nothing of ann's");

    assert!(!store.delete_conversation(ben, first).await.unwrap());
    assert!(store.delete_conversation(ann, first).await.unwrap());
    assert_eq!(store.conversation(ann, first).await.unwrap(), None);
    assert!(!store.add_turn(ann, first, &turn("after", 4_000)).await.unwrap(), "deleted");

    for n in 0..MAX_TURNS {
        assert!(store.add_turn(ann, second, &turn(&format!("q{n}"), 5_000 + n as i64)).await.unwrap());
    }
    assert!(!store.add_turn(ann, second, &turn("one too many", 9_000)).await.unwrap(), "full");
}
