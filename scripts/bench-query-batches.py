#!/usr/bin/env python3
"""Cost per query of the embedding model by texts per call, in arrival order and sorted by length:
what batching concurrent query embeddings can save (BENCHMARKS.md, issue 15). ONNX Runtime on one
thread, as `embedding.query_threads = 1`; the queries are those `lore bench search --export-queries`
wrote (scripts/bench-http.sh makes them).
    pip install onnxruntime==1.31.1 tokenizers numpy
    scripts/bench-query-batches.py [MODEL_DIR] [QUERIES_FILE]
"""
import os
import random
import sys
import time

import numpy as np
import onnxruntime as ort
import tokenizers

model_dir = sys.argv[1] if len(sys.argv) > 1 else "models/all-MiniLM-L6-v2"
queries_file = sys.argv[2] if len(sys.argv) > 2 else os.path.expanduser(
    "~/.cache/lore/bench-search/http-queries-synthetic.txt")

options = ort.SessionOptions()
options.intra_op_num_threads = 1
options.inter_op_num_threads = 1
options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
session = ort.InferenceSession(os.path.join(model_dir, "model.onnx"), options, providers=["CPUExecutionProvider"])
tokenizer = tokenizers.Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
# As Lore runs it: padded to the longest text of a call, not to the file's fixed length.
tokenizer.no_padding()
tokenizer.enable_truncation(256)
queries = [line.strip() for line in open(queries_file) if line.strip()]


def embed(texts):
    encoded = tokenizer.encode_batch(texts)
    longest = max(len(e.ids) for e in encoded)
    ids = np.zeros((len(texts), longest), np.int64)
    mask = np.zeros_like(ids)
    for row, e in enumerate(encoded):
        ids[row, :len(e.ids)] = e.ids
        mask[row, :len(e.ids)] = 1
    session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})


random.seed(1)
tokens = [len(tokenizer.encode(q).ids) for q in queries]
print(f"{len(queries)} queries, {np.mean(tokens):.1f} tokens on average (longest {max(tokens)})")
embed(queries[:8])
for size in [1, 2, 4, 8, 16, 32]:
    for ordered in [False, True]:
        if size == 1 and ordered:
            continue
        sample = random.sample(queries, min(512, len(queries)))
        if ordered:
            sample.sort(key=len)
        started = time.perf_counter()
        for start in range(0, len(sample), size):
            embed(sample[start:start + size])
        per_query = (time.perf_counter() - started) * 1000 / len(sample)
        print(f"{size:2d} texts per call, {'sorted by length' if ordered else 'arrival order   '}: {per_query:.2f} ms per query")
