"""What DaskRunner and batch scoring run on Dask: connecting, the task graph, what a worker runs,
how hooks reach the workers, and how the project's code gets there.

Only these modules (and ``dask_runner``) import ``distributed``, each lazily.
"""

from __future__ import annotations
