"""What each MCP tool returns, as the models its `outputSchema` is made from and its `structuredContent` is checked
against. The text content keeps the JSON (or the sentence) older clients read."""
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class MemoryOut(_Out):
    id: str = Field(description="The memory's id (a UUID).")
    memory: str = Field(description="The memory's text.")
    state: Literal["active", "paused", "archived", "deleted"]
    app_name: str = Field(description="The app (MCP client) that added it.")
    categories: list[str]
    metadata: dict[str, Any]
    created_at: int = Field(description="When it was added, in seconds since the epoch.")
    updated_at: int | None = Field(description="When its text last changed, in seconds since the epoch.")


class ScoredMemory(MemoryOut):
    score: float = Field(description="How well it matches the query, from 0 to 1.")


class SearchResults(_Out):
    results: list[ScoredMemory] = Field(description="The best matches first.")


class MemoryEvent(_Out):
    id: str
    memory: str
    event: Literal["ADD", "UPDATE", "DELETE", "NONE"] = Field(
        description="What the add did to this memory: added, updated, deleted, or nothing (already known).")


class AddResults(_Out):
    results: list[MemoryEvent]


class MemoryList(_Out):
    memories: list[MemoryOut] = Field(description="Newest first.")


class Deleted(_Out):
    deleted: int = Field(description="How many memories were deleted.")
    message: str


# ChatGPT's connectors and deep research: the shapes OpenAI documents for `search` and `fetch`.
class Hit(_Out):
    id: str
    title: str
    url: str = Field(description="A link to the memory.")


class Hits(_Out):
    results: list[Hit]


class Document(_Out):
    id: str
    title: str
    text: str
    url: str
    metadata: dict[str, Any]
