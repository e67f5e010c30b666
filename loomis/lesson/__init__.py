"""Painting lessons read from a process (any backend's video or frame folder, or a real one).

    from loomis.lesson import LessonConfig, build_lesson, write_lesson
    lesson = build_lesson(frames, medium="acrylic", cfg=LessonConfig(steps_per_stage=3))
    write_lesson(lesson, "lesson/")  # lesson.html, lesson.pdf, lesson.json

Stages at measured points of change (``stages``), key steps with their changed region, palette
(``palette``), brush size and an instruction (``build``), mixing recipes from the learner's paints
by Kubelka–Munk on spectra (``mixing``), export (``export``, ``pdf``). See ``docs/lesson.md``.
"""

from loomis.lesson.build import LessonConfig, build_lesson
from loomis.lesson.export import check_output_dir, write_lesson
from loomis.lesson.mixing import Paint, PaintSet, default_paints, read_paints
from loomis.lesson.model import Lesson

__all__ = [
    "Lesson",
    "LessonConfig",
    "Paint",
    "PaintSet",
    "build_lesson",
    "check_output_dir",
    "default_paints",
    "read_paints",
    "write_lesson",
]
