"""Our error classes: raised by services, selectors, tasks and MCP tools alike; no DRF here.

The DRF exception handler (openmemory/exceptions.py) and the MCP tool wrapper translate them.
"""


class ApplicationError(Exception):
    status_code, code = 400, "invalid"

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    status_code, code = 404, "not_found"


class AccessDenied(ApplicationError):
    status_code, code = 403, "access_denied"


class AppPaused(AccessDenied):
    code = "app_paused"


class Conflict(ApplicationError):
    status_code, code = 409, "conflict"


class EngineUnavailable(ApplicationError):
    """A dependency (embedder, LLM, vector store) failed in a way that may pass: retry later."""

    status_code, code = 503, "engine_unavailable"


class NotAuthenticated(ApplicationError):
    status_code, code = 401, "not_authenticated"
