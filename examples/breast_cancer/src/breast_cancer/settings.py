"""Project settings.

Nothing to register: installing pipelineml-hooks registers its MlflowHook for every Kedro
project through the ``kedro.hooks`` entry point. Listing ``MlflowHook()`` in ``HOOKS`` as
well would be harmless; only one instance acts per run.
"""
