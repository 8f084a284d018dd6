#!/usr/bin/env python3
"""sentence-transformers/all-MiniLM-L6-v2 in plain numpy: the reference for a Rust implementation.

The model as sentence-transformers runs it (modules.json: Transformer, Pooling, Normalize):

  tokens      the `tokenizers` package on the model's tokenizer.json (BERT WordPiece, lower-cased,
              [CLS] ... [SEP]); text stripped first, truncated to 256 tokens counting [CLS] and
              [SEP] (max_seq_length 256 in sentence_bert_config.json; tokenizer.json's own settings,
              truncation and fixed padding to 128, are replaced); a batch padded to its longest
  embeddings  word + position (0..L-1) + token type 0, then LayerNorm
  6 layers    self-attention, 12 heads of 32, scores / sqrt(32) plus the padding mask (the dtype's
              smallest value on padded keys, as transformers does), softmax, output dense,
              residual, LayerNorm; then dense 384->1536, GELU (erf form), dense 1536->384,
              residual, LayerNorm. LayerNorm eps 1e-12, biased variance
  pooling     mean of the last hidden states over the attention mask (divided by max(count, 1e-9))
  normalise   divided by max(L2 norm, 1e-12)

All in float32, like the model file. Weights come from model.safetensors with
`safetensors.numpy` (names as in the file, with or without a `bert.` prefix).

    from minilm import MiniLM
    m = MiniLM("/tmp/minilm")                 # the directory holding model.safetensors, tokenizer.json
    e = m.embed(["How do I undo a commit?"])  # (1, 384) float32, unit length

erf is the Abramowitz-Stegun 7.1.26 rational approximation (absolute error below 5e-7 in float32,
a few float32 steps near 1), so only numpy is needed for the arithmetic.
"""

import hashlib
import json
import os

import numpy as np

HIDDEN = 384
HEADS = 12
HEAD_DIM = HIDDEN // HEADS
LAYERS = 6
LN_EPS = 1e-12
MAX_SEQ_LENGTH = 256
# sha256 of sentence-transformers/all-MiniLM-L6-v2's model.safetensors; another file still loads, with
# a warning (`MiniLM.genuine` says which).
MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"


def erf(x):
    """Abramowitz and Stegun 7.1.26: |error| < 1.5e-7 exactly, under 5e-7 in float32."""
    a = np.abs(x)
    t = np.float32(0.3275911) * a
    t += np.float32(1.0)
    np.reciprocal(t, out=t)
    p = np.float32(1.061405429) * t
    p += np.float32(-1.453152027)
    p *= t
    p += np.float32(1.421413741)
    p *= t
    p += np.float32(-0.284496736)
    p *= t
    p += np.float32(0.254829592)
    p *= t
    np.square(a, out=a)
    np.negative(a, out=a)
    np.exp(a, out=a)
    p *= a
    np.subtract(np.float32(1.0), p, out=p)
    return np.copysign(p, x, out=p)


def gelu(x):
    y = erf(x * np.float32(0.7071067811865476))
    y += np.float32(1.0)
    y *= x
    y *= np.float32(0.5)
    return y


