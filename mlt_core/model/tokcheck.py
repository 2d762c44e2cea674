"""Does a checkpoint's tokenizer fit its model? A probe run on load (Checkpoint.warnings).

A tokenizer whose files disagree with the model (another model's tokenizer.json, a missing
decoder, a vocabulary larger than the embedding matrix) still "works": the model is fed ids it
never learned, or text comes back as byte junk, and every view is silently wrong. Three checks
on short probe sentences in Latin and Devanagari script:
  - the vocabulary, and every id of the probes, fits the model's input embeddings;
  - decoding the ids gives the sentence back (compared NFKC-normalised, whitespace ignored);
  - at most half of the pieces are the unknown token.
"""
from __future__ import annotations

import unicodedata

PROBES = ("A boy is eating an apple in the park.", "एक लड़का पार्क में सेब खा रहा है।")
FIX = ("Use the tokenizer the model was trained with: copy its tokenizer files (tokenizer.json, "
       "tokenizer_config.json, special_tokens_map.json) into the checkpoint folder, or re-save the checkpoint "
       "with `tokenizer.save_pretrained(folder)` from the training run.")


def _norm(text: str) -> str:
    return "".join(unicodedata.normalize("NFKC", text).split())


def tokenizer_problems(tokenizer, n_embeddings: int | None, name: str = "this checkpoint") -> list[str]:
    """Warnings (empty if the tokenizer round-trips the probes within the model's vocabulary)."""
    out = []
    unk = getattr(tokenizer, "unk_token_id", None)
    try:
        size = len(tokenizer)
    except TypeError:
        size = None
    if n_embeddings is not None and size is not None and size > n_embeddings:
        return [f"{name}'s tokenizer has {size} tokens but the model has only {n_embeddings} embeddings: the "
                f"tokenizer is not the model's (its vocabulary is larger). {FIX}"]
    for probe in PROBES:
        try:
            ids = tokenizer(probe, add_special_tokens=False)["input_ids"]
            back = tokenizer.decode(ids, skip_special_tokens=True)
        except Exception as e:  # noqa: BLE001 - a broken tokenizer is the finding itself
            out.append(f"{name}'s tokenizer fails on a probe sentence ({type(e).__name__}: {str(e)[:120]}). {FIX}")
            break
        if n_embeddings is not None and ids and max(ids) >= n_embeddings:
            out.append(f"{name}'s tokenizer produces token id {max(ids)} but the model has only {n_embeddings} "
                       f"embeddings: the tokenizer is not the model's (its vocabulary is larger). {FIX}")
            break
        if unk is not None and ids and sum(i == unk for i in ids) > len(ids) / 2:
            out.append(f"{name}'s tokenizer reads most of {probe!r} as unknown tokens: this script is outside its "
                       "vocabulary, so views of such text mean little (fine if the model never sees it).")
            continue
        if _norm(back) != _norm(probe) and not (unk is not None and unk in ids):
            out.append(f"{name}'s tokenizer does not round-trip its own pieces: {probe!r} comes back as "
                       f"{back[:60]!r} (a decoder or vocabulary that disagrees with the model's files). {FIX}")
            break
    return out
