"""``loomis-studio [--host 127.0.0.1] [--port N]``: the local web app (Gradio).

Binds to 127.0.0.1 unless told otherwise; uploads are limited in size and to image types; one
painting job at a time (queue); bad input is a message in the page.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

from loomis_studio.app import FRAMES, UPLOAD_TYPES, Studio, StudioConfig, step_card

from loomis.cli import ArgumentParser, int_range, run_main, setup_logging
from loomis.errors import InputError

log = logging.getLogger("loomis-studio")

CSS = """
#status p { font-size: 1.05rem; }
#card { min-height: 120px; }
#status .err { color: #b00020; font-weight: 600; }
.card .stages { color: #666; font-size: .9rem; margin: 0 0 4px; }
.card .stage { color: #b0006e; text-transform: uppercase; letter-spacing: .05em; font-size: .8rem; margin: 0; }
.card .instr { font-size: 1.1rem; font-weight: 600; margin: 6px 0; }
.card ul.pal { list-style: none; padding: 0; margin: 6px 0 0; }
.card ul.pal li { padding: 4px 0 4px 44px; position: relative; min-height: 36px; border-top: 1px solid #eee; }
.card .sw { position: absolute; left: 0; top: 6px; width: 34px; height: 30px; border-radius: 5px; border: 1px solid #0003; }
"""
INTRO = (
    "# Loomis studio\n"
    "Upload a picture, choose a medium and press **Paint**: you get a time-lapse of how it could "
    "have been painted and a lesson to follow — stages, what changes in each step, its colours "
    "and how to mix them from common paints. *A generated reconstruction, not a record of how the "
    "picture was made.*"
)


def build_parser() -> ArgumentParser:
    p = ArgumentParser(
        prog="loomis-studio", description="Local web app: paint a picture, scrub the steps, read the lesson."
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to bind (0.0.0.0 exposes the studio to your network)"
    )
    p.add_argument("--port", type=int_range(1, 65535), default=7860, help="port")
    p.add_argument(
        "--model",
        default=os.environ.get("LOOMIS_MODEL"),
        help="Wan model (spec or folder) to offer the wan backend; default: $LOOMIS_MODEL, else procedural only",
    )
    p.add_argument(
        "--max-upload-mb", type=int_range(1, 2048), default=25, help="largest upload accepted (MB)"
    )
    p.add_argument(
        "--max-side",
        type=int_range(64, 2048),
        default=512,
        help="procedural: long side of the painting in pixels",
    )
    p.add_argument(
        "--work-dir", default=None, help="where jobs write their files; default: a new temporary folder"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p


def build_ui(studio: Studio):
    import gradio as gr

    from loomis.lesson.export import highlight
    from loomis.mediums import medium_names

    def fail(exc: Exception) -> str:
        if isinstance(exc, InputError):
            return f'<p class="err">error: {exc}</p>'
        log.exception("studio job failed")
        return '<p class="err">Something went wrong inside Loomis; the details are in the terminal that runs the studio.</p>'

    def on_upload(path):
        try:
            return gr.update(), studio.check_upload(path), "Ready: choose a medium and press <b>Paint</b>."
        except Exception as exc:  # noqa: BLE001 - every failure becomes a message in the page
            return None, None, fail(exc)  # the bad file is taken off, ready for another

    def on_paint(path, medium, backend, frames, seed, progress=gr.Progress()):
        try:
            out = studio.paint(path, medium, backend, frames, seed, progress=lambda f, d: progress(f, desc=d))
        except Exception as exc:  # noqa: BLE001
            return None, None, gr.update(), None, step_card(None, 0), None, fail(exc)
        lesson = out["lesson"]
        n = len(lesson.steps)
        rec = out["record"]
        msg = f"Painted with the {rec['backend']} backend: {rec['frames']} frames, {len(lesson.stages)} stages, {n} steps."
        first = highlight(lesson.steps[0]) if n else None
        scrub = gr.update(minimum=1, maximum=max(n, 2), value=1, interactive=n > 1)
        return out["video"], lesson, scrub, first, step_card(lesson, 0), out["files"], msg

    def on_scrub(lesson, k):
        if lesson is None or not lesson.steps:
            return None, step_card(None, 0)
        k = max(0, min(len(lesson.steps) - 1, int(k) - 1))
        return highlight(lesson.steps[k]), step_card(lesson, k)

    with gr.Blocks(title="Loomis studio", analytics_enabled=False) as demo:
        gr.Markdown(INTRO)
        lesson_state = gr.State(None)
        with gr.Row():
            with gr.Column(scale=1, min_width=280):
                picture = gr.File(
                    label="Your picture (PNG, JPEG or WebP)", file_types=UPLOAD_TYPES, elem_id="picture"
                )
                preview = gr.Image(label="Picture", interactive=False, height=200, elem_id="preview")
                medium = gr.Dropdown(medium_names(), value="acrylic", label="Medium")
                backend = gr.Radio(
                    studio.cfg.backends,
                    value="procedural",
                    label="Backend",
                    info="procedural: no model needed; wan: the Wan 2.1 model set up with --model",
                )
                frames = gr.Slider(FRAMES[0], FRAMES[1], value=33, step=1, label="Frames", elem_id="frames")
                seed = gr.Number(0, precision=0, label="Seed", minimum=0)
                paint = gr.Button("Paint", variant="primary", elem_id="paint")
                status = gr.HTML("Upload a picture to begin.", elem_id="status")
            with gr.Column(scale=3):
                with gr.Row():
                    video = gr.Video(label="Painting process", elem_id="video", interactive=False, height=380)
                    step_img = gr.Image(
                        label="This step: what changes (outlined)",
                        interactive=False,
                        elem_id="step-image",
                        height=380,
                    )
                scrub = gr.Slider(
                    1,
                    2,
                    value=1,
                    step=1,
                    label="Step of the lesson (drag to scrub)",
                    interactive=False,
                    elem_id="scrub",
                )
                card = gr.HTML(step_card(None, 0), elem_id="card")
                files = gr.File(
                    label="Downloads: video, sidecar, strokes, lesson (HTML, PDF, JSON)",
                    file_count="multiple",
                    interactive=False,
                    elem_id="downloads",
                )
        picture.upload(on_upload, picture, [picture, preview, status], concurrency_limit=None)
        paint.click(
            on_paint,
            [picture, medium, backend, frames, seed],
            [video, lesson_state, scrub, step_img, card, files, status],
            concurrency_limit=1,
            concurrency_id="paint",
        )
        scrub.change(
            on_scrub, [lesson_state, scrub], [step_img, card], concurrency_limit=None, show_progress="hidden"
        )
    return demo


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise InputError("the studio needs gradio: pip install 'loomis[studio]'") from None
    studio = Studio(
        StudioConfig(
            model=args.model,
            work_dir=Path(args.work_dir) if args.work_dir else None,
            max_upload_mb=args.max_upload_mb,
            max_side=args.max_side,
        )
    )
    demo = build_ui(studio)
    demo.queue(default_concurrency_limit=1, max_size=16)
    print(f"loomis-studio: http://{args.host}:{args.port} (work folder {studio.work})", file=sys.stderr)
    demo.launch(
        server_name=args.host,
        server_port=args.port,
        max_file_size=f"{args.max_upload_mb}mb",
        allowed_paths=[str(studio.work)],
        show_error=False,
        ssr_mode=False,
        quiet=True,
        css=CSS,
        footer_links=[],
    )
    return 0


def main(argv=None) -> int:
    sys.exit(run_main(_main, argv))
