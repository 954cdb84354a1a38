"""Run a server: ``loci serve`` (uvicorn on 127.0.0.1 by default)."""

from __future__ import annotations

from loci.serve.app import RendererFactory, ServeConfig, create_app

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
):
    """The uvicorn configuration of a server (for :func:`serve` and for tests)."""
    import uvicorn

    return uvicorn.Config(
        create_app(config, renderer_factory=renderer_factory),
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
) -> None:
    """Serve until interrupted."""
    import uvicorn

    uvicorn.Server(
        uvicorn_config(config, host=host, port=port, renderer_factory=renderer_factory)
    ).run()
