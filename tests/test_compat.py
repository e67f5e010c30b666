"""torchvision, lpips, open_clip, peft and diffusers' Wan pipeline import in this environment
(CPU torch here, where PyPI's torchvision is a CUDA build whose C++ ops cannot load) — in a fresh
interpreter that never imports Loomis, through the start-up hook ``make install`` puts in place."""

import importlib
import subprocess
import sys
import textwrap

import torch

from loomis import compat


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=300
    )


def test_fresh_interpreter_imports_peft_lpips_and_the_wan_pipeline():
    pth = compat.site_packages() / compat.PTH_NAME
    assert pth.exists(), f"{pth} missing: run `make install` (it installs the torchvision start-up hook)"
    r = _run(
        """
        import sys
        assert not any(m in sys.modules for m in ("torch", "torchvision", "loomis_infer")), "eager import"
        import peft, lpips, open_clip
        from diffusers import WanImageToVideoPipeline
        import torchvision
        print(type(torchvision.models.alexnet()).__name__)
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "AlexNet"


def test_import_loomis_is_cheap_and_the_hook_repairs_a_failed_import():
    r = _run(
        """
        import sys
        from loomis import compat
        compat.remove_import_hook()                  # as if installed without the .pth
        import loomis, loomis.cli, loomis.errors
        heavy = [m for m in ("torch", "torchvision", "numpy", "PIL") if m in sys.modules]
        assert heavy == [], heavy
        compat.remove_import_hook()
        try:
            import torchvision
            failed = False                          # a torchvision whose own C++ ops load (GPU builds)
        except RuntimeError as exc:
            assert "torchvision::nms" in str(exc), exc
            failed = True
        print("needed" if compat.ensure_torchvision() else "not needed", failed)
        import lpips
        """
    )
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split() in (["needed", "True"], ["not", "needed", "False"])


def test_torchvision_and_dependents_work_in_process():
    tv = importlib.import_module("torchvision")
    model = tv.models.alexnet()
    assert model(torch.zeros(1, 3, 64, 64)).shape == (1, 1000)
    for name in ("lpips", "open_clip"):
        assert importlib.import_module(name) is not None


def test_transformers_image_processor_imports():
    from transformers import CLIPImageProcessor

    out = CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32})(
        images=[torch.zeros(3, 40, 40).numpy().transpose(1, 2, 0)], return_tensors="pt"
    )
    assert out["pixel_values"].shape == (1, 3, 32, 32)


def test_pth_installs_and_uninstalls(tmp_path):
    path = compat.install_pth(tmp_path)
    assert path.read_text() == compat.PTH_LINE and path.name == "loomis-torchvision.pth"
    assert compat.uninstall_pth(tmp_path) == path and not path.exists()
