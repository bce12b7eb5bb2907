#!/usr/bin/env python3
"""Builds tests/data/clip-parity/: a CLIP ViT-B/32 `CLIPModel` with a TINY config and RANDOM
weights, made by transformers itself and written with `save_pretrained`, plus its outputs on
fixed inputs. tests/it/clip_parity.rs loads the folder through photosift's own loader (`[embed]
weights_dir` pointed at it) and compares the token ids, image embeddings, text embeddings and
logit scale to these outputs.

The tiny model keeps ViT-B/32's structure (32-pixel patches, a class token, pre- and post-
layernorm, quick_gelu, causal text tower pooled at the end token, bias-free projections into a
shared space, a learned logit scale); only widths, depths and the image size are small. The
tokenizer is a CLIP byte-level BPE with the real one's layout (byte alphabet, the same with
`</w>`, merges, then the two specials, so the end token has the highest id as in the real
vocabulary) but a few dozen merges, as tools/make_sd_parity.py does: the real 49408-token
vocabulary cannot be downloaded here, and would be 3 MB.

    pip install torch transformers safetensors
    python3 tools/make_clip_parity.py            # writes tests/data/clip-parity/

Also writes full-size-config.json: the config.json of the real openai/clip-vit-base-patch32
sizes (no weights), so a test can check photosift's built-in preset against it.
"""

import json
import math
import shutil
import sys
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/clip-parity")
MODEL = OUT / "model"
IMAGE_SIZE = 96  # 3 x 3 patches of 32
BATCH = 3

# openai/clip-vit-base-patch32's config.json (the keys that shape the network).
B32_TEXT = dict(vocab_size=49408, hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                num_attention_heads=8, max_position_embeddings=77, hidden_act="quick_gelu",
                layer_norm_eps=1e-5, projection_dim=512, bos_token_id=0, eos_token_id=2,
                pad_token_id=1)
B32_VISION = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                  num_attention_heads=12, image_size=224, patch_size=32, num_channels=3,
                  hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=512)
B32 = dict(projection_dim=512, logit_scale_init_value=2.6592)

WORDS = (
    "a photo of two friends on the mountain hummingbird flower dog dogs beach at sunset blurry "
    "screenshot receipt portrait in city night cat sleeping"
).split()

PROMPTS = [
    "a photo of two friends on a mountain",
    "hummingbird on a flower",
    "",
    "Blurry  screenshot, of a RECEIPT!! at\tsunset",
    "dogs' beach 1234 at night: café — it's a cat's life?",
    " ".join(["a dog on the beach at sunset"] * 14),  # longer than 77 tokens: truncated
]


def bytes_to_unicode():
    """GPT-2's reversible byte -> printable character table (CLIP's BPE uses it)."""
    printable = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    chars = printable[:]
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars)))


def write_tokenizer_files(folder: Path):
    """vocab.json + merges.txt + the special-token files, as openai/clip-vit-base-patch32 ships
    them (pad token "<|endoftext|>"). Returns (vocab size, bos id, eos id)."""
    alphabet = list(bytes_to_unicode().values())
    merges = []
    for word in WORDS:
        parts = list(word[:-1]) + [word[-1] + "</w>"]
        while len(parts) > 1:
            pair = (parts[0], parts[1])
            if pair not in merges:
                merges.append(pair)
            parts = [parts[0] + parts[1]] + parts[2:]
    vocab = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    )
    specials = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "<|endoftext|>",
    }
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        dict(specials, model_max_length=77, do_lower_case=True, tokenizer_class="CLIPTokenizer",
             add_prefix_space=False, errors="replace"), indent=2))
    return len(vocab), len(vocab) - 2, len(vocab) - 1


def randomize(model: torch.nn.Module, gen: torch.Generator):
    """Default initialisation leaves norms at 1/0 and some biases at 0, where a mix-up of two
    norms or a missing bias would not show: perturb every parameter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                p.fill_(math.log(1 / 0.05))
                continue
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() <= 1:
                p.add_(0.2 * noise)
            else:
                p.add_(0.2 * p.std() * noise)


def test_pixels():
    """(BATCH, 3, IMAGE_SIZE, IMAGE_SIZE) normalized pixels from a formula the Rust test
    computes the same way (no 300 kB of numbers in the fixture)."""
    b, c, y, x = torch.meshgrid(
        *(torch.arange(n, dtype=torch.float64) for n in (BATCH, 3, IMAGE_SIZE, IMAGE_SIZE)),
        indexing="ij",
    )
    v = 2.0 * torch.sin(0.11 * (x + 1) * (c + 1) + 0.07 * (y + 1) * (b + 1)) + 0.3 * torch.cos(
        0.05 * x * y + b
    )
    return v.to(torch.float32)


def as_tensor(out):
    """get_*_features returns a tensor (transformers 4) or an output with pooler_output (5)."""
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(33)
    if OUT.exists():
        shutil.rmtree(OUT)
    MODEL.mkdir(parents=True)

    vocab_size, bos, eos = write_tokenizer_files(MODEL)
    tokenizer = CLIPTokenizer.from_pretrained(MODEL)
    text = dict(B32_TEXT, vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
                num_hidden_layers=2, num_attention_heads=2, projection_dim=16,
                bos_token_id=bos, eos_token_id=eos, pad_token_id=eos)
    vision = dict(B32_VISION, hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                  num_attention_heads=4, image_size=IMAGE_SIZE, projection_dim=16)
    config = CLIPConfig(text_config=text, vision_config=vision, **dict(B32, projection_dim=16))
    model = CLIPModel(config).eval()
    randomize(model, gen)
    model.save_pretrained(MODEL, safe_serialization=True)
    tokenizer.save_pretrained(MODEL)  # tokenizer.json beside vocab.json + merges.txt
    write_tokenizer_files(MODEL)  # the files as the hub has them, over what was re-saved
    CLIPConfig(text_config=B32_TEXT, vision_config=B32_VISION, **B32).to_json_file(
        OUT / "full-size-config.json")

    # Reload what was saved, so the outputs come from exactly the stored weights and config.
    model = CLIPModel.from_pretrained(MODEL).eval()
    tokenizer = CLIPTokenizer.from_pretrained(MODEL)
    pixels = test_pixels()
    out = {"prompts": PROMPTS, "image_size": IMAGE_SIZE, "batch": BATCH}
    with torch.no_grad():
        tokens = [tokenizer(p, truncation=True, max_length=77).input_ids for p in PROMPTS]
        out["tokens"] = tokens
        texts = [
            as_tensor(model.get_text_features(input_ids=torch.tensor([ids])))[0].tolist()
            for ids in tokens
        ]
        out["text_embeds"] = texts
        images = as_tensor(model.get_image_features(pixel_values=pixels))
        out["image_embeds"] = images.tolist()
        out["logit_scale"] = model.logit_scale.exp().item()
        # Two prompts padded together (pooled at each one's first end token), as a batch
        # would be: the Rust side embeds each prompt alone.
        pair = tokenizer(PROMPTS[:2], padding=True, return_tensors="pt")
        ins = model(**pair, pixel_values=pixels)
        out["logits_per_image_prompts_0_1"] = ins.logits_per_image.tolist()
    (OUT / "expected.json").write_text(json.dumps(out, indent=1))
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