def layer_norm(x, w, b):
    mean = x.mean(axis=-1, keepdims=True)
    xc = x - mean
    var = (xc * xc).mean(axis=-1, keepdims=True)
    return xc / np.sqrt(var + np.float32(LN_EPS)) * w + b


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class MiniLM:
    def __init__(self, model_dir, max_len=MAX_SEQ_LENGTH, check_sha=True):
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        weights_path = os.path.join(model_dir, "model.safetensors")
        self.sha256 = file_sha256(weights_path) if check_sha else None
        self.genuine = self.sha256 == MODEL_SHA256 if check_sha else None
        if check_sha and not self.genuine:
            print(f"minilm: warning: {weights_path} is not the known all-MiniLM-L6-v2 file", flush=True)
        raw = load_file(weights_path)
        w = {(k[5:] if k.startswith("bert.") else k): v for k, v in raw.items()}
        with open(os.path.join(model_dir, "config.json")) as f:
            cfg = json.load(f)
        assert cfg["hidden_size"] == HIDDEN and cfg["num_attention_heads"] == HEADS, cfg
        assert cfg["num_hidden_layers"] == LAYERS and cfg.get("hidden_act", "gelu") == "gelu", cfg

        def f32(name):
            return np.ascontiguousarray(w[name], dtype=np.float32)

        def linear(prefix):  # PyTorch Linear stores [out, in]; keep [in, out] for x @ W
            return np.ascontiguousarray(f32(prefix + ".weight").T), f32(prefix + ".bias")

        self.word = f32("embeddings.word_embeddings.weight")
        self.pos = f32("embeddings.position_embeddings.weight")
        self.type0 = f32("embeddings.token_type_embeddings.weight")[0]
        self.emb_ln = (f32("embeddings.LayerNorm.weight"), f32("embeddings.LayerNorm.bias"))
        self.layers = []
        for i in range(LAYERS):
            p = f"encoder.layer.{i}."
            (wq, bq), (wk, bk), (wv, bv) = (linear(p + "attention.self." + n) for n in ("query", "key", "value"))
            self.layers.append(
                {
                    # q, k and v in one product: [in, 3*out]
                    "qkv": (np.ascontiguousarray(np.concatenate([wq, wk, wv], axis=1)), np.concatenate([bq, bk, bv])),
                    "attn_out": linear(p + "attention.output.dense"),
                    "attn_ln": (f32(p + "attention.output.LayerNorm.weight"), f32(p + "attention.output.LayerNorm.bias")),
                    "inter": linear(p + "intermediate.dense"),
                    "out": linear(p + "output.dense"),
                    "out_ln": (f32(p + "output.LayerNorm.weight"), f32(p + "output.LayerNorm.bias")),
                }
            )
        self.max_len = max_len
        self.tokenizer = Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_len)

    def token_ids(self, texts):
        """One list of token ids (with [CLS] and [SEP], truncated) for each text."""
        return [e.ids for e in self.tokenizer.encode_batch([str(t).strip() for t in texts])]

    def forward(self, batch_ids):
        """Token id lists -> (B, 384) normalised embeddings."""
        n = len(batch_ids)
        length = max(len(ids) for ids in batch_ids)
        ids = np.zeros((n, length), dtype=np.int64)
        mask = np.zeros((n, length), dtype=np.float32)
        for i, t in enumerate(batch_ids):
            ids[i, : len(t)] = t
            mask[i, : len(t)] = 1.0
        # Hidden states as (B*L, 384): numpy's matmul of a 3-D array by a matrix is several times
        # slower than one 2-D product.
        x = (self.word[ids] + self.pos[:length][None, :, :] + self.type0).reshape(n * length, HIDDEN)
        x = layer_norm(x, *self.emb_ln)
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # (B, 1, 1, L)
        scale = np.float32(1.0 / np.sqrt(HEAD_DIM))
        for layer in self.layers:
            wqkv, bqkv = layer["qkv"]
            qkv = x @ wqkv + bqkv  # (B*L, 3*384)
            qkv = qkv.reshape(n, length, 3, HEADS, HEAD_DIM).transpose(2, 0, 3, 1, 4)  # (3, B, H, L, D)
            # Contiguous heads: numpy's stacked matmul uses BLAS only on contiguous operands (a strided
            # view falls back to a plain loop, tens of times slower).
            q = np.ascontiguousarray(qkv[0])
            kt = np.ascontiguousarray(qkv[1].transpose(0, 1, 3, 2))
            v = np.ascontiguousarray(qkv[2])
            scores = (q @ kt) * scale + bias  # (B, H, L, L)
            scores -= scores.max(axis=-1, keepdims=True)
            np.exp(scores, out=scores)
            scores /= scores.sum(axis=-1, keepdims=True)
            ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(n * length, HIDDEN)
            wo, bo = layer["attn_out"]
            x = layer_norm(ctx @ wo + bo + x, *layer["attn_ln"])
            wi, bi = layer["inter"]
            h = gelu(x @ wi + bi)
            wo2, bo2 = layer["out"]
            x = layer_norm(h @ wo2 + bo2 + x, *layer["out_ln"])
        x = x.reshape(n, length, HIDDEN)
        summed = (x * mask[:, :, None]).sum(axis=1)
        pooled = summed / np.maximum(mask.sum(axis=1, keepdims=True), np.float32(1e-9))
        norm = np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), np.float32(1e-12))
        return (pooled / norm).astype(np.float32)

    def embed(self, texts, batch_size=32):
        """(len(texts), 384) float32 unit vectors, in the order given. Texts are batched by token
        length so that a batch pads little."""
        texts = list(texts)
        out = np.zeros((len(texts), HIDDEN), dtype=np.float32)
        if not texts:
            return out
        all_ids = self.token_ids(texts)
        order = sorted(range(len(texts)), key=lambda i: len(all_ids[i]))
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            out[chunk] = self.forward([all_ids[i] for i in chunk])
        return out
