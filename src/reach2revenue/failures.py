"""Which failures a retry can fix, and which it only hides.

Every error the package raises on purpose belongs to one of two families:

- :class:`NonRetryableError`: wrong credentials (401/403), a bad setting, an invalid
  interval, data that failed validation, a response whose structure drifted. Running the
  same task again gives the same answer, so the task fails at once and says why.
- everything else (5xx that outlived the client's retries, a dropped connection, a
  deadline hit while a platform was slow, a killed worker) is transient: the task's
  Airflow retries may fix it.

Airflow knows nothing of these classes; :func:`fail_fast` translates a non-retryable error
into ``AirflowFailException`` (no retry) at the task boundary, so the DAG file stays thin
and the package stays importable without Airflow.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class NonRetryableError(Exception):
    """Retrying cannot fix this: the task must fail now, with this message."""


class ConfigurationError(NonRetryableError, ValueError):
    """A setting, connection option or run parameter is invalid."""


class IntervalError(ConfigurationError):
    """The requested data interval cannot be processed (empty, in the future, mistyped)."""


def is_retryable(error: BaseException) -> bool:
    """Whether a task that raised ``error`` may succeed when run again unchanged."""
    return not isinstance(error, NonRetryableError)


@contextmanager
def fail_fast() -> Iterator[None]:
    """Run a task body; a non-retryable error fails the Airflow task without retries.

    Outside Airflow (tests, the CLI) errors pass through unchanged.
    """
    try:
        yield
    except NonRetryableError as error:
        try:
            from airflow.sdk.exceptions import AirflowFailException
        except ImportError:  # not under Airflow: the caller sees the original error
            raise error from None
        raise AirflowFailException(f"{type(error).__name__}: {error}") from error
