"""Word-level tokenizer for the digits "text encoder".

A prompt is lower-cased, split on whitespace (punctuation stripped), mapped through vocab.json
(unknown words -> <unk>), wrapped as <start> ... <end>, truncated to max_length (keeping <end>
last) and padded with <pad>. The empty prompt "" gives [<start>, <end>, <pad>, ...]; it is the
unconditional input for classifier-free guidance."""
import json
import os
import re

from data_digits import NUMBER_WORDS

SPECIAL = ["<pad>", "<start>", "<end>", "<unk>"]
WORDS = ["a", "the", "digit", "number", "handwritten", "of"] + NUMBER_WORDS
MAX_LENGTH = 8


class WordTokenizer:
    def __init__(self, vocab=None, max_length=MAX_LENGTH):
        self.vocab = vocab or {w: i for i, w in enumerate(SPECIAL + WORDS)}
        self.max_length = max_length

    def encode(self, prompt):
        words = [w for w in re.sub(r"[^a-z0-9<>\s]", " ", prompt.lower()).split() if w]
        ids = [self.vocab.get(w, self.vocab["<unk>"]) for w in words][: self.max_length - 2]
        ids = [self.vocab["<start>"]] + ids + [self.vocab["<end>"]]
        return ids + [self.vocab["<pad>"]] * (self.max_length - len(ids))

    def save(self, folder):
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "vocab.json"), "w") as f:
            json.dump(self.vocab, f, indent=1)
        cfg = {
            "tokenizer_class": "WordLevelTokenizer",
            "type": "word-level",
            "model_max_length": self.max_length,
            "do_lower_case": True,
            "split": "whitespace; characters other than a-z, 0-9, '<', '>' become spaces",
            "pad_token": "<pad>", "bos_token": "<start>", "eos_token": "<end>", "unk_token": "<unk>",
            "padding": "max_length (pad with pad_token after eos_token)",
            "truncation": "keep the first model_max_length-2 words, then eos_token",
            "format": "[bos] word ids [eos] [pad]...",
            "example": {"prompt": "a digit seven", "input_ids": self.encode("a digit seven")},
            "empty_prompt_ids": self.encode(""),
        }
        with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
            json.dump(cfg, f, indent=1)
        with open(os.path.join(folder, "special_tokens_map.json"), "w") as f:
            json.dump({"pad_token": "<pad>", "bos_token": "<start>", "eos_token": "<end>", "unk_token": "<unk>"}, f, indent=1)
