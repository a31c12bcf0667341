"""Generates embeddings_oracle.json: the vectors that Model2Vec's
StaticModel.encode computes for each text of tokens_oracle.json, with each
fixture model, from the ids StaticModel.tokenize gives (computed by
oracle.mjs with Hugging Face tokenizers).

The arithmetic follows model2vec/model.py (_encode_batch and _encode_helper
at MinishLab/model2vec c901407) with numpy and the tensors' stored dtypes,
one text per call: rows looked up through the vocabulary-quantization
mapping, multiplied by the per-token weights, averaged, then divided by
their L2 norm plus 1e-32 when config says normalize. A float16 table stays
float16 through the mean and the normalization, as in the library.

    python3 encode_reference.py > embeddings_oracle.json
"""

import json
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "I8": "i1"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = data[8 + n + start : 8 + n + end]
        out[name] = np.frombuffer(raw, dtype=DTYPES[info["dtype"]]).reshape(info["shape"])
    return out


def load(name):
    folder = os.path.join(HERE, name)
    tensors = read_safetensors(os.path.join(folder, "model.safetensors"))
    if os.path.exists(os.path.join(folder, "config.json")):
        config = json.load(open(os.path.join(folder, "config.json")))
        embedding = tensors["embeddings"]
    else:
        config = json.load(open(os.path.join(folder, "config_sentence_transformers.json")))
        embedding = tensors["embedding.weight"]
    return embedding, tensors.get("weights"), tensors.get("mapping"), config.get("normalize", False)


def encode(embedding, weights, mapping, normalize, ids):
    if ids:
        rows = mapping[ids] if mapping is not None else ids
        emb = embedding[rows]
        if weights is not None:
            emb = emb * weights[ids][:, None]
        out = np.stack([emb.mean(axis=0)])
    else:
        out = np.stack([np.zeros(embedding.shape[1])])
    if normalize:
        norm = np.linalg.norm(out, axis=1, keepdims=True) + 1e-32
        out = out / norm
    return out[0]


def main():
    oracle = json.load(open(os.path.join(HERE, "tokens_oracle.json")))
    ids_of = {
        "test-model-float32": "test-model-float32",
        "test-model-float16": "test-model-float32",
        "test-model-int8": "test-model-float32",
        "test-model-sentence-transformers": "test-model-float32",
        "test-model-vocab-quantized": "test-model-vocab-quantized",
    }
    result = {"numpy": np.__version__, "models": {}}
    for name, ids_name in ids_of.items():
        embedding, weights, mapping, normalize = load(name)
        vectors = []
        for ids in oracle["models"][ids_name]["ids"]:
            v = encode(embedding, weights, mapping, normalize, ids)
            vectors.append({"dtype": str(v.dtype), "values": [float(x) for x in v]})
        result["models"][name] = vectors
    print(json.dumps(result))


if __name__ == "__main__":
    main()
