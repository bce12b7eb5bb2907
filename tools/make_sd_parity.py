#!/usr/bin/env python3
"""Builds tests/data/sd-parity/: Stable Diffusion 2.x / sd-turbo networks with TINY configs and
RANDOM weights, made by diffusers and transformers themselves, plus their outputs on fixed
inputs. tests/it/seed_parity.rs loads the folder through photosift's own loaders (`[seed]
weights_dir` pointed at a diffusers folder) and compares every component and the whole
pipeline to these outputs. The networks keep SD 2.1's architecture options (linear projection
in the transformers, a per-block head-count list, cross-attention, GELU CLIP padded with "!",
sd-turbo's scheduler config); only the widths and depths are small. They produce noise, not
pictures: this proves key names, configs and arithmetic, not image quality.

    pip install torch diffusers transformers safetensors
    python3 tools/make_sd_parity.py            # writes tests/data/sd-parity/

Also writes tests/data/sd-parity/full-size-configs/: the config.json files of the real-size
networks (built on the meta device, no weights), so that a test can check photosift's
built-in presets against what diffusers makes of SD 2.1's options.
"""

import json
import shutil
import sys
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    AutoencoderTiny,
    EulerDiscreteScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from safetensors.torch import save_file
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

OUT = Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/sd-parity")
MODEL = OUT / "model"

# Latents 8 x 12 -> a 64 x 96 image: not square, so that a swapped height/width shows.
LAT_H, LAT_W = 8, 12

# sd-turbo's scheduler/scheduler_config.json (the keys diffusers reads).
SD_TURBO_SCHEDULER = dict(
    beta_end=0.012,
    beta_schedule="scaled_linear",
    beta_start=0.00085,
    clip_sample=False,
    interpolation_type="linear",
    num_train_timesteps=1000,
    prediction_type="epsilon",
    sample_max_value=1.0,
    set_alpha_to_one=False,
    skip_prk_steps=True,
    steps_offset=1,
    timestep_spacing="trailing",
    trained_betas=None,
    use_karras_sigmas=False,
)

# SD 2.1 / sd-turbo UNet options; the tiny one changes widths, depth and head counts only.
SD2_UNET = dict(
    sample_size=96,
    in_channels=4,
    out_channels=4,
    center_input_sample=False,
    flip_sin_to_cos=True,
    freq_shift=0,
    down_block_types=(
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "CrossAttnDownBlock2D",
        "DownBlock2D",
    ),
    mid_block_type="UNetMidBlock2DCrossAttn",
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"),
    only_cross_attention=False,
    block_out_channels=(320, 640, 1280, 1280),
    layers_per_block=2,
    downsample_padding=1,
    mid_block_scale_factor=1,
    act_fn="silu",
    norm_num_groups=32,
    norm_eps=1e-5,
    cross_attention_dim=1024,
    attention_head_dim=[5, 10, 20, 20],
    use_linear_projection=True,
    upcast_attention=True,
)
TINY_UNET = dict(
    SD2_UNET,
    sample_size=LAT_H,
    down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
    up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
    block_out_channels=(32, 32),
    layers_per_block=2,
    cross_attention_dim=32,
    # Heads per block as SD 2.x lists them (diffusers' "attention_head_dim" is a head count);
    # the last one is the mid block's.
    attention_head_dim=[2, 4],
)

SD_VAE = dict(
    in_channels=3,
    out_channels=3,
    down_block_types=("DownEncoderBlock2D",) * 4,
    up_block_types=("UpDecoderBlock2D",) * 4,
    block_out_channels=(128, 256, 512, 512),
    layers_per_block=2,
    act_fn="silu",
    latent_channels=4,
    norm_num_groups=32,
    sample_size=768,
    scaling_factor=0.18215,
)
TINY_VAE = dict(SD_VAE, block_out_channels=(8, 8, 16, 16), layers_per_block=1, norm_num_groups=4,
                sample_size=LAT_H * 8)

SD_TAESD = dict(
    in_channels=3,
    out_channels=3,
    encoder_block_out_channels=(64, 64, 64, 64),
    decoder_block_out_channels=(64, 64, 64, 64),
    act_fn="relu",
    latent_channels=4,
    upsampling_scaling_factor=2,
    num_encoder_blocks=(1, 3, 3, 3),
    num_decoder_blocks=(3, 3, 3, 1),
    latent_magnitude=3,
    latent_shift=0.5,
    scaling_factor=1.0,
)
TINY_TAESD = dict(SD_TAESD, encoder_block_out_channels=(8, 8, 8, 8),
                  decoder_block_out_channels=(8, 8, 8, 8), num_encoder_blocks=(1, 1, 1, 1))

