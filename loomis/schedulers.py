"""The flow-matching solvers a Wan pipeline samples with, built from a name and a shift.

The shift belongs to the model (3.0 at 480p, 5.0 at 720p, as Wan's own ``generate.py`` uses; see
``loomis.specs``); step-distilled LoRAs were distilled for their own solver and shift, which is why
both can be chosen (``loomis.sampler.resolve_sampling``). All three map sigma ``s`` to
``shift * s / (1 + (shift - 1) * s)``.
"""

from __future__ import annotations

from loomis.errors import InputError

SCHEDULERS = ("unipc", "euler", "dpm++")


def make_scheduler(shift: float, name: str = "unipc"):
    """``unipc``: Wan's default multistep solver; ``euler``: first-order flow-matching Euler (what
    4-step distills such as lightx2v/CausVid sample with); ``dpm++``: DPM-Solver++ 2M."""
    from diffusers import (
        DPMSolverMultistepScheduler,
        FlowMatchEulerDiscreteScheduler,
        UniPCMultistepScheduler,
    )

    if name == "unipc":
        return UniPCMultistepScheduler(
            prediction_type="flow_prediction",
            use_flow_sigmas=True,
            num_train_timesteps=1000,
            flow_shift=shift,
        )
    if name == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=shift)
    if name == "dpm++":
        return DPMSolverMultistepScheduler(
            prediction_type="flow_prediction",
            use_flow_sigmas=True,
            num_train_timesteps=1000,
            flow_shift=shift,
            algorithm_type="dpmsolver++",
            solver_order=2,
        )
    raise InputError(f"unknown scheduler {name!r}; use one of {', '.join(SCHEDULERS)}")


def scheduler_shift(scheduler) -> float:
    """The shift a scheduler object holds (the two diffusers families name it differently)."""
    cfg = scheduler.config
    return float(cfg["flow_shift"] if "flow_shift" in cfg else cfg["shift"])


def scheduler_name(scheduler) -> str:
    return {
        "UniPCMultistepScheduler": "unipc",
        "FlowMatchEulerDiscreteScheduler": "euler",
        "DPMSolverMultistepScheduler": "dpm++",
    }.get(type(scheduler).__name__, type(scheduler).__name__)
