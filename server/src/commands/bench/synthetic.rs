//! Benchmark corpora from real text: give it a folder of documents, get its sentences; give it a chunk
//! number, get that chunk's text (a reproducible mix of sentences), its access list and a query taken
//! from it. Everything derives from the number, so a corpus of a million chunks needs no storage to
//! describe and the queries of a run always match its corpus.

use std::path::Path;

use anyhow::Context;
use lore_core::embed::TokenCounter;
use lore_ingest::discover::discover;
use lore_ingest::extract::extract;

/// Tokens (of the embedding model) a chunk is filled to, like the average chunk of a real ingest...
const CHUNK_TOKENS: usize = 165;
/// ...and never exceeds, so that ingestion keeps each generated file as one chunk (the chunker fills
/// chunks to 200 tokens; a longer file is split in two).
const MAX_CHUNK_TOKENS: usize = 195;

/// SplitMix64: small, fast, and the same sequence everywhere for a seed.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box-Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.unit().max(f64::MIN_POSITIVE);
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * self.unit()).cos()
    }
}

/// Real sentences and their sizes in the embedding model's tokens: the material chunks are made of.
pub struct Sentences {
    texts: Vec<String>,
    tokens: Vec<usize>,
}

impl Sentences {
    /// The sentences of every document under `dir` that read like prose (5 to 60 words, at most 120
    /// tokens), each once.
    pub fn read(dir: &Path, counter: &TokenCounter) -> anyhow::Result<Self> {
        let found = discover(dir).with_context(|| format!("cannot list {}", dir.display()))?;
        let mut sentences = Sentences { texts: Vec::new(), tokens: Vec::new() };
        let mut seen = std::collections::HashSet::new();
        for file in found.files {
            let bytes =
                std::fs::read(&file.absolute).with_context(|| format!("cannot read {}", file.absolute.display()))?;
            let Ok(extracted) = extract(&bytes, file.kind) else { continue };
            let flat = extracted.text.split_whitespace().collect::<Vec<_>>().join(" ");
            for sentence in flat.split_inclusive(['.', '?', '!']) {
                let sentence = sentence.trim();
                if !(5..=60).contains(&sentence.split(' ').count()) || !seen.insert(sentence.to_string()) {
                    continue;
                }
                let tokens = counter.count(sentence);
                if tokens <= 120 {
                    sentences.texts.push(sentence.to_string());
                    sentences.tokens.push(tokens);
                }
            }
        }
        anyhow::ensure!(
            sentences.texts.len() >= 100,
            "{} holds too little prose to build a corpus from",
            dir.display()
        );
        Ok(sentences)
    }

    /// Chunk `n` of a corpus: runs of consecutive sentences from random places (as in a real passage)
    /// until it holds about [`CHUNK_TOKENS`] tokens, never more than [`MAX_CHUNK_TOKENS`].
    pub fn chunk_text(&self, n: u64) -> String {
        let mut rng = Rng::new(n);
        let mut text = String::new();
        let mut tokens = 0;
        while tokens < CHUNK_TOKENS {
            let start = rng.below(self.texts.len());
            for i in start..(start + 1 + rng.below(4)).min(self.texts.len()) {
                if tokens + self.tokens[i] > MAX_CHUNK_TOKENS {
                    return text;
                }
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&self.texts[i]);
                tokens += self.tokens[i];
            }
        }
        text
    }

    /// Query `q`: a few consecutive words of some chunk, as people type them, or a 12-word span of it.
    pub fn query_text(&self, chunks: u64, q: u64) -> String {
        let mut rng = Rng::new(q.wrapping_mul(0x5851_f42d_4c95_7f2d) ^ 0xdead_beef);
        let chunk = self.chunk_text(rng.next_u64() % chunks);
        let words: Vec<&str> = chunk.split(' ').collect();
        let length = if rng.below(4) == 0 { 12 } else { 2 + rng.below(5) };
        let start = rng.below(words.len().saturating_sub(length).max(1));
        words[start..(start + length).min(words.len())].join(" ")
    }
}

/// Salt of the access split, so that it does not correlate with chunk text.
const ACCESS_SALT: u64 = 0x00ac_1000;

/// Whether chunk `n` is readable by everyone (half the corpus) or by the `eng` group only.
pub fn is_public(n: u64) -> bool {
    Rng::new(n ^ ACCESS_SALT).next_u64() % 2 == 0
}
