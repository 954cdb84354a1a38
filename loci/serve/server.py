"""Run a server: ``loci serve`` (uvicorn on 127.0.0.1 by default)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from loci.serve.app import RendererFactory, ServeConfig, create_app

if TYPE_CHECKING:
    from loci.serve.cluster import Cluster

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "serve", "uvicorn_config"]

#: The server listens on the loopback interface unless told otherwise: a headset on the
#: same machine, or a tunnel the operator sets up, reaches it; the network does not.
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def uvicorn_config(
    config: ServeConfig,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    renderer_factory: RendererFactory | None = None,
    log_level: str = "warning",
    cluster: Cluster | None = None,
):
    """The uvicorn configuration of a server (for :func:`serve`, the cluster's workers and
    tests)."""
    import uvicorn

    return uvicorn.Config(
        create_app(config, renderer_factory=renderer_factory, cluster=cluster),
        host=host,
        port=port,
        log_level=log_level,
        ws="websockets-sansio",
        ws_max_size=config.limits.websocket_max_bytes,
        # Audio does not compress, and deflating 187 blocks a second per session cost
        # the audio clock about a twentieth of a core each.
        ws_per_message_deflate=False,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        lifespan="on",
    )


def serve(
    config: ServeConfig,
    *,
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    renderer_factory: RendererFactory | None = None,
    processes: int = 1,
) -> None:
    """Serve until interrupted, from one process or (``processes`` > 1) several: see
    :mod:`loci.serve.cluster`."""
    if processes > 1:
        from loci.serve.cluster import serve_cluster

        serve_cluster(config, host=host, port=port, processes=processes)
        return
    import uvicorn

    uvicorn.Server(
        uvicorn_config(config, host=host, port=port, renderer_factory=renderer_factory)
    ).run()
