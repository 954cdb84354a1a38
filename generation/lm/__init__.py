"""The ``lm`` backend: a small transformers causal LM writes melody and bass under the plan.

Modules: :mod:`~generation.lm.vocab` (tokens), :mod:`~generation.lm.corpus` (scores ->
pieces), :mod:`~generation.lm.conditioning` (plan -> tokens), :mod:`~generation.lm.dataset`,
:mod:`~generation.lm.train`, :mod:`~generation.lm.ngram` (the 4-gram baseline),
:mod:`~generation.lm.constraints` (the plan as a ``LogitsProcessor``),
:mod:`~generation.lm.decode`, :mod:`~generation.lm.originality` and
:mod:`~generation.lm.backend` (plan -> Score). torch and transformers are imported only
when a model is loaded or trained.
"""

from __future__ import annotations

__all__ = ["DEFAULT_MODEL_DIR"]

from assets import asset_path

#: The model that ships with the package.
DEFAULT_MODEL_DIR = asset_path("models", "default")
