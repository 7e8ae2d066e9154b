"""Word-level tokenizer of easel-mini, identical to the Hugging Face tokenizer.json it writes.

Rules (same as tokenizers' WordLevel + Lowercase + BertPreTokenizer + TemplateProcessing):
  1. the special tokens (<|startoftext|>, <|endoftext|>, [UNK]) are matched verbatim first;
  2. the rest is lowercased, then split on whitespace and on every punctuation character
     (Unicode category P* or ASCII !-/ :-@ [-` {-~), each punctuation character a token;
  3. words not in the vocabulary become [UNK];
  4. BOS + first 75 tokens + EOS, padded to 77 with <|endoftext|>.
"""
import json
import re
import unicodedata

from scenes import COLOURS, SHAPES

BOS, EOS, UNK = "<|startoftext|>", "<|endoftext|>", "[UNK]"
MAX_LEN = 77
SPECIALS = [UNK, BOS, EOS]
WORDS = [",", ".", "a", "an", "the", "on", "with", "of", "in", "front", "and", "background",
         "picture", "image", "drawing", "photo", "shape"] + COLOURS + SHAPES
VOCAB = {t: i for i, t in enumerate(SPECIALS + WORDS)}
UNK_ID, BOS_ID, EOS_ID = VOCAB[UNK], VOCAB[BOS], VOCAB[EOS]
PAD_ID = EOS_ID


def _is_punct(ch):
    o = ord(ch)
    if 0x21 <= o <= 0x2F or 0x3A <= o <= 0x40 or 0x5B <= o <= 0x60 or 0x7B <= o <= 0x7E:
        return True
    return unicodedata.category(ch).startswith("P")


def pre_tokenize(text):
    out, cur = [], []
    for ch in text:
        if ch.isspace():
            if cur:
                out.append("".join(cur)); cur = []
        elif _is_punct(ch):
            if cur:
                out.append("".join(cur)); cur = []
            out.append(ch)
        else:
            cur.append(ch)
    if cur:
        out.append("".join(cur))
    return out


_SPECIAL_RE = re.compile("(" + "|".join(re.escape(s) for s in SPECIALS) + ")")


def tokenize(text):
    toks = []
    for part in _SPECIAL_RE.split(text):
        if not part:
            continue
        if part in SPECIALS:
            toks.append(part)
        else:
            toks.extend(pre_tokenize(part.lower()))
    return toks


def encode(text, max_len=MAX_LEN):
    ids = [VOCAB.get(t, UNK_ID) for t in tokenize(text)][: max_len - 2]
    ids = [BOS_ID] + ids + [EOS_ID]
    return ids + [PAD_ID] * (max_len - len(ids))


def tokenizer_json():
    added = [{"id": VOCAB[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s in SPECIALS]
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": MAX_LEN, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": MAX_LEN}, "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": PAD_ID, "pad_type_id": 0, "pad_token": EOS},
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": EOS, "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": BOS, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": EOS, "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": EOS, "type_id": 1}}],
            "special_tokens": {
                BOS: {"id": BOS, "ids": [BOS_ID], "tokens": [BOS]},
                EOS: {"id": EOS, "ids": [EOS_ID], "tokens": [EOS]},
            },
        },
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": VOCAB, "unk_token": UNK},
    }


def tokenizer_config_json():
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MAX_LEN,
        "bos_token": BOS,
        "eos_token": EOS,
        "pad_token": EOS,
        "unk_token": UNK,
        "do_lower_case": True,
        "clean_up_tokenization_spaces": False,
        "add_prefix_space": False,
    }


VECTOR_PROMPTS = [
    "",
    "a red circle on a blue background",
    "red circle, blue background",
    "a red circle",
    "A Red Circle On A Blue Background",
    "an orange triangle on a purple background.",
    "GREEN SQUARE, WHITE BACKGROUND!",
    "a yellow square on a black background, highly detailed, 4k",
    "a pink hexagon",
    "  lots   of\tspaces\n here  ",
    "white background with a black triangle",
    "a picture of a green circle on a red background",
    "purple triangle;blue background...",
    "don't draw a (blue) square [please]",
    "a red circle --ar 1:1",
    "café au lait circle",
    "<|startoftext|>a red circle<|endoftext|>",
    "a [UNK] circle and [unk]",
    "a drawing of an orange square in front of a white background",
    "blue " * 90,
]


def write(tok_dir, vectors_path=None):
    import os
    os.makedirs(tok_dir, exist_ok=True)
    with open(os.path.join(tok_dir, "tokenizer.json"), "w") as f:
        json.dump(tokenizer_json(), f, indent=2, ensure_ascii=False)
    with open(os.path.join(tok_dir, "tokenizer_config.json"), "w") as f:
        json.dump(tokenizer_config_json(), f, indent=2)
    with open(os.path.join(tok_dir, "vocab.json"), "w") as f:
        json.dump(VOCAB, f, indent=2)
    if vectors_path:
        vec = {"description": "Expected input_ids (77 long: BOS + first 75 tokens + EOS, padded with the "
                              "<|endoftext|> id) for each prompt, as the Python training tokenized them.",
               "max_length": MAX_LEN, "pad_id": PAD_ID, "bos_id": BOS_ID, "eos_id": EOS_ID, "unk_id": UNK_ID,
               "vectors": [{"prompt": p, "tokens": tokenize(p), "input_ids": encode(p)} for p in VECTOR_PROMPTS]}
        with open(vectors_path, "w") as f:
            json.dump(vec, f, indent=1, ensure_ascii=False)


if __name__ == "__main__":
    import sys
    write(sys.argv[1] if len(sys.argv) > 1 else "../tokenizer", sys.argv[2] if len(sys.argv) > 2 else "tokenizer-vectors.json")
