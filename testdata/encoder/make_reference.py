#!/usr/bin/python3
"""Reference BERT models and outputs for winnow's models/encoder parity tests.

Run with Debian's Python (numpy, torch 1.13; there is no transformers or
tokenizers package), from the repository root:

    /usr/bin/python3 testdata/encoder/make_reference.py            # the committed fixtures
    /usr/bin/python3 testdata/encoder/make_reference.py bench DIR  # a bert-base shaped model (not committed)
    /usr/bin/python3 testdata/encoder/make_reference.py verify DIR OUTPUTS.json

The default command builds two small random BERT models with bert-base-uncased's
real vocabulary and tokenizer, saved as Hugging Face saves them:

  classifier/  BertForSequenceClassification (num_labels 1, regression), tensor
               names with the "bert." prefix, pooler and classifier;
  embedder/    BertModel in the sentence-transformers layout (names without
               prefix, modules.json, sentence_bert_config.json, 1_Pooling with
               mean pooling), hidden_act gelu_new;

and records in reference.json, for real texts, the token ids this script's
own tokenizer produced (a pure-Python BertNormalizer + BertPreTokenizer +
WordPiece, independent of winnow's) and the outputs of a plain-torch BERT
forward pass: the classifier's score, pooled output and [CLS] hidden state,
and the embedder's mean- and CLS-pooled embeddings.

"verify" loads a BertForSequenceClassification directory (e.g. one winnow
exported) with the same plain-torch loader and checks that it reproduces the
scores of OUTPUTS.json ({"texts": [...], "scores": [[...], ...]}).
"""

import json
import math
import os
import string
import subprocess
import sys
import unicodedata

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
SHARED = os.environ.get("WINNOW_SHARED_DATA", os.path.join(ROOT, "..", "shared", "data"))
TOKENIZER_DIR = os.path.join(SHARED, "tokenizers", "bert-base-uncased")


# ---------------------------------------------------------------- tokenizer


class WordPiece:
    """bert-base-uncased's tokenizer.json pipeline, written from the Hugging
    Face tokenizers semantics: added tokens matched on the raw text,
    BertNormalizer (clean text, CJK spacing, NFD accent stripping,
    lowercasing), BertPreTokenizer (whitespace and punctuation splits) and
    greedy longest-match-first WordPiece."""

    def __init__(self, path):
        spec = json.load(open(path, encoding="utf-8"))
        model = spec["model"]
        assert model["type"] == "WordPiece"
        self.vocab = model["vocab"]
        self.unk = self.vocab[model["unk_token"]]
        self.prefix = model["continuing_subword_prefix"]
        self.max_chars = model["max_input_chars_per_word"]
        self.added = sorted(((t["content"], t["id"]) for t in spec["added_tokens"]), key=lambda t: -len(t[0]))
        self.cls = self.vocab["[CLS]"]
        self.sep = self.vocab["[SEP]"]

    @staticmethod
    def _control(c):
        return c not in "\t\n\r" and unicodedata.category(c).startswith("C")

    @staticmethod
    def _cjk(cp):
        return any(lo <= cp <= hi for lo, hi in (
            (0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F),
            (0x2B740, 0x2B81F), (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F)))

    @staticmethod
    def _punct(c):
        return c in string.punctuation or unicodedata.category(c).startswith("P")

    def _normalize(self, text):
        out = []
        for c in text:
            if c == "\0" or c == "\ufffd" or self._control(c):
                continue
            if c.isspace():
                out.append(" ")
            elif self._cjk(ord(c)):
                out.append(" " + c + " ")
            else:
                out.append(c)
        text = unicodedata.normalize("NFD", "".join(out))
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        return "".join(c.lower() for c in text)

    def _words(self, text):
        word = []
        for c in text:
            if c.isspace():
                if word:
                    yield "".join(word)
                word = []
            elif self._punct(c):
                if word:
                    yield "".join(word)
                word = []
                yield c
            else:
                word.append(c)
        if word:
            yield "".join(word)

    def _wordpiece(self, word):
        if len(word) > self.max_chars:
            return [self.unk]
        ids, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    break
                end -= 1
            if end == start:
                return [self.unk]
            start = end
        return ids

    def _segment(self, text):
        ids = []
        for word in self._words(self._normalize(text)):
            ids.extend(self._wordpiece(word))
        return ids

    def encode(self, text, max_length):
        """The ids of text with [CLS] and [SEP], truncated to max_length."""
        ids, seg = [], 0
        pos = 0
        while pos < len(text):
            for content, tid in self.added:
                if text.startswith(content, pos):
                    ids.extend(self._segment(text[seg:pos]))
                    ids.append(tid)
                    pos += len(content)
                    seg = pos
                    break
            else:
                pos += 1
        ids.extend(self._segment(text[seg:]))
        return [self.cls] + ids[: max_length - 2] + [self.sep]


