//! The mistral.rs backend on the real (smallest) GGUF model: streaming, statistics, token counting, and
//! the bounded queue's refusals.

use std::time::Duration;

use lore_llm::mistral::LoadOptions;
use lore_llm::{ChatMessage, ChatModel, LlmError, MistralModel, Sampling, TokenEvent};

fn options(queue: usize, context_tokens: usize) -> LoadOptions {
    LoadOptions { path: lore_testkit::language_model(), context_tokens, threads: 2, queue }
}

fn sampling(max_tokens: usize) -> Sampling {
    Sampling::greedy(max_tokens)
}

fn question() -> Vec<ChatMessage> {
    vec![ChatMessage::system("You are concise."), ChatMessage::user("Name three colours.")]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_tokens_then_statistics_and_refuses_past_the_queue() {
    let model = MistralModel::load(options(1, 2048)).await.expect("the test model loads");
    assert!(model.count_tokens("hello world, this is a test").await.unwrap() >= 5);

    let mut generation = model.generate(question(), sampling(12)).await.unwrap();
    // The only place in the queue is taken until this generation ends.
    assert!(matches!(model.generate(question(), sampling(4)).await, Err(LlmError::Busy { waiting: 1 })));
    let mut text = String::new();
    let stats = loop {
        match generation.events.recv().await.expect("the stream ends with Finished") {
            TokenEvent::Text(piece) => text.push_str(&piece),
            TokenEvent::Choice(choice) => panic!("probabilities were not asked for: {choice:?}"),
            TokenEvent::Finished(stats) => break stats,
            TokenEvent::Failed(reason) => panic!("generation failed: {reason}"),
        }
    };
    assert!(!text.trim().is_empty());
    assert!(stats.answer_tokens >= 1 && stats.answer_tokens <= 12, "{stats:?}");
    assert!(stats.prompt_tokens > 5, "{stats:?}");
    assert!(stats.time_to_first_token > Duration::ZERO && stats.time_to_first_token <= stats.total);

    // Freed when the generation ended: a second one runs, and greedy sampling repeats itself.
    let mut freed = false;
    for _ in 0..50 {
        if model.queued() == 0 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(freed, "the queue place was not released");
    let (again, _) = model.generate(question(), sampling(12)).await.unwrap().collect().await.unwrap();
    assert_eq!(again, text);
}

/// Greedy decoding reports true probabilities (the vendored sampler fix: mistral.rs 0.8.1 took the
/// logarithm of the raw logits on this path): each between 0 and 1, the chosen token the strongest,
/// the alternatives summing to at most 1 and strongest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn greedy_tokens_come_with_their_probabilities_and_alternatives() {
    let model = MistralModel::load(options(1, 2048)).await.expect("the test model loads");
    let asked = Sampling { alternatives: 5, ..sampling(8) };
    let mut generation = model.generate(question(), asked).await.unwrap();
    let (mut choices, mut pieces) = (Vec::new(), Vec::new());
    loop {
        match generation.events.recv().await.expect("the stream ends with Finished") {
            TokenEvent::Text(piece) => pieces.push(piece),
            TokenEvent::Choice(choice) => choices.push(choice),
            TokenEvent::Finished(_) => break,
            TokenEvent::Failed(reason) => panic!("generation failed: {reason}"),
        }
    }
    assert!(!choices.is_empty() && choices.len() >= pieces.len(), "{choices:?} {pieces:?}");
    for choice in &choices {
        assert!(choice.probability > 0.0 && choice.probability <= 1.0, "{choice:?}");
        assert_eq!(choice.alternatives.len(), 5, "{choice:?}");
        let total: f32 = choice.alternatives.iter().map(|(_, p)| p).sum();
        assert!(total <= 1.0 + 1e-4, "{choice:?}");
        assert!(choice.alternatives.windows(2).all(|w| w[0].1 >= w[1].1), "{choice:?}");
        assert!((choice.alternatives[0].1 - choice.probability).abs() < 1e-6, "greedy takes the strongest: {choice:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prompt_longer_than_the_context_is_refused_before_generating() {
    let model = MistralModel::load(options(2, 512)).await.unwrap();
    let long = "word ".repeat(600);
    let result = model.generate(vec![ChatMessage::user(long)], sampling(16)).await;
    assert!(matches!(result, Err(LlmError::PromptTooLong { context: 512, .. })), "{:?}", result.err());
}

#[tokio::test]
async fn a_missing_model_file_says_how_to_get_one() {
    let mut options = options(1, 1024);
    options.path = "/nonexistent/model.gguf".into();
    let error = MistralModel::load(options).await.err().expect("loading fails");
    assert!(error.to_string().contains("scripts/fetch-models.sh"), "{error}");
}

/// A prompt of a couple of hundred tokens goes through the patched prefill kernels (quantized matmul as a
/// GEMM from 32 rows, attention as matrix products); the greedy answer must still read it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_prompt_read_by_the_prefill_kernels_is_answered_from_its_content() {
    let model = MistralModel::load(options(1, 2048)).await.unwrap();
    let before = [
        "The office opens at eight in the morning and closes at six in the evening.",
        "Visitors sign in at the front desk and wear a badge while they are in the building.",
        "The kitchen on the second floor has a coffee machine, a fridge and a microwave.",
        "Meeting rooms are booked in the calendar; the large room seats twenty people.",
        "Printers are on every floor, and the one near the lifts also scans documents.",
        "Bicycles may be parked in the basement, which is reached by the ramp behind the building.",
    ];
    let after = [
        "The fire assembly point is the car park across the street.",
        "Lost property is kept at the front desk for one month.",
        "Cleaning staff work in the evenings, so desks should be left clear.",
        "The building manager can be reached through the help desk.",
        "Parcels for employees are delivered to the post room on the ground floor.",
        "The roof terrace is open in summer during working hours.",
    ];
    let passage =
        format!("{} The wifi password of the guest network is pineapple. {}", before.join(" "), after.join(" "));
    let messages = vec![
        ChatMessage::system(
            "Answer the user's question using only the passages the user gives. Answer in one sentence.",
        ),
        ChatMessage::user(format!(
            "Passage 1 (Office guide): \"{passage}\"\n\nQuestion: What is the wifi password of the guest network?"
        )),
    ];
    let (text, stats) = model.generate(messages, sampling(24)).await.unwrap().collect().await.unwrap();
    assert!(stats.prompt_tokens > 200, "{stats:?}");
    assert!(text.to_lowercase().contains("pineapple"), "{text:?}");
}
