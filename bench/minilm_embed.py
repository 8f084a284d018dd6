#!/usr/bin/env python3
"""Embeds lines of text with bench/minilm.py (all-MiniLM-L6-v2 in numpy), for parity checks.

    printf 'How do I undo a commit?\\nRevert the last commit\\n' |
        bench/.venv/bin/python bench/minilm_embed.py --model-dir /tmp/minilm

Reads standard input one text a line (UTF-8; the newline is not part of the text, an empty line is
the empty text) and prints, for each line in order, one JSON array of the 384 floats of its
L2-normalised embedding (9 significant digits, which give the float32 back exactly).
"""

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from minilm import MAX_SEQ_LENGTH, MiniLM  # noqa: E402

DEFAULT_MODEL_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "minilm")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", default=os.environ.get("MINILM_DIR", DEFAULT_MODEL_DIR),
                    help="directory with model.safetensors, tokenizer.json, config.json "
                    "(default $MINILM_DIR or bench/data/minilm)")
    ap.add_argument("--max-len", type=int, default=MAX_SEQ_LENGTH, help="tokens kept, [CLS] and [SEP] included")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    lines = sys.stdin.read().split("\n")
    if lines and lines[-1] == "":
        lines.pop()  # the final newline ends the last line; it does not start an empty one
    model = MiniLM(args.model_dir, max_len=args.max_len)
    out = sys.stdout
    for vec in model.embed(lines, batch_size=args.batch):
        out.write("[" + ",".join(f"{float(x):.9g}" for x in vec) + "]\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