# ---------------------------------------------------------------- model


def bert_forward(w, cfg, ids, mask):
    """BertModel's forward pass in eval mode: the last hidden states
    [B, L, H] and the pooled output [B, H] (None without a pooler)."""
    B, L = ids.shape
    H, nh = cfg["hidden_size"], cfg["num_attention_heads"]
    d = H // nh
    eps = cfg["layer_norm_eps"]
    act = {
        "gelu": lambda x: torch.nn.functional.gelu(x),
        "gelu_new": lambda x: torch.nn.functional.gelu(x, approximate="tanh"),
        "relu": torch.relu,
    }[cfg["hidden_act"]]

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def ln(x, name):
        return torch.nn.functional.layer_norm(x, (H,), w[name + ".weight"], w[name + ".bias"], eps)

    x = (w["embeddings.word_embeddings.weight"][ids]
         + w["embeddings.position_embeddings.weight"][:L][None]
         + w["embeddings.token_type_embeddings.weight"][0])
    x = ln(x, "embeddings.LayerNorm")
    additive = (1.0 - mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        q, k, v = (lin(x, p + "attention.self." + n).view(B, L, nh, d).transpose(1, 2) for n in ("query", "key", "value"))
        probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d) + additive, dim=-1)
        ctx = (probs @ v).transpose(1, 2).reshape(B, L, H)
        x = ln(lin(ctx, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        x = ln(lin(act(lin(x, p + "intermediate.dense")), p + "output.dense") + x, p + "output.LayerNorm")
    pooled = torch.tanh(lin(x[:, 0], "pooler.dense")) if "pooler.dense.weight" in w else None
    return x, pooled


def random_weights(cfg, gen, std, pooler=True):
    """BertModel weights (names without prefix). Every parameter is random,
    LayerNorm scales and biases included, so that each one shows in the
    outputs."""
    H, I = cfg["hidden_size"], cfg["intermediate_size"]
    w = {}

    def normal(*shape, mean=0.0, s=std):
        return (torch.randn(*shape, generator=gen) * s + mean).float()

    def layer_norm(name):
        w[name + ".weight"] = normal(H, mean=1.0, s=0.1)
        w[name + ".bias"] = normal(H, s=0.1)

    def linear(name, n_out, n_in):
        w[name + ".weight"] = normal(n_out, n_in)
        w[name + ".bias"] = normal(n_out, s=0.1)

    w["embeddings.word_embeddings.weight"] = normal(cfg["vocab_size"], H)
    w["embeddings.position_embeddings.weight"] = normal(cfg["max_position_embeddings"], H)
    w["embeddings.token_type_embeddings.weight"] = normal(cfg["type_vocab_size"], H)
    layer_norm("embeddings.LayerNorm")
    for i in range(cfg["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            linear(p + "attention.self." + n, H, H)
        linear(p + "attention.output.dense", H, H)
        layer_norm(p + "attention.output.LayerNorm")
        linear(p + "intermediate.dense", I, H)
        linear(p + "output.dense", H, I)
        layer_norm(p + "output.LayerNorm")
    if pooler:
        linear("pooler.dense", H, H)
    return w


# ---------------------------------------------------------------- files

DTYPES = {"F32": "<f4", "F16": "<f2"}


def write_safetensors(path, tensors, dtype="F32"):
    """The safetensors format: 8-byte little-endian header length, a JSON
    header (name -> dtype, shape, data_offsets), raw little-endian data."""
    header, blobs, off = {"__metadata__": {"format": "pt"}}, [], 0
    for name in sorted(tensors):
        a = tensors[name].detach().numpy().astype(DTYPES[dtype])
        b = a.tobytes()
        header[name] = {"dtype": dtype, "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-(8 + len(h)) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        lo, hi = info["data_offsets"]
        if info["dtype"] == "BF16":
            raw = np.frombuffer(data[lo:hi], dtype="<u2").astype(np.uint32) << 16
            a = raw.view(np.float32)
        else:
            a = np.frombuffer(data[lo:hi], dtype=DTYPES[info["dtype"]]).astype(np.float32)
        out[name] = torch.from_numpy(a.reshape(info["shape"]).copy())
    return out


def load_checkpoint(d):
    """Weights of a model directory (single or sharded safetensors), names
    without the "bert." prefix, classifier.* kept."""
    index = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(index):
        w = {}
        for shard in sorted(set(json.load(open(index))["weight_map"].values())):
            w.update(read_safetensors(os.path.join(d, shard)))
    else:
        w = read_safetensors(os.path.join(d, "model.safetensors"))
    return {k[5:] if k.startswith("bert.") else k: v for k, v in w.items()}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, ensure_ascii=False)
        f.write("\n")


def bert_config(arch, **kw):
    cfg = {
        "architectures": [arch],
        "attention_probs_dropout_prob": 0.1,
        "classifier_dropout": None,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 32,
        "initializer_range": 0.02,
        "intermediate_size": 64,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 128,
        "model_type": "bert",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "torch_dtype": "float32",
        "transformers_version": "4.40.0",
        "type_vocab_size": 2,
        "use_cache": True,
        "vocab_size": 30522,
    }
    cfg.update(kw)
    return cfg


def copy_tokenizer(d):
    os.makedirs(d, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        with open(os.path.join(TOKENIZER_DIR, name), "rb") as src, open(os.path.join(d, name), "wb") as dst:
            dst.write(src.read())


# ---------------------------------------------------------------- texts


def cut(text, n):
    """text cut to at most n characters at a line break (or a space)."""
    if len(text) <= n:
        return text
    i = text.rfind("\n", 0, n)
    if i <= 0:
        i = text.rfind(" ", 0, n)
    return text[:i]


def reference_texts():
    rows = subprocess.run(["zstd", "-dc", os.path.join(ROOT, "data", "fineweb-edu-llama3-sample", "valid.jsonl.zst")],
                          check=True, capture_output=True).stdout.decode().splitlines()
    docs = [json.loads(r)["text"] for r in rows[:40]]
    texts = [cut(t, 1500) for t in docs[:30]]          # most are longer than both models' maximum lengths
    texts += [t.split("\n", 1)[0][:200] for t in docs[30:40]]  # short ones: a first line
    for name in ("spa_Latn_sampled_500k_0_to_600.jsonl", "deu_Latn_sampled_500k_first200.jsonl",
                 "srp_Cyrl_sampled_500k_0_to_600.jsonl"):
        with open(os.path.join(SHARED, "web-text", name), encoding="utf-8") as f:
            texts.append(cut(json.loads(f.readline())["text"], 600))
    texts += ["", "[CLS] Ünïcödé, “quotes” — and 東京 [MASK]!"]
    return texts


# ---------------------------------------------------------------- commands


def pad_batch(ids):
    """Token ids padded to the longest (with 0, [PAD]) and the attention mask."""
    L = max(len(i) for i in ids)
    pad = torch.zeros(len(ids), L, dtype=torch.long)
    mask = torch.zeros(len(ids), L, dtype=torch.long)
    for r, i in enumerate(ids):
        pad[r, : len(i)] = torch.tensor(i)
        mask[r, : len(i)] = 1
    return pad, mask


def batch_ids(tok, texts, max_length):
    ids = [tok.encode(t, max_length) for t in texts]
    return (ids, *pad_batch(ids))


def rows(t):
    return [[float(v) for v in r] for r in t.tolist()]


def make_fixtures():
    tok = WordPiece(os.path.join(TOKENIZER_DIR, "tokenizer.json"))
    texts = reference_texts()
    gen = torch.Generator().manual_seed(20261207)
    ref = {"texts": texts}

    # BertForSequenceClassification, regression (the FineWeb-Edu classifier's layout).
    d = os.path.join(HERE, "classifier")
    cfg = bert_config("BertForSequenceClassification", id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0},
                      problem_type="regression")
    w = random_weights(cfg, gen, std=0.2)
    head = {"classifier.weight": (torch.randn(1, 32, generator=gen) * 0.5).float(),
            "classifier.bias": torch.tensor([1.5])}
    copy_tokenizer(d)
    write_json(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), {**{"bert." + k: v for k, v in w.items()}, **head})
    ids, pad, mask = batch_ids(tok, texts, cfg["max_position_embeddings"])
    with torch.no_grad():
        hidden, pooled = bert_forward(w, cfg, pad, mask)
        score = pooled @ head["classifier.weight"].T + head["classifier.bias"]
    ref["classifier"] = {"max_length": cfg["max_position_embeddings"], "ids": ids, "score": rows(score),
                         "pooled": rows(pooled), "cls": rows(hidden[:, 0])}

    # BertModel in the sentence-transformers layout, mean pooling.
    d = os.path.join(HERE, "embedder")
    cfg = bert_config("BertModel", hidden_act="gelu_new", max_position_embeddings=512)
    max_seq = 256
    w = random_weights(cfg, gen, std=0.2)
    copy_tokenizer(d)
    write_json(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), w)
    write_json(os.path.join(d, "modules.json"), [
        {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}])
    write_json(os.path.join(d, "sentence_bert_config.json"), {"max_seq_length": max_seq, "do_lower_case": False})
    os.makedirs(os.path.join(d, "1_Pooling"), exist_ok=True)
    write_json(os.path.join(d, "1_Pooling", "config.json"), {
        "word_embedding_dimension": 32, "pooling_mode_cls_token": False, "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False, "pooling_mode_mean_sqrt_len_tokens": False,
        "pooling_mode_weightedmean_tokens": False, "pooling_mode_lasttoken": False, "include_prompt": True})
    ids, pad, mask = batch_ids(tok, texts, max_seq)
    with torch.no_grad():
        hidden, _ = bert_forward(w, cfg, pad, mask)
        m = mask[:, :, None].float()
        mean = (hidden * m).sum(1) / m.sum(1).clamp(min=1e-9)
    ref["embedder"] = {"max_length": max_seq, "ids": ids, "mean": rows(mean), "cls": rows(hidden[:, 0])}

    with open(os.path.join(HERE, "reference.json"), "w", encoding="utf-8") as f:
        json.dump(ref, f, ensure_ascii=False)
        f.write("\n")


def make_bench(d):
    """A bert-base shaped BertForSequenceClassification (12 layers, hidden
    768, 12 heads, max length 512, one regression output), random weights."""
    gen = torch.Generator().manual_seed(1)
    cfg = bert_config("BertForSequenceClassification", hidden_size=768, intermediate_size=3072,
                      num_attention_heads=12, num_hidden_layers=12, max_position_embeddings=512,
                      id2label={"0": "LABEL_0"}, label2id={"LABEL_0": 0}, problem_type="regression")
    w = random_weights(cfg, gen, std=0.02)
    w["classifier.weight"] = (torch.randn(1, 768, generator=gen) * 0.02).float()
    w["classifier.bias"] = torch.zeros(1)
    copy_tokenizer(d)
    write_json(os.path.join(d, "config.json"), cfg)
    write_safetensors(os.path.join(d, "model.safetensors"), {("bert." + k if not k.startswith("classifier") else k): v
                                                             for k, v in w.items()})


def verify(d, outputs):
    """Checks that the plain-torch loader reproduces winnow's scores for a
    BertForSequenceClassification directory."""
    cfg = json.load(open(os.path.join(d, "config.json")))
    assert cfg["architectures"] == ["BertForSequenceClassification"], cfg["architectures"]
    w = load_checkpoint(d)
    tok = WordPiece(os.path.join(d, "tokenizer.json"))
    want = json.load(open(outputs))
    _, pad, mask = batch_ids(tok, want["texts"], cfg["max_position_embeddings"])
    with torch.no_grad():
        _, pooled = bert_forward(w, cfg, pad, mask)
        logits = pooled @ w["classifier.weight"].T + w["classifier.bias"]
    diff = (logits - torch.tensor(want["scores"])).abs().max().item()
    print("%s: %d texts, %d outputs, max |torch - winnow| = %.3g" % (d, len(want["texts"]), logits.shape[1], diff))
    if diff > 1e-4:
        sys.exit(1)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if len(sys.argv) == 1:
        make_fixtures()
    elif sys.argv[1] == "bench" and len(sys.argv) == 3:
        make_bench(sys.argv[2])
    elif sys.argv[1] == "verify" and len(sys.argv) == 4:
        verify(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
