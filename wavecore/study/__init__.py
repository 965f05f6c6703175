"""The incremental learn-and-forget study, in parts:

- ``settings``: StudySettings, every default and flag of ``wavecore study``; ``presets``: the
  named recipes (demo, essay) and the demo's setup;
- ``loop``: ``Study``, which trains stage by stage and runs the activities;
- ``activities``: what happens besides training, each with its trigger, run and cost;
- ``record``: the results, typed, and the one reader and writer of study.json / metrics.json;
- ``plan``: what a study will cost, said before it runs; ``report``, ``compare``, ``view``: the
  report page, several studies side by side, the Jupyter view.
"""
from .activities import render_jobs
from .loop import Study
from .presets import demo_setup
from .record import Record, load
from .settings import StudySettings, study_train_settings
from .view import StudyResults

__all__ = ["Record", "Study", "StudyResults", "StudySettings", "demo_setup", "load", "render_jobs",
           "study_train_settings"]