SD2_CLIP = dict(
    vocab_size=49408,
    hidden_size=1024,
    intermediate_size=4096,
    num_hidden_layers=23,
    num_attention_heads=16,
    max_position_embeddings=77,
    hidden_act="gelu",
    layer_norm_eps=1e-5,
    projection_dim=512,
    bos_token_id=0,
    eos_token_id=2,
    pad_token_id=1,
)

WORDS = (
    "a photo of two friends on the mountain hummingbird flower dog dogs beach at sunset blurry "
    "screenshot receipt portrait in city night"
).split()

PROMPTS = [
    "a photo of two friends on a mountain",
    "hummingbird on a flower",
    "",
    "Blurry  screenshot, of a RECEIPT!! at\tsunset",
    "dogs' beach 1234 at night: café",
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


def write_tokenizer(folder: Path):
    """A CLIP BPE tokenizer with the real one's layout (byte alphabet, then the same with
    `</w>`, then merges, then the two specials) but a few dozen merges, in the files an SD 2.x
    repository ships under tokenizer/ (vocab.json, merges.txt, pad token "!"; no
    tokenizer.json). Returns the vocabulary size."""
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
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}))
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    )
    specials = {
        "bos_token": "<|startoftext|>",
        "eos_token": "<|endoftext|>",
        "unk_token": "<|endoftext|>",
        "pad_token": "!",
    }
    (folder / "special_tokens_map.json").write_text(json.dumps(specials, indent=2))
    (folder / "tokenizer_config.json").write_text(json.dumps(
        dict(specials, model_max_length=77, do_lower_case=True, tokenizer_class="CLIPTokenizer",
             add_prefix_space=False, errors="replace"), indent=2))
    return len(vocab)


