//! Markdown: heading marks (for chunk heading paths), front-matter title.

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use lore_core::acl::parse_front_matter_list;

use super::HeadingMark;

/// What a page's front matter says that Lore uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FrontMatter {
    pub title: Option<String>,
    /// `acl:` (a list of principals the page narrows its folder's ACL to). A list that cannot be
    /// parsed narrows to nobody: `Some(vec![])`.
    pub acl: Option<Vec<String>>,
}

/// Splits off YAML front matter (`---` ... `---` at the very top) and returns what it says, with the
/// body. Front matter is metadata, not content to search.
pub fn split_front_matter(text: String) -> (FrontMatter, String) {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return (FrontMatter::default(), text);
    };
    let Some(end) = rest.find("\n---") else { return (FrontMatter::default(), text) };
    let front = &rest[..end];
    let body_start = rest[end + 4..].find('\n').map_or(rest.len(), |i| end + 4 + i + 1);
    let lines: Vec<&str> = front.lines().collect();
    let title = lines.iter().find_map(|line| {
        let value = line.strip_prefix("title:")?.trim().trim_matches(['"', '\'']);
        (!value.is_empty()).then(|| value.to_string())
    });
    let acl = lines.iter().position(|line| line.starts_with("acl:")).map(|at| {
        let value = &lines[at]["acl:".len()..];
        // A block list: the indented `- item` lines that follow.
        let items: Vec<&str> = lines[at + 1..]
            .iter()
            .map_while(|line| line.trim_start().strip_prefix("- ").filter(|_| line.starts_with([' ', '\t', '-'])))
            .collect();
        parse_front_matter_list(value, &items).unwrap_or_else(|error| {
            tracing::warn!(%error, "front matter acl unusable: the page is readable by nobody");
            Vec::new()
        })
    });
    (FrontMatter { title, acl }, rest[body_start..].to_string())
}

fn level_number(level: HeadingLevel) -> u8 {
    match level {
        HeadingLevel::H1 => 1,
        HeadingLevel::H2 => 2,
        HeadingLevel::H3 => 3,
        HeadingLevel::H4 => 4,
        HeadingLevel::H5 => 5,
        HeadingLevel::H6 => 6,
    }
}

/// Every heading of a Markdown text with its byte offset and the path of headings above it.
pub fn heading_marks(text: &str) -> Vec<HeadingMark> {
    let mut marks = Vec::new();
    let mut stack: Vec<(u8, String)> = Vec::new();
    let mut current: Option<(u8, usize, String)> = None;
    for (event, range) in Parser::new_ext(text, Options::ENABLE_TABLES).into_offset_iter() {
        match event {
            Event::Start(Tag::Heading { level, .. }) => {
                current = Some((level_number(level), range.start, String::new()))
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some((_, _, title)) = current.as_mut() {
                    title.push_str(&t);
                }
            }
            Event::End(TagEnd::Heading(_)) => {
                if let Some((level, offset, title)) = current.take() {
                    let title = title.split_whitespace().collect::<Vec<_>>().join(" ");
                    if title.is_empty() {
                        continue;
                    }
                    stack.retain(|(l, _)| *l < level);
                    stack.push((level, title));
                    let path = stack.iter().map(|(_, t)| t.as_str()).collect::<Vec<_>>().join(" > ");
                    marks.push(HeadingMark { offset, level, path });
                }
            }
            _ => {}
        }
    }
    marks
}

/// The heading path in effect at byte `offset`: the last heading that starts at or before it.
pub fn heading_at(marks: &[HeadingMark], offset: usize) -> Option<&str> {
    let i = marks.partition_point(|m| m.offset <= offset);
    i.checked_sub(1).map(|i| marks[i].path.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_paths_follow_nesting() {
        let text = "# Guide\nintro\n## Install\n### Linux\nsteps\n## Use\nmore\n";
        let marks = heading_marks(text);
        let paths: Vec<_> = marks.iter().map(|m| m.path.as_str()).collect();
        assert_eq!(paths, ["Guide", "Guide > Install", "Guide > Install > Linux", "Guide > Use"]);
        assert_eq!(heading_at(&marks, text.find("steps").unwrap()), Some("Guide > Install > Linux"));
        assert_eq!(heading_at(&marks, text.find("more").unwrap()), Some("Guide > Use"));
        assert_eq!(heading_at(&marks, 0), Some("Guide"));
    }

    #[test]
    fn front_matter_title_is_taken_and_removed() {
        let (front, body) = split_front_matter("---\ntitle: \"Handbook\"\ntags: [a]\n---\n# H\nbody\n".into());
        let title = front.title;
        assert_eq!(title.as_deref(), Some("Handbook"));
        assert_eq!(body, "# H\nbody\n");
        let (front, body) = split_front_matter("no front matter".into());
        let title = front.title;
        assert_eq!((title, body.as_str()), (None, "no front matter"));
    }

    #[test]
    fn front_matter_acl_takes_flow_and_block_lists_and_fails_closed() {
        let (front, body) = split_front_matter("---\nacl: [group:hr, user:ann]\n---\nbody\n".into());
        assert_eq!(front.acl, Some(vec!["group:hr".to_string(), "user:ann".to_string()]));
        assert_eq!(body, "body\n");
        let (front, _) =
            split_front_matter("---\ntitle: T\nacl:\n  - group:hr\n  - \"user:bo\"\ntags: x\n---\nb".into());
        assert_eq!(front.acl, Some(vec!["group:hr".to_string(), "user:bo".to_string()]));
        let (front, _) = split_front_matter("---\nacl: [group hr]\n---\nb".into());
        assert_eq!(front.acl, Some(Vec::new()), "an unusable list narrows to nobody");
        let (front, _) = split_front_matter("---\ntitle: T\n---\nacl: [everyone]\n".into());
        assert_eq!(front.acl, None, "acl in the body is text, not metadata");
    }
}
