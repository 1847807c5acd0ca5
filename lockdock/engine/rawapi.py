"""Every call lockdock makes to a private part of the docker SDK's `APIClient`, in one place.

The SDK (docker>=7.2) has no public method for the two requests below. Both go through its
own session, so the endpoint, TLS, contexts and API version negotiation stay the SDK's; if a
future SDK renames these helpers, this module is the one place to change.
"""

from __future__ import annotations

from typing import Any


def get_stream(api: Any, path: str, *args: str, timeout: float) -> Any:
    """GET `path` (a `{0}`-style template filled with `args`) as a streamed response.

    Why private: `APIClient.get_image()` streams `docker save` too, but with the client's
    short default timeout; the daemon sends the first byte only after exporting the whole
    image, so the read timeout must be set per request. Raises `docker.errors.APIError`
    (or `requests` errors) when the engine refuses or cannot be reached.
    """
    res = api._get(api._url(path, *args), stream=True, timeout=timeout)
    api._raise_for_status(res)
    return res


def post_json(api: Any, path: str, *args: str, data: dict[str, Any]) -> Any:
    """POST `data` as JSON to `path` (a `{0}`-style template filled with `args`).

    Why private: `APIClient.update_container()` has no keyword for `PidsLimit` or
    `NanoCpus`, which the Engine API's `/containers/{id}/update` accepts. Raises
    `docker.errors.APIError` when the engine refuses.
    """
    res = api._post_json(api._url(path, *args), data=data)
    api._raise_for_status(res)
    return res
