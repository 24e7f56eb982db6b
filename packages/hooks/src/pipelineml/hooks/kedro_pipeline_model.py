"""Where pipelineml 0.1.0 defined ``KedroPipelineModel``, kept for the models it pickled.

A 0.1.0 model's ``python_model.pkl`` names its class by this path; in a process that
imported today's pipelineml before loading such a model, the pickle resolves against today's
modules, so the path must keep leading to the class (``pipelineml.hooks.model`` has it now).
"""

from __future__ import annotations

from pipelineml.hooks.model._kedro_pipeline_model import KedroPipelineModel

__all__ = ["KedroPipelineModel"]
