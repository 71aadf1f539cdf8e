#!/usr/bin/env python3
"""llama.cpp's side of `lore bench generate`: the same GGUF file, prompts, thread count and greedy
sampling, measured the same way (wall clock: time to first token, then decode rate after it).

Reads a JSON job on stdin: {"model", "threads", "context_tokens", "max_tokens", "runs",
"prompts": [{"name", "messages": [{"role", "content"}]}]} and prints one JSON object on stdout.
A benchmark tool only: Lore never loads llama.cpp. Needs `llama-cpp-python` (scripts/bench-generate.sh
builds it from its PyPI source package in a throwaway venv).
"""

import json
import sys
import time

from llama_cpp import Llama


def peak_rss_mib() -> float:
    # VmHWM, not getrusage: Linux carries ru_maxrss across exec, so a process started by a big parent
    # (lore, with its own model loaded) would report the parent's peak.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmHWM in /proc/self/status")


def run_once(llm: Llama, messages, max_tokens: int) -> dict:
    llm.reset()  # no reuse of the previous run's prompt: every run reads the whole prompt
    started = time.perf_counter()
    first = None
    pieces = 0
    for chunk in llm.create_chat_completion(messages=messages, max_tokens=max_tokens, temperature=0.0, top_k=1, stream=True):
        delta = chunk["choices"][0].get("delta", {})
        if delta.get("content"):
            if first is None:
                first = time.perf_counter() - started
            pieces += 1
    total = time.perf_counter() - started
    prompt_tokens = llm.n_tokens - pieces  # the context holds the prompt and the answer
    first = first if first is not None else total
    decode_s = total - first
    return {
        "prompt_tokens": prompt_tokens,
        "answer_tokens": pieces,
        "ttft_ms": first * 1000.0,
        "prefill_tokens_per_s": prompt_tokens / first if first > 0 else 0.0,
        "decode_tokens_per_s": (pieces - 1) / decode_s if pieces > 1 and decode_s > 0 else 0.0,
    }


def main() -> int:
    job = json.load(sys.stdin)
    baseline = peak_rss_mib()
    llm = Llama(
        model_path=job["model"],
        n_ctx=job["context_tokens"],
        n_threads=job["threads"],
        n_threads_batch=job["threads"],
        verbose=False,
    )
    results = {}
    for prompt in job["prompts"]:
        run_once(llm, prompt["messages"], job["max_tokens"])  # warm-up
        runs = [run_once(llm, prompt["messages"], job["max_tokens"]) for _ in range(job["runs"])]
        results[prompt["name"]] = runs
    print(json.dumps({"runs": results, "peak_rss_mib": peak_rss_mib(), "python_baseline_rss_mib": baseline}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
