//! Give it the numbered passages and a question, get the chat messages that ask the model for a cited
//! answer from those passages only; and recognise the model's own "cannot answer".

use lore_llm::ChatMessage;

use crate::context::Passage;

/// What the model is told to say when the passages do not answer; [`declines`] recognises it and the
/// paraphrases small models make of it.
pub const DECLINE: &str = "The documents don't answer this.";

const INSTRUCTIONS: &str = "You answer questions using only the numbered passages you are given. \
Write one to three short sentences. Use only facts stated in the passages. \
End every sentence with the number of the passage it comes from, like [1] or [2]. \
If the passages do not contain the answer, reply exactly: The documents don't answer this.";

/// The messages for one question.
pub fn messages(passages: &[Passage], question: &str) -> Vec<ChatMessage> {
    let mut user = String::from("Passages:\n");
    for passage in passages {
        user.push_str(&format!("[{}] {}", passage.n, label(passage)));
        user.push('\n');
        user.push_str(&passage.text);
        user.push_str("\n\n");
    }
    user.push_str("Question: ");
    user.push_str(question.trim());
    vec![ChatMessage::system(INSTRUCTIONS), ChatMessage::user(user)]
}

/// "Title, page 3" or "Title > Heading": where a passage is from, as a reader would cite it.
pub fn label(passage: &Passage) -> String {
    match (&passage.page, &passage.heading) {
        (Some(page), _) => format!("{}, page {page}", passage.title),
        (None, Some(heading)) if !heading.is_empty() => format!("{} > {heading}", passage.title),
        _ => passage.title.clone(),
    }
}

/// Whether the model's answer says the passages do not answer the question.
pub fn declines(answer: &str) -> bool {
    let normalised = answer.to_lowercase().replace('’', "'");
    const PHRASES: &[&str] = &[
        "documents don't answer",
        "documents do not answer",
        "passages don't answer",
        "passages do not answer",
        "cannot answer",
        "can't answer",
        "unable to answer",
        "not able to answer",
        "do not contain",
        "does not contain",
        "don't contain",
        "doesn't contain",
        "no information",
        "not mentioned",
        "not provided",
        "not stated",
        "does not say",
        "doesn't say",
        "do not say",
        "don't say",
        "does not specify",
        "doesn't specify",
        "not specified",
        "no answer",
    ];
    let head: String = normalised.chars().take(200).collect();
    PHRASES.iter().any(|p| head.contains(p))
}

/// Chat messages that turn a follow-up into a question that stands on its own, for retrieval.
pub fn condense_messages(history: &[(String, String)], follow_up: &str) -> Vec<ChatMessage> {
    let mut conversation = String::new();
    for (question, answer) in history {
        conversation.push_str(&format!("User: {}\nAssistant: {}\n", question.trim(), answer.trim()));
    }
    vec![
        ChatMessage::system(
            "Rewrite the user's last question so that it can be understood without the conversation: \
             replace pronouns and references with what they refer to. Reply with the rewritten question only.",
        ),
        ChatMessage::user(format!("Conversation:\n{conversation}\nLast question: {}", follow_up.trim())),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_declines_and_not_answers() {
        assert!(declines(DECLINE));
        assert!(declines("I'm sorry, but the passages do not contain information about Mars."));
        assert!(declines("The passages don’t say. [1]"));
        assert!(!declines("The Normans conquered Sicily in 1091 [1]."));
    }
}
