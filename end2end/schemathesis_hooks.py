"""Schemathesis checks of our own: every 4xx answer is the API's JSON error shape."""

import schemathesis


@schemathesis.check
def json_error_shape(ctx, response, case):
    if 400 <= response.status_code < 500:
        try:
            body = response.json()
        except Exception as e:  # noqa: BLE001 - any parse failure is the finding
            raise AssertionError(f"{response.status_code} answer is not JSON: {response.text[:200]!r}") from e
        error = body.get("error") if isinstance(body, dict) else None
        if not (isinstance(error, dict) and isinstance(error.get("code"), str) and isinstance(error.get("message"), str)):
            raise AssertionError(f"{response.status_code} answer lacks error.code/error.message: {body!r}")
