//! Give it the tokens of a draft with the probabilities the model gave them, get how sure the model
//! was: of declining (the probability it put on starting the decline sentence), and of what it wrote
//! (the geometric mean and the lowest probability of its tokens). A small model asked about a
//! near-miss ("When was AppleTalk released in 1995?" over a passage that says 1985) often copies the
//! neighbouring fact, but less surely, and with some weight on declining.

use lore_llm::TokenChoice;
use serde::Serialize;

use crate::prompt::DECLINE;

/// How sure the model was of its draft, 0..1 each.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct DraftConfidence {
    /// The probability of the draft starting as the decline sentence does. Along the written tokens it
    /// is exact; an alternative that leaves them is counted as if it went on to decline (an upper
    /// bound: "The" may also start an answer).
    pub decline: f32,
    /// Geometric mean of the written tokens' probabilities.
    pub mean: f32,
    /// The least sure token.
    pub lowest: f32,
}

/// The words of the decline sentence whose start counts as declining: "The documents".
const DECLINE_START_WORDS: usize = 2;

impl DraftConfidence {
    /// `None` without probabilities (a backend that does not report them, or an empty draft).
    pub fn of(choices: &[TokenChoice]) -> Option<Self> {
        if choices.is_empty() {
            return None;
        }
        let logs: Vec<f64> = choices.iter().map(|c| f64::from(c.probability.max(1e-9)).ln()).collect();
        let mean = (logs.iter().sum::<f64>() / logs.len() as f64).exp() as f32;
        let lowest = choices.iter().map(|c| c.probability).fold(1.0, f32::min);
        Some(Self { decline: decline_probability(choices), mean, lowest })
    }
}

fn decline_probability(choices: &[TokenChoice]) -> f32 {
    let target = normalise(&DECLINE.split_whitespace().take(DECLINE_START_WORDS).collect::<Vec<_>>().join(" "));
    let mut written = String::new();
    let mut path = 1.0f32;
    let mut decline = 0.0f32;
    for choice in choices {
        for (text, probability) in &choice.alternatives {
            if *text != choice.text && starts_toward(&format!("{written}{text}"), &target) {
                decline += path * probability;
            }
        }
        written.push_str(&choice.text);
        if !starts_toward(&written, &target) {
            break;
        }
        path *= choice.probability;
        if normalise(&written).len() >= target.len() {
            decline += path;
            break;
        }
    }
    decline.min(1.0)
}

/// Whether `text` is a non-empty start of `target`, or `target` is a start of it.
fn starts_toward(text: &str, target: &str) -> bool {
    let text = normalise(text);
    !text.is_empty() && (target.starts_with(&text) || text.starts_with(target))
}

fn normalise(text: &str) -> String {
    text.trim_start().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn choice(text: &str, probability: f32, alternatives: &[(&str, f32)]) -> TokenChoice {
        TokenChoice {
            text: text.into(),
            probability,
            alternatives: alternatives.iter().map(|(t, p)| (t.to_string(), *p)).collect(),
        }
    }

    #[test]
    fn weight_on_the_decline_sentence_is_found_on_and_off_the_written_path() {
        // Wrote "1985" but gave "The" 0.3: counted as a lean to decline.
        let answer = [choice("198", 0.6, &[("198", 0.6), ("The", 0.3)]), choice("5", 0.9, &[("5", 0.9)])];
        let confidence = DraftConfidence::of(&answer).unwrap();
        assert!((confidence.decline - 0.3).abs() < 1e-6, "{confidence:?}");
        assert!((confidence.mean - (0.6f32 * 0.9).sqrt()).abs() < 1e-4 && confidence.lowest == 0.6);

        // Wrote "The Normans": "The" is on the way, " Normans" leaves it, " documents" had 0.2.
        let normans = [
            choice("The", 0.8, &[("The", 0.8), ("Norm", 0.1)]),
            choice(" Normans", 0.7, &[(" Normans", 0.7), (" documents", 0.2)]),
        ];
        assert!((DraftConfidence::of(&normans).unwrap().decline - 0.8 * 0.2).abs() < 1e-6);

        // Wrote the decline sentence: its start's probability along the path.
        let declined = [
            choice("The", 0.9, &[("The", 0.9)]),
            choice(" documents", 0.5, &[(" documents", 0.5), (" passages", 0.4)]),
            choice(" don't", 0.99, &[(" don't", 0.99)]),
        ];
        assert!((DraftConfidence::of(&declined).unwrap().decline - 0.45).abs() < 1e-6);
        assert_eq!(DraftConfidence::of(&[]), None);
    }
}
