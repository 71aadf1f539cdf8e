//! `lore search`: the JSON interface, filters and permissions from the command line, clear errors.

use serde_json::Value;

use crate::ingest::sample_folder;
use crate::workspace::Workspace;

fn hits(value: &Value) -> &Vec<Value> {
    value["hits"].as_array().unwrap_or_else(|| panic!("no hits array in {value}"))
}

#[test]
fn search_prints_the_documented_json_with_pages_where_there_are_pages() {
    let ws = Workspace::new();
    sample_folder(&ws);
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "handbook", "--quiet"]);

    let result = ws.json(&["search", "replace the toner when the light blinks", "--json"]);
    let top = &hits(&result)[0];
    let mut keys: Vec<&str> = top.as_object().unwrap().keys().map(String::as_str).collect();
    keys.sort();
    for key in ["document_path", "heading", "page", "score", "snippet", "text", "title"] {
        assert!(keys.contains(&key), "{key} missing from {top}");
    }
    assert_eq!(
        (top["document_path"].as_str(), top["title"].as_str(), top["page"].as_u64()),
        (Some("manual.pdf"), Some("Printer manual"), Some(2))
    );
    assert!(top["snippet"].as_str().unwrap().contains("<mark>toner</mark>"), "{top}");
    assert!(top["score"].as_f64().unwrap() > 0.0);

    let lunch = ws.json(&["search", "canteen soup", "--json", "-k", "1"]);
    assert_eq!(hits(&lunch).len(), 1);
    assert_eq!(hits(&lunch)[0]["document_path"], "notes/lunch.md");
    assert_eq!(hits(&lunch)[0]["page"], Value::Null, "unpaginated formats have a null page");

    let only_pdf = ws.json(&["search", "canteen soup", "--type", "pdf", "--json"]);
    assert!(hits(&only_pdf).iter().all(|h| h["document_path"] == "manual.pdf"), "{only_pdf}");
    let other_source = ws.json(&["search", "canteen soup", "--source", "elsewhere", "--json"]);
    assert!(hits(&other_source).is_empty());

    let human = String::from_utf8_lossy(&ws.run_ok(&["search", "canteen soup"]).stdout).to_string();
    assert!(human.contains(" 1. Lunch") && human.contains("handbook:notes/lunch.md"), "{human}");
}

#[test]
fn search_sees_what_the_given_principals_may_read() {
    let ws = Workspace::new();
    ws.write("salaries.md", "# Salaries\n\nEngineering salary bands are reviewed every spring.\n");
    ws.run_ok(&["ingest", ws.docs_path(), "--source", "hr", "--acl", "hr", "--quiet"]);

    let as_anyone = ws.json(&["search", "salary bands", "--json"]);
    assert!(hits(&as_anyone).is_empty(), "{as_anyone}");
    let as_hr = ws.json(&["search", "salary bands", "--principal", "hr", "--json"]);
    assert_eq!(hits(&as_hr)[0]["document_path"], "salaries.md");
    let unrestricted = ws.json(&["search", "salary bands", "--unrestricted", "--json"]);
    assert_eq!(hits(&unrestricted).len(), 1);
}

#[test]
fn bad_search_input_gets_a_clear_message() {
    let ws = Workspace::new();
    let nothing = ws.run(&["search", "anything"]);
    assert!(!nothing.status.success());
    assert!(String::from_utf8_lossy(&nothing.stderr).contains("nothing is indexed"), "{nothing:?}");

    sample_folder(&ws);
    ws.run_ok(&["ingest", ws.docs_path(), "--quiet"]);
    let empty = ws.run(&["search", "  "]);
    assert!(!empty.status.success());
    assert!(String::from_utf8_lossy(&empty.stderr).contains("the query is empty"), "{empty:?}");
    let bad_type = ws.run(&["search", "soup", "--type", "spreadsheet"]);
    assert!(String::from_utf8_lossy(&bad_type.stderr).contains("unknown document type 'spreadsheet'"), "{bad_type:?}");
    let bad_date = ws.run(&["search", "soup", "--after", "last week"]);
    assert!(String::from_utf8_lossy(&bad_date.stderr).contains("use YYYY-MM-DD"), "{bad_date:?}");

    for awkward in ["title:(soup AND \"canteen", "NOT", "*", "食堂"] {
        ws.json(&["search", awkward, "--json"]);
    }
}
