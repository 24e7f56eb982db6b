"""The environment a logged model rebuilds: the code it carries and the requirements it pins.

Nothing here is public API; the model sub-package uses it to log a model. It is the only
place in pipelineml that touches MLflow's internals (``_mlflow_internals``).
"""

from __future__ import annotations
