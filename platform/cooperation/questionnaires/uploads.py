"""Upload views check CSRF themselves: the global check reads the form under the global
16 MiB limit before the view runs, which would refuse a 20 MiB document outright."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import request

from cooperation.extensions import csrf

F = TypeVar("F", bound=Callable[..., Any])


def upload_csrf(limit: int) -> Callable[[F], F]:
    """The global CSRF check reads the form before the view runs, under the global 16 MiB
    limit; upload views are exempted from it (@csrf.exempt) and checked here, still before
    anything else (even the permission check), once the upload's own limit is set."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            request.max_content_length = limit
            csrf.protect()
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
