#!/usr/bin/python3
"""PyTorch's side of the encoder benchmark (bench/encoder/run.sh).

    torch_bench.py MODEL_DIR TEXTS.jsonl [--threads 2] [--batch 32] [--max-length 512]
                   [--order input|sorted] [--repeat 1] [-o SCORES.json] [--check WINNOW_SCORES.json]

Runs the plain-torch BertForSequenceClassification forward of
testdata/encoder/make_reference.py (transformers' eval-mode computation;
Debian has no transformers package) over the texts in batches of --batch,
each padded to its longest text: in input order (what a scoring script with
padding="longest" does) or sorted by length (the best case for padding).
Tokenization (the pure-Python tokenizer of make_reference.py, far slower than
Hugging Face's Rust one) is done before and not timed. Prints
"torch-ORDER docs tokens seconds" for the best of --repeat passes; --check
prints the largest difference from winnow's scores.
"""

import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "testdata", "encoder"))
import make_reference as ref  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("texts")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--max-length", type=int, default=0)
    ap.add_argument("--order", choices=("input", "sorted"), default="input")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("-o", dest="out")
    ap.add_argument("--check")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    cfg = json.load(open(os.path.join(a.model, "config.json")))
    w = ref.load_checkpoint(a.model)
    tok = ref.WordPiece(os.path.join(a.model, "tokenizer.json"))
    max_len = min(cfg["max_position_embeddings"], a.max_length or cfg["max_position_embeddings"])
    texts = [json.loads(line)["text"] for line in open(a.texts, encoding="utf-8")]
    ids = [tok.encode(t, max_len) for t in texts]
    order = list(range(len(ids)))
    if a.order == "sorted":
        order.sort(key=lambda i: len(ids[i]))

    scores = [None] * len(ids)
    best = None
    with torch.no_grad():
        for _ in range(a.repeat):
            start = time.perf_counter()
            for b in range(0, len(order), a.batch):
                rows = order[b: b + a.batch]
                pad, mask = ref.pad_batch([ids[i] for i in rows])
                _, pooled = ref.bert_forward(w, cfg, pad, mask)
                logits = pooled @ w["classifier.weight"].T + w["classifier.bias"]
                for r, i in enumerate(rows):
                    scores[i] = logits[r].tolist()
            d = time.perf_counter() - start
            best = d if best is None else min(best, d)
    print("torch-%s %d %d %.3f" % (a.order, len(ids), sum(len(i) for i in ids), best))
    if a.out:
        json.dump({"texts": texts, "scores": scores}, open(a.out, "w"))
    if a.check:
        other = json.load(open(a.check))["scores"]
        diff = max(abs(x - y) for s, o in zip(scores, other) for x, y in zip(s, o))
        print("check max |torch - winnow| = %.3g" % diff, file=sys.stderr)


if __name__ == "__main__":
    main()
