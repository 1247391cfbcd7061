"""Extension points other apps plug into through settings, so that accounts imports none of them.

`ACCOUNTS_USER_REGISTERED_HOOKS`: dotted paths of callables run as `hook(user=user)` inside the
registration transaction (the market opens the cash account there). A hook that raises undoes
the registration, so a hook must not take `transaction.atomic(durable=True)` itself.

`ACCOUNTS_PAGE_SECTIONS`: dotted paths of callables run as `section(request=request)` on the
account page; each returns HTML (e.g. `render_to_string(...)`) shown in `{% block account_extra %}`.

`VEHICLES_DETAIL_SECTIONS` (read by vehicles.views): the same, called as
`section(request=request, vehicle=vehicle)`, shown in the vehicle page's `{% block market %}`.

The sections settings are optional: unset means no sections.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string
from django.utils.safestring import SafeString, mark_safe


def hooks_get(setting_name: str) -> list[Callable[..., Any]]:
    """The callables named by a settings list of dotted paths, read at call time."""
    return [import_string(path) for path in getattr(settings, setting_name, [])]


def sections_render(setting_name: str, **context: Any) -> list[SafeString]:
    """Run each section callable named in `setting_name`; their HTML, in settings order."""
    return [mark_safe(section(**context)) for section in hooks_get(setting_name)]  # noqa: S308
