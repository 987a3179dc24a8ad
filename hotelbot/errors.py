"""Every error family of hotelbot, readable in one sitting.

Errors carry fields that callers branch on, never message text. A guest's invalid answer is
not an exception: the engine answers it with a re-prompt.
"""

from __future__ import annotations

from dataclasses import dataclass


class HotelbotError(Exception):
    """Root of every hotelbot error."""


class ConfigError(HotelbotError):
    """Settings (environment, flags) are missing or wrong."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One fault in the flow/hotel configuration: where it is and why it is wrong."""

    file: str
    path: str
    reason: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.path}: {self.reason}" if self.path else f"{where}: {self.reason}"


class FlowDefinitionError(HotelbotError):
    """The flow templates or hotel files are invalid; `problems` lists every fault found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class ActorDeadError(HotelbotError):
    """The actor was stopped (or died) before it could handle the message."""


class MailboxFull(HotelbotError):
    """An actor's bounded mailbox is full."""


class StoreError(HotelbotError):
    """The SQLite store failed or refused (e.g. a schema newer than this code)."""


class StoreOverloaded(StoreError):
    """The writer's queue is past its bound: the webhook answers 503 so Meta retries."""


class WhatsAppError(HotelbotError):
    """Talking to the Graph API failed."""


class GraphAPIError(WhatsAppError):
    """The Graph API answered an error. `code` is Meta's error code (0 when none was given)."""

    def __init__(
        self, status: int, code: int, retryable: bool, details: str = "", title: str = ""
    ) -> None:
        self.status = status
        self.code = code
        self.retryable = retryable
        self.details = details
        self.title = title  # Meta's short name of the error, e.g. "Message undeliverable"
        super().__init__(f"graph api error status={status} code={code} retryable={retryable}")


class RateLimited(GraphAPIError):
    """A throughput or pair-rate limit (130429, 131056, 4, 80007): retry after `retry_after` s."""

    def __init__(self, status: int, code: int, retry_after: float, details: str = "") -> None:
        super().__init__(status, code, True, details)
        self.retry_after = retry_after


class PayloadError(WhatsAppError):
    """A webhook body is not what Meta documents (bad JSON or shape); `reason` says where."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(f"malformed webhook payload: {reason}")
