"""The ``citeqa`` command: ingest, ask, serve (and eval).

Commands parse arguments, build the settings once and call library code. Errors become a one-line message on
stderr and a non-zero exit code, never a traceback: 1 for a failed operation, 2 for bad usage or settings.
Heavy libraries are imported inside the commands, so ``citeqa --help`` is instant.
"""

from __future__ import annotations

import functools
import json
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def _settings(**overrides: Any) -> Any:
    from pydantic import ValidationError

    from service.settings import Settings

    try:
        return Settings(**{key: value for key, value in overrides.items() if value is not None})
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}" for err in exc.errors()
        )
        raise click.UsageError(f"invalid settings: {problems}") from None


def _handle_errors(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from service.errors import CiteqaError

        try:
            return func(*args, **kwargs)
        except CiteqaError as exc:
            click.echo(f"error: {exc.message}", err=True)
            sys.exit(1)
        except FileNotFoundError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
def main(verbose: int) -> None:
    """citeqa: answers whose every sentence cites the source sentences that support it."""
    level = logging.WARNING - 10 * min(verbose, 2)
    from service.observability import configure_logging

    configure_logging(level)  # every line carries the request id it was logged under


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--progress/--no-progress", default=None, help="Show a progress bar (default: on a terminal).")
@_handle_errors
def ingest(paths: tuple[Path, ...], progress: bool | None) -> None:
    """Index folders, files or .jsonl corpora. Re-running embeds only what changed and drops removed files."""
    from service import components

    for path in paths:
        if not path.exists():
            raise click.BadParameter(f"{path} does not exist", param_hint="PATHS")
    parts = components.build(_settings())
    failed = False
    for path in paths:
        report = parts.indexer.ingest(path, progress=progress)
        click.echo(f"{path}: {report.summary()}")
        for problem in report.problems:
            click.echo(f"  skipped {problem.source}: {problem.reason}", err=True)
        failed = failed or (not report.added and not report.updated and not report.unchanged and report.problems)
    if failed:
        sys.exit(1)


@main.command()
@click.argument("question")
@click.option("-k", "--k", type=int, default=None, help="Passages to retrieve.")
@click.option("--document", "documents", multiple=True, help="Only search this document id (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON the HTTP API would return.")
@_handle_errors
def ask(question: str, k: int | None, documents: tuple[str, ...], as_json: bool) -> None:
    """Answer QUESTION from the indexed documents and list the cited sources."""
    from service import components
    from service.schemas import AskResponse

    parts = components.build(_settings())
    result = parts.pipeline.ask(question, k, list(documents) or None)
    if as_json:
        click.echo(AskResponse.of(result).model_dump_json(indent=2))
        return
    click.echo(result.answer)
    if result.citations:
        click.echo("\nSources:")
        for c in result.citations:
            click.echo(f"[{c.n}] {c.title} ({c.source}) chars {c.start}-{c.end}, chunk {c.chunk_id}")
            click.echo(f"    \"{c.quote}\"")
    click.echo(f"\n({result.model}; {json.dumps(result.timings_ms)})", err=True)


@main.command()
@click.option("--host", default=None, help="Interface to listen on (default: settings.host, 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default: settings.port, 8000).")
@click.option("--ingest", "ingest_paths", multiple=True, type=click.Path(exists=True, path_type=Path),
              help="Ingest this folder before serving (repeatable).")
@_handle_errors
def serve(host: str | None, port: int | None, ingest_paths: tuple[Path, ...]) -> None:
    """Serve the HTTP API (and the chat page) with uvicorn."""
    import uvicorn

    from service import components
    from service.app import create_app

    settings = _settings(host=host, port=port)
    parts = components.build(settings)
    for path in ingest_paths:
        click.echo(f"{path}: {parts.indexer.ingest(path).summary()}")
    # access_log=False: citeqa.access logs each request once, with its request id (service/observability.py)
    uvicorn.run(create_app(settings, parts), host=settings.host, port=settings.port, log_level="info",
                access_log=False)


if __name__ == "__main__":
    main()
