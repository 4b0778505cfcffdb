"""Helpers shared by the CLI commands: loading a site and reporting errors the same way."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from callcenter.errors import CallcenterError, SiteError
from callcenter.site import Site, load_site

__all__ = ["load", "reported", "secrets_option", "site_argument"]

F = TypeVar("F", bound=Callable[..., Any])


@contextmanager
def reported() -> Iterator[None]:
    """Turn our errors into a message on stderr and exit status 1 (2 for usage errors)."""
    try:
        yield
    except SiteError as exc:
        for p in exc.problems:
            click.echo(str(p), err=True)
        n = len(exc.problems)
        click.echo(f"{n} problem{'s' if n != 1 else ''} found; nothing was written.", err=True)
        raise SystemExit(1) from None
    except CallcenterError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None


def site_argument(f: F) -> F:
    return click.argument("site", type=click.Path(dir_okay=False, path_type=Path))(f)


def secrets_option(f: F) -> F:
    return click.option("--secrets", type=click.Path(dir_okay=False, path_type=Path),
                        default=None, help="Secrets file (default: $CALLCENTER_SECRETS, the "
                        "site's 'secrets:' key, or secrets.yaml beside the site file).")(f)


def load(site: Path, secrets: Path | None) -> Site:
    return load_site(site, secrets=secrets)
