"""Network-backed distances: LPIPS (lpips), CLIP (open_clip), DINOv2 (transformers), Inception.

Weights are resolved in one place (``resolve_weights``): an explicit path, then an environment
variable, then the torch hub / Hugging Face cache. Nothing is downloaded. When no weights exist the
constructor raises ``InputError`` saying where to put them; a random backbone is built only with
``allow_random=True`` (tests), and its name then says so, so a report can never pass a random
network off as the metric.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from loomis.errors import InputError
from loomis.metrics.distances import Distance, working_size

log = logging.getLogger(__name__)

RANDOM_TAG = "(random weights, test only)"
ALEXNET_FILE = "alexnet-owt-7be5be79.pth"  # torchvision's AlexNet, what lpips' "alex" expects
INCEPTION_FILE = "inception_v3_google-0cc3c7bd.pth"
CLIP_HF_REPO = "laion/CLIP-ViT-B-32-laion2B-s34B-b79K"
DINOV2_ID = "facebook/dinov2-base"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


def resolve_weights(explicit: str | os.PathLike | None, env: str, cached: Sequence[Path] = ()) -> Path | None:
    """First existing of: ``explicit``, ``$env``, the ``cached`` candidates. An explicit path or
    variable that does not exist is an error (the user asked for it), not a silent fallback."""
    for given, what in ((explicit, "weights path"), (os.environ.get(env), f"${env}")):
        if given:
            path = Path(given).expanduser()
            if not path.exists():
                raise InputError(f"{what} {path} does not exist")
            return path
    return next((p for p in cached if p.exists()), None)


def torch_hub_file(name: str) -> Path:
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / name


def hf_cached(repo: str, filename: str | None = None) -> Path | None:
    """A file (or the snapshot folder) of ``repo`` in the local Hugging Face cache, if there."""
    try:
        from huggingface_hub import snapshot_download, try_to_load_from_cache
    except ImportError:
        return None
    if filename:
        hit = try_to_load_from_cache(repo, filename)
        return Path(hit) if isinstance(hit, str) else None
    from huggingface_hub.errors import IncompleteSnapshotError, LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo, local_files_only=True))
    except IncompleteSnapshotError as exc:  # a broken download is not "not cached"
        raise InputError(
            f"the Hugging Face cache of {repo} is incomplete ({exc}); remove it and download again"
        ) from exc
    except LocalEntryNotFoundError:  # not in the cache
        return None
    except OSError as exc:  # there, but unreadable (permissions, a broken file system)
        raise InputError(f"the Hugging Face cache of {repo} cannot be read: {exc}") from exc


def _missing(metric: str, env: str, where: str) -> InputError:
    return InputError(
        f"{metric} weights not found: set ${env} to {where} (no download is attempted); "
        "or use a weight-free distance such as --distance msssim-deltae"
    )


def _to_tensor(frames: Sequence[np.ndarray], size: tuple[int, int], mean=None, std=None):
    """Frames → float tensor (N, 3, H, W) in [0, 1] (or standardised with mean/std)."""
    import torch

    from loomis.io import resize

    x = np.stack([resize(np.asarray(f, np.uint8), size) for f in frames]).astype(np.float32) / 255.0
    if mean is not None:
        x = (x - mean) / std
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


class EmbeddingDistance(Distance):
    """1 - cosine similarity of image embeddings; ``embed`` also feeds Fréchet distances."""

    input_size: tuple[int, int] = (224, 224)
    batch_size = 16

    def _forward(self, batch):
        raise NotImplementedError

    def embed(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                x = _to_tensor(frames[i : i + self.batch_size], self.input_size, IMAGENET_MEAN, IMAGENET_STD)
                out.append(self._forward(x).float().cpu().numpy())
        return np.concatenate(out, 0).astype(np.float64)

    def to_reference(self, frames: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
        e = self.embed(list(frames) + [reference])
        e /= np.linalg.norm(e, axis=1, keepdims=True) + 1e-12
        return 1.0 - e[:-1] @ e[-1]

    def pairs(self, frames_a: Sequence[np.ndarray], frames_b: Sequence[np.ndarray]) -> np.ndarray:
        a, b = self.embed(frames_a), self.embed(frames_b)
        a /= np.linalg.norm(a, axis=1, keepdims=True) + 1e-12
        b /= np.linalg.norm(b, axis=1, keepdims=True) + 1e-12
        return 1.0 - (a * b).sum(1)


class LpipsDistance(Distance):
    """LPIPS v0.1 (Zhang et al. 2018) with the AlexNet backbone; linear heads ship with ``lpips``,
    the backbone is torchvision's AlexNet file (``$LOOMIS_LPIPS_ALEXNET`` or the torch hub cache)."""

    name = "lpips"
    description = "LPIPS v0.1, AlexNet"

    def __init__(self, weights: str | None = None, allow_random: bool = False, side: int = 256):
        super().__init__(side)
        path = resolve_weights(weights, "LOOMIS_LPIPS_ALEXNET", [torch_hub_file(ALEXNET_FILE)])
        if path is None and not allow_random:
            raise _missing("LPIPS", "LOOMIS_LPIPS_ALEXNET", f"torchvision's {ALEXNET_FILE}")
        from loomis.compat import ensure_torchvision

        ensure_torchvision()
        import lpips
        import torch

        with warnings.catch_warnings():  # lpips uses torchvision's deprecated ``pretrained=``
            warnings.simplefilter("ignore", UserWarning)
            self.model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False).eval()
        if path is None:
            self.name = f"lpips {RANDOM_TAG}"
            log.warning("LPIPS with a RANDOM AlexNet backbone: for tests only, not the metric")
            return
        state = torch.load(path, map_location="cpu", weights_only=True)
        for k in range(1, self.model.net.N_slices + 1):
            for idx, module in getattr(self.model.net, f"slice{k}").named_children():
                sub = {n: state[f"features.{idx}.{n}"] for n, _ in module.named_parameters()}
                if sub:
                    module.load_state_dict(sub)
        self.name = "lpips-alex"
        log.info("LPIPS backbone loaded from %s", path)

    def to_reference(self, frames: Sequence[np.ndarray], reference: np.ndarray) -> np.ndarray:
        return self.pairs(list(frames), [reference] * len(frames))

    def pairs(self, frames_a: Sequence[np.ndarray], frames_b: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        size = working_size(frames_b[0], self.side)
        out = []
        with torch.inference_mode():
            for i in range(0, len(frames_a), 8):
                a = _to_tensor(frames_a[i : i + 8], size) * 2 - 1
                b = _to_tensor(frames_b[i : i + 8], size) * 2 - 1
                out.append(self.model(a, b).flatten().numpy())
        return np.concatenate(out).astype(np.float64)


class ClipDistance(EmbeddingDistance):
    """1 - cosine similarity of open_clip image embeddings (``$LOOMIS_CLIP_WEIGHTS``: a checkpoint
    for ``$LOOMIS_CLIP_MODEL``, default ViT-B-32; or the LAION ViT-B-32 file in the HF cache)."""

    name = "clip"
    description = "1 - cos of CLIP image embeddings"

    def __init__(self, weights: str | None = None, model: str | None = None, allow_random: bool = False):
        super().__init__()
        arch = model or os.environ.get("LOOMIS_CLIP_MODEL", "ViT-B-32")
        cached = [hf_cached(CLIP_HF_REPO, "open_clip_model.safetensors")] if arch == "ViT-B-32" else []
        path = resolve_weights(weights, "LOOMIS_CLIP_WEIGHTS", [p for p in cached if p])
        if path is None and not allow_random:
            raise _missing("CLIP", "LOOMIS_CLIP_WEIGHTS", f"an open_clip {arch} checkpoint")
        from loomis.compat import ensure_torchvision

        ensure_torchvision()
        import open_clip

        self.model = open_clip.create_model(arch, pretrained=str(path) if path else None).eval()
        cfg = self.model.visual.preprocess_cfg
        self.mean, self.std = np.array(cfg["mean"], np.float32), np.array(cfg["std"], np.float32)
        self.input_size = tuple(self.model.visual.image_size)
        self.name = f"clip-{arch}" + ("" if path else f" {RANDOM_TAG}")

    def embed(self, frames: Sequence[np.ndarray]) -> np.ndarray:
        import torch

        out = []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                x = _to_tensor(frames[i : i + self.batch_size], self.input_size, self.mean, self.std)
                out.append(self.model.encode_image(x).float().numpy())
        return np.concatenate(out, 0).astype(np.float64)


class Dinov2Distance(EmbeddingDistance):
    """1 - cosine similarity of DINOv2 CLS embeddings (``$LOOMIS_DINOV2``: a local model folder or
    a hub id already in the HF cache; default facebook/dinov2-base)."""

    name = "dinov2"
    description = "1 - cos of DINOv2 CLS embeddings"

    def __init__(self, weights: str | None = None, allow_random: bool = False):
        super().__init__()
        from transformers import Dinov2Config, Dinov2Model

        source = weights or os.environ.get("LOOMIS_DINOV2")
        if source and not Path(source).expanduser().exists():
            source = hf_cached(source)  # a hub id: only when cached
        elif not source:
            source = hf_cached(DINOV2_ID)
        if source is None and not allow_random:
            raise _missing("DINOv2", "LOOMIS_DINOV2", f"a local DINOv2 folder (e.g. {DINOV2_ID})")
        if source is None:
            config = Dinov2Config(
                hidden_size=32,
                num_hidden_layers=2,
                num_attention_heads=2,
                intermediate_size=64,
                image_size=56,
            )
            self.model, self.input_size = Dinov2Model(config).eval(), (56, 56)
            self.name = f"dinov2 {RANDOM_TAG}"
            return
        self.model = Dinov2Model.from_pretrained(str(source), local_files_only=True).eval()
        self.name = f"dinov2-{Path(str(source)).name}"

    def _forward(self, batch):
        return self.model(pixel_values=batch).pooler_output


class InceptionFeatures(EmbeddingDistance):
    """torchvision Inception-v3 pool features (2048-d) for FID. Weights: ``$LOOMIS_INCEPTION`` or
    the torch hub cache. These are torchvision's ImageNet weights, not the TF-FID port, so values
    are comparable among Loomis runs, not with published FID numbers."""

    name = "inception-v3"
    input_size = (299, 299)

    def __init__(self, weights: str | None = None, allow_random: bool = False):
        super().__init__()
        path = resolve_weights(weights, "LOOMIS_INCEPTION", [torch_hub_file(INCEPTION_FILE)])
        if path is None and not allow_random:
            raise _missing("Inception (FID)", "LOOMIS_INCEPTION", f"torchvision's {INCEPTION_FILE}")
        from loomis.compat import ensure_torchvision

        ensure_torchvision()
        import torch
        from torchvision.models import inception_v3

        model = inception_v3(weights=None, aux_logits=True, init_weights=False)
        if path is not None:
            model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        else:
            self.name = f"inception-v3 {RANDOM_TAG}"
        model.fc = torch.nn.Identity()
        self.model = model.eval()

    def _forward(self, batch):
        return self.model(batch)
