#!/usr/bin/env python3
"""Writes a llama-architecture GGUF with random weights and a real tokenizer, for tests and benchmarks.

Nothing is downloaded: the weights are seeded noise (so the text is noise too), but every part of the path is
real: GGUF metadata, a SentencePiece-style vocabulary (unk/bos/eos, the 256 byte tokens, scored pieces), a
ChatML chat template, and llama tensors of the requested shape. Tests check loading, tokenizing, decoding,
sampling, stopping, usage and determinism, never golden text.

    python3 Tests/models/make_test_model.py OUT.gguf                  # tiny: 64 wide, 2 layers, 0.7 MB
    python3 Tests/models/make_test_model.py OUT.gguf --size bench     # tens of MB, for speed figures
    python3 Tests/models/make_test_model.py OUT.gguf --base           # no chat template, like a base model
"""
import argparse
import string

import gguf
import numpy as np

SIZES = {
    # n_embd, n_layer, n_head, n_ff, n_vocab, n_ctx, dtype
    "tiny": (64, 2, 4, 128, 512, 512, np.float32),
    "bench": (512, 6, 8, 1408, 4096, 2048, np.float16),
}

CHATML = ("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
          "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")


def vocabulary(n_vocab):
    tokens, scores, types = ["<unk>", "<s>", "</s>"], [0.0, 0.0, 0.0], [2, 3, 3]
    for b in range(256):
        tokens.append(f"<0x{b:02X}>")
        scores.append(0.0)
        types.append(6)  # byte
    pieces = ["\u2581" + c for c in string.ascii_lowercase] + list(string.ascii_lowercase) + list(string.digits)
    pieces += list(string.punctuation) + ["\u2581"]
    words = ["the", "and", "hive", "drone", "task", "goal", "fork", "join", "of", "to", "in", "is", "it", "on"]
    pieces += ["\u2581" + w for w in words] + words
    a, b = string.ascii_lowercase, string.ascii_lowercase
    pieces += [x + y for x in a for y in b]
    seen = set(tokens)
    for p in pieces:
        if len(tokens) >= n_vocab:
            break
        if p in seen:
            continue
        seen.add(p)
        tokens.append(p)
        scores.append(-float(len(tokens)) / 10.0)  # earlier pieces merge first
        types.append(1)
    while len(tokens) < n_vocab:
        tokens.append(f"<extra_{len(tokens)}>")
        scores.append(-1e6)
        types.append(4)  # user-defined, never produced by merges
    return tokens, scores, types


def write(path, size, seed, chat_template=True):
    n_embd, n_layer, n_head, n_ff, n_vocab, n_ctx, dtype = SIZES[size]
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, "llama")
    w.add_name(f"hive-test-{size}")
    w.add_context_length(n_ctx)
    w.add_embedding_length(n_embd)
    w.add_block_count(n_layer)
    w.add_feed_forward_length(n_ff)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_head)
    w.add_rope_dimension_count(n_embd // n_head)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_file_type(gguf.LlamaFileType.ALL_F32 if dtype == np.float32 else gguf.LlamaFileType.MOSTLY_F16)
    tokens, scores, types = vocabulary(n_vocab)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores(scores)
    w.add_token_types(types)
    w.add_unk_token_id(0)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_add_bos_token(True)
    if chat_template:
        w.add_chat_template(CHATML)

    def t(name, *shape, scale=0.08):
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(dtype))

    def ones(name, n):
        w.add_tensor(name, np.ones(n, dtype=np.float32))

    t("token_embd.weight", n_vocab, n_embd)
    for i in range(n_layer):
        ones(f"blk.{i}.attn_norm.weight", n_embd)
        for m in ("q", "k", "v", "output"):
            t(f"blk.{i}.attn_{m}.weight", n_embd, n_embd)
        ones(f"blk.{i}.ffn_norm.weight", n_embd)
        t(f"blk.{i}.ffn_gate.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_up.weight", n_ff, n_embd)
        t(f"blk.{i}.ffn_down.weight", n_embd, n_ff)
    ones("output_norm.weight", n_embd)
    t("output.weight", n_vocab, n_embd)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("out")
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--base", action="store_true", help="no chat template (drones then prompt it as a completion model)")
    a = ap.parse_args()
    write(a.out, a.size, a.seed, chat_template=not a.base)