def randomize(model: torch.nn.Module, gen: torch.Generator):
    """Default initialisation leaves norms at 1/0 and some biases at 0, where a mix-up of two
    norms or a missing bias would not show: perturb every parameter."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if p.dim() <= 1:
                p.add_(0.2 * noise)
            else:
                p.add_(0.2 * p.std() * noise)


def full_size_configs(folder: Path):
    with torch.device("meta"):
        UNet2DConditionModel(**SD2_UNET).save_config(folder / "unet")
        AutoencoderKL(**SD_VAE).save_config(folder / "vae")
        AutoencoderTiny(**SD_TAESD).save_config(folder / "taesd")
        CLIPTextConfig(**SD2_CLIP).save_pretrained(folder / "text_encoder")
    EulerDiscreteScheduler.from_config(SD_TURBO_SCHEDULER).save_config(folder / "scheduler")


def main():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    if OUT.exists():
        shutil.rmtree(OUT)
    MODEL.mkdir(parents=True)

    vocab_size = write_tokenizer(MODEL / "tokenizer")
    tokenizer = CLIPTokenizer.from_pretrained(MODEL / "tokenizer")
    clip_cfg = CLIPTextConfig(
        **dict(SD2_CLIP, vocab_size=vocab_size, hidden_size=32, intermediate_size=64,
               num_hidden_layers=2, num_attention_heads=2, projection_dim=16)
    )
    text_encoder = CLIPTextModel(clip_cfg).eval()
    unet = UNet2DConditionModel(**TINY_UNET).eval()
    vae = AutoencoderKL(**TINY_VAE).eval()
    taesd = AutoencoderTiny(**TINY_TAESD).eval()
    for m in (text_encoder, unet, vae, taesd):
        randomize(m, gen)
    scheduler = EulerDiscreteScheduler.from_config(SD_TURBO_SCHEDULER)

    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(MODEL, safe_serialization=True)
    # SD repositories ship vocab.json + merges.txt, not tokenizer.json (transformers 5 writes
    # the latter): put back the files as the hub has them.
    write_tokenizer(MODEL / "tokenizer")
    # TAESD sits beside the model's own parts, as `huggingface-cli download madebyollin/taesd
    # --local-dir <model>/taesd` puts it.
    taesd.save_pretrained(MODEL / "taesd", safe_serialization=True)
    full_size_configs(OUT / "full-size-configs")

    # Reload what was saved, so the outputs come from exactly the stored weights and configs.
    pipe = StableDiffusionPipeline.from_pretrained(MODEL, safety_checker=None)
    taesd = AutoencoderTiny.from_pretrained(MODEL / "taesd")
    out = {}
    meta = {"prompts": PROMPTS, "latent_hw": [LAT_H, LAT_W]}

    with torch.no_grad():
        # Tokens: the slow tokenizer diffusers uses, checked against the fast one.
        for i, prompt in enumerate(PROMPTS):
            ids = pipe.tokenizer(prompt, padding="max_length", max_length=77, truncation=True,
                                 return_tensors="pt").input_ids
            out[f"tokens.{i}"] = ids.to(torch.int64)

        # Text embeddings through the pipeline's own prompt encoding (with the "" negative).
        cond, uncond = pipe.encode_prompt(PROMPTS[0], "cpu", 1, True)
        out["text.cond"], out["text.uncond"] = cond, uncond
        out["text.truncated"] = pipe.encode_prompt(PROMPTS[-1], "cpu", 1, False)[0]

        # One UNet evaluation, batch 2 as with guidance, at two timesteps.
        sample = torch.randn(2, 4, LAT_H, LAT_W, generator=gen)
        context = torch.randn(2, 77, 32, generator=gen)
        out["unet.sample"], out["unet.context"] = sample, context
        for t in (999, 321):
            out[f"unet.out.{t}"] = pipe.unet(sample, t, encoder_hidden_states=context).sample

        # Scheduler: timesteps, sigmas, the initial noise scale and one step.
        for name, sched in (
            ("turbo", EulerDiscreteScheduler.from_pretrained(MODEL / "scheduler")),
            ("sd21", EulerDiscreteScheduler.from_config(
                pipe.scheduler.config, timestep_spacing="leading", prediction_type="v_prediction")),
        ):
            for steps in (1, 2, 4, 25):
                sched.set_timesteps(steps)
                out[f"sched.{name}.{steps}.timesteps"] = sched.timesteps.to(torch.float64)
                out[f"sched.{name}.{steps}.sigmas"] = sched.sigmas.to(torch.float64)
                out[f"sched.{name}.{steps}.init_sigma"] = torch.tensor(
                    [float(sched.init_noise_sigma)], dtype=torch.float64)
            sched.set_timesteps(4)
            x = torch.randn(1, 4, LAT_H, LAT_W, generator=gen)
            eps = torch.randn(1, 4, LAT_H, LAT_W, generator=gen)
            t0 = sched.timesteps[0]
            out[f"sched.{name}.step.sample"], out[f"sched.{name}.step.model_output"] = x, eps
            out[f"sched.{name}.step.scaled"] = sched.scale_model_input(x, t0)
            out[f"sched.{name}.step.out"] = sched.step(eps, t0, x).prev_sample

        # Decoders, unclamped, in photosift's [0, 1] convention.
        z = 2.0 * torch.randn(1, 4, LAT_H, LAT_W, generator=gen)
        out["decode.latents"] = z
        out["taesd.out"] = (taesd.decode(z).sample + 1.0) / 2.0
        out["vae.out"] = pipe.vae.decode(z / pipe.vae.config.scaling_factor).sample / 2.0 + 0.5

        # The whole pipeline from fixed initial latents: sd-turbo's 1 step without guidance,
        # and 2 guided steps; latents and the final image, with either decoder.
        noise = torch.randn(1, 4, LAT_H, LAT_W, generator=gen)
        out["pipe.noise"] = noise
        h, w = LAT_H * 8, LAT_W * 8
        for tag, steps, guidance in (("turbo", 1, 0.0), ("guided", 2, 3.0)):
            common = dict(height=h, width=w, num_inference_steps=steps, guidance_scale=guidance)
            lat = pipe(PROMPTS[0], latents=noise.clone(), output_type="latent", **common).images
            out[f"pipe.{tag}.latents"] = lat
            out[f"pipe.{tag}.vae"] = pipe(PROMPTS[0], latents=noise.clone(), output_type="pt",
                                          **common).images
        tiny_pipe = StableDiffusionPipeline(
            vae=taesd, text_encoder=pipe.text_encoder, tokenizer=pipe.tokenizer, unet=pipe.unet,
            scheduler=pipe.scheduler, safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
        out["pipe.turbo.taesd"] = tiny_pipe(
            PROMPTS[0], latents=noise.clone(), output_type="pt", height=h, width=w,
            num_inference_steps=1, guidance_scale=0.0).images

    tensors = {k: v.detach().contiguous() for k, v in out.items()}
    tensors = {k: (v if v.dtype in (torch.int64, torch.float64) else v.float())
               for k, v in tensors.items()}
    save_file(tensors, OUT / "expected.safetensors")
    import diffusers
    import transformers
    meta["versions"] = {"torch": torch.__version__, "diffusers": diffusers.__version__,
                        "transformers": transformers.__version__}
    (OUT / "expected.json").write_text(json.dumps(meta, indent=1, ensure_ascii=False) + "\n")
    total = sum(f.stat().st_size for f in OUT.rglob("*") if f.is_file())
    print(f"wrote {OUT} ({total / 1e6:.2f} MB)")


if __name__ == "__main__":
    main()
