"""``loci serve``: live music for AR headsets over a WebSocket (docs/protocol.md).

Submodules: ``protocol`` (messages, binary layouts, the WebXR pose convention), ``limits``,
``metrics``, ``adapt`` (controls and taste -> plans), ``bars`` (generation work),
``generator`` (the worker pool), ``music`` (the bar-line scheduler), ``frames`` (live
perception), ``places``, ``session`` (the audio clock), ``app`` (FastAPI), ``server``.
Nothing here is imported by ``loci --help``.
"""
