"""mem0's platform API, served by us under /mem0/: what mem0's own SDK (`MemoryClient(api_key=<token>,
host="http://<server>/mem0")`, Python and npm) and the frameworks built on it call. The same services and history
as REST and MCP; like REST, it acts as the token's user (not as one of their apps: no app's access rules, no access
log), and a user_id the token may not act for is a 403.

A memory's mem0 fields map onto ours: user_id -> its owner, app_id -> its app, agent_id and run_id -> its metadata."""
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework import status
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from memories import selectors, services
from memories.models import Memory
from openmemory.api import acting_user, parse_uuid
from openmemory.authentication import ApiKeyHeaderAuthentication
from openmemory.errors import ApplicationError, NotFound

APP = "mem0"  # the app a memory added without an app_id belongs to
ENTITIES = ("user_id", "agent_id", "run_id", "app_id")
BATCH = 1000
VISIBLE = (Memory.State.ACTIVE, Memory.State.PAUSED, Memory.State.ARCHIVED)


def _iso(value):
    return value.isoformat() if value else None


def mem0_json(memory: Memory, **extra) -> dict:
    metadata = dict(memory.metadata or {})
    agent_id, run_id = metadata.pop("agent_id", None), metadata.pop("run_id", None)
    return {"id": str(memory.id), "memory": memory.content, "user_id": memory.owner.get_username(),
            "agent_id": agent_id, "run_id": run_id, "app_id": memory.app.name, "metadata": metadata or None,
            "categories": memory.category_names, "created_at": _iso(memory.created_at),
            "updated_at": _iso(memory.updated_at), "state": memory.state, **extra}


def _problem(sentence: str):
    raise ApplicationError(sentence)


class Mem0View(APIView):
    """Every mem0 route: the token's user acts, or the user a `user_id` names where the token may act for them.
    Not in our OpenAPI schema: mem0's API reference documents these shapes (the hostile-input corpus covers them)."""

    schema = None

    def body(self) -> dict:
        if not isinstance(self.request.data, dict):
            _problem("The body must be a JSON object.")
        return self.request.data

    def user_for(self, user_id):
        if user_id is not None and not isinstance(user_id, str):
            _problem("user_id must be a string.")
        return acting_user(self.request, user_id)

    def filtered(self, filters) -> tuple:
        """(the one user the filters are about, a queryset of their memories the filters keep)."""
        try:
            parsed = selectors.Mem0Filters(filters)
        except ValueError as exc:
            _problem(str(exc))
        if len(parsed.user_ids) > 1:
            _problem("filters name several user_ids: ask for one user at a time.")
        user = self.user_for(next(iter(parsed.user_ids), None))
        memories = Memory.objects.filter(owner=user, state__in=VISIBLE)
        return user, memories.filter(id__in=Memory.objects.filter(parsed.q).values("id"))

    def own_many(self, memory_ids: list) -> list[Memory]:
        """The caller's memories with these ids, in this order, in one query; 404 naming the first that is not."""
        found = {str(m.id): m for m in Memory.objects.select_related("owner", "app").filter(
            owner=self.request.user, state__in=VISIBLE, id__in=[parse_uuid(str(i)) for i in memory_ids])}
        if missing := next((i for i in memory_ids if str(parse_uuid(str(i))) not in found), None):
            raise NotFound(f"No memory with id {str(missing)[:64]!r}.")
        return [found[str(parse_uuid(str(i)))] for i in memory_ids]

    def own(self, memory_id) -> Memory:
        memory = (Memory.objects.select_related("owner", "app").with_categories()
                  .filter(id=parse_uuid(str(memory_id)), owner=self.request.user, state__in=VISIBLE).first()
                  if parse_uuid(str(memory_id)) else None)
        if memory is None:
            raise NotFound(f"No memory with id {str(memory_id)[:64]!r}.")
        return memory


class Ping(Mem0View):
    def get(self, request):
        # The SDK refuses to start without an organization and a project: this server is one of each.
        return Response({"status": "ok", "user_email": request.user.email or request.user.get_username(),
                         "org_id": "openmemory", "project_id": "default"})


def _messages(messages) -> list[dict]:
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if isinstance(messages, dict):
        messages = [messages]
    if not isinstance(messages, list) or not messages or not all(
            isinstance(m, dict) and isinstance(m.get("content"), str) and m.get("role") in ("user", "assistant",
                                                                                           "system")
            for m in messages):
        _problem("messages must be a non-empty list of {role: user|assistant|system, content: string}.")
    return messages


class Add(Mem0View):
    def post(self, request):
        data = self.body()
        messages = _messages(data.get("messages"))
        user = self.user_for(data.get("user_id"))
        metadata = data.get("metadata") or {}
        if not isinstance(metadata, dict):
            _problem("metadata must be an object.")
        for key in ("agent_id", "run_id"):
            if data.get(key) is not None:
                metadata[key] = str(data[key])
        app_name = str(data.get("app_id") or APP)
        infer = data.get("infer", True) is not False
        # With an LLM, mem0's extraction reads the conversation; without one, each user message is kept as said.
        texts = (["\n".join(f"{m['role']}: {m['content']}" for m in messages)]
                 if infer and services.engine_has_llm() else [m["content"] for m in messages if m["role"] == "user"])
        events = []
        for text in texts:
            services.memory_embed_ahead(text)
            with transaction.atomic():
                result = services.memory_create(user=user, text=text, app_name=app_name, metadata=metadata,
                                                infer=infer)
            events += [{"id": e["id"], "memory": e["memory"], "event": e["event"]} for e in result.events]
        return Response({"results": events}, status=status.HTTP_200_OK)


def _page(request) -> tuple[int, int]:
    try:
        page, size = int(request.query_params.get("page", 1)), int(request.query_params.get("page_size", 100))
    except ValueError:
        _problem("page and page_size must be whole numbers.")
    if page < 1 or not 1 <= size <= 1000:
        _problem("page is 1 or more; page_size between 1 and 1000.")
    return page, size


class GetAll(Mem0View):
    def post(self, request):
        data = self.body()
        _, memories = self.filtered(data.get("filters"))
        page, size = _page(request)
        try:
            total = memories.count()
            rows = list(memories.select_related("owner", "app").with_categories()
                        .order_by("-created_at", "id")[(page - 1) * size:page * size])
        except DjangoValidationError as exc:  # a date the database cannot read
            _problem(f"filters: {exc.messages[0]}")
        base = request.build_absolute_uri(request.path)
        return Response({"count": total, "results": [mem0_json(m) for m in rows],
                         "next": f"{base}?page={page + 1}&page_size={size}" if page * size < total else None,
                         "previous": f"{base}?page={page - 1}&page_size={size}" if page > 1 else None})


class Search(Mem0View):
    def post(self, request):
        data = self.body()
        return Response({"results": self.search(data, data.get("filters"), data.get("top_k", 10))})

    def search(self, data: dict, filters, top_k) -> list[dict]:
        """The one search within the filters, best first, each hit with its score."""
        query = data.get("query")
        if not isinstance(query, str) or not query.strip():
            _problem("query must be a non-empty string.")
        if "\x00" in query:
            _problem("query contains a NUL character.")
        threshold = data.get("threshold")
        if not isinstance(top_k, int) or not 1 <= top_k <= 100:
            _problem("top_k is a whole number between 1 and 100.")
        if threshold is not None and not isinstance(threshold, (int, float)):
            _problem("threshold is a number between 0 and 1.")
        user, memories = self.filtered(filters)
        try:
            found = services.memory_search(user=user, query=query, limit=top_k,
                                           allowed=memories.filter(state=Memory.State.ACTIVE))
        except DjangoValidationError as exc:
            _problem(f"filters: {exc.messages[0]}")
        for memory, _ in found:
            memory.owner = user  # the search's rows come without their owner: it is the one user
        return [mem0_json(memory, score=round(hit.score, 4)) for memory, hit in found
                if threshold is None or hit.score >= threshold]


class Detail(Mem0View):
    def get(self, request, memory_id):
        return Response(mem0_json(self.own(memory_id)))

    def put(self, request, memory_id):
        data = self.body()
        text, metadata = data.get("text"), data.get("metadata")
        if text is None and metadata is None:
            _problem("Send text, metadata or both.")
        with transaction.atomic():
            memory = self.own(memory_id)
            if text is not None:
                memory = services.memory_update(memory=memory, text=text, actor=request.user)
            if metadata is not None:
                if not isinstance(metadata, dict):
                    _problem("metadata must be an object.")
                kept = {k: v for k, v in (memory.metadata or {}).items() if k in ("agent_id", "run_id")}
                memory = services.memory_set_metadata(memory=memory, metadata={**metadata, **kept})
            return Response(mem0_json(self.own(memory.id)))

    def delete(self, request, memory_id):
        memory = self.own(memory_id)
        services.memory_set_state(memory=memory, state=Memory.State.DELETED, actor=request.user)
        return Response({"message": "Memory deleted successfully!"})


class History(Mem0View):
    def get(self, request, memory_id):
        memory = self.own(memory_id)
        return Response([{"id": str(i), "memory_id": str(memory.id), "old_memory": entry["old_content"],
                          "new_memory": entry["new_content"], "event": entry["event"], "created_at": _iso(entry["at"]),
                          "user_id": memory.owner.get_username()}
                         for i, entry in enumerate(selectors.memory_history(memory=memory)) if entry["kind"] == "content"])


class DeleteAll(Mem0View):
    def delete(self, request):
        named = {key: request.query_params[key] for key in ENTITIES if request.query_params.get(key)}
        if not named:
            _problem("Name what to delete: user_id, agent_id, run_id or app_id.")
        _, memories = self.filtered(named)
        count = services.memories_set_state(memories=memories, state=Memory.State.DELETED, actor=request.user)
        return Response({"message": f"Deleted {count} memories."})


class Entities(Mem0View):
    def get(self, request):
        user = request.user
        return Response({"count": 1, "results": [{"id": str(user.pk), "name": user.get_username(), "type": "user",
                                                  "total_memories": Memory.objects.filter(owner=user, state__in=VISIBLE)
                                                  .count(), "created_at": _iso(user.date_joined), "updated_at": None}]})


class EntityDelete(Mem0View):
    def delete(self, request, kind, name):
        field = {"user": "user_id", "agent": "agent_id", "run": "run_id", "app": "app_id"}.get(kind)
        if field is None:
            _problem("The entity type is user, agent, run or app.")
        _, memories = self.filtered({field: name})
        count = services.memories_set_state(memories=memories, state=Memory.State.DELETED, actor=request.user)
        return Response({"message": f"Entity deleted successfully: {count} memories."})


def _batch(data, need_text: bool) -> list[dict]:
    items = data.get("memories") if isinstance(data, dict) else None
    if not isinstance(items, list) or not items:
        _problem("memories must be a non-empty list.")
    if len(items) > BATCH:
        _problem(f"A batch holds at most {BATCH} memories.")
    for item in items:
        if not isinstance(item, dict) or not parse_uuid(str(item.get("memory_id"))) or (
                need_text and not isinstance(item.get("text"), str)):
            _problem("Each item is {memory_id" + (", text}" if need_text else "}") + " with a memory id.")
    return items


class Batch(Mem0View):
    def put(self, request):
        items = _batch(request.data, need_text=True)
        with transaction.atomic():
            for memory, item in zip(self.own_many([item["memory_id"] for item in items]), items):
                services.memory_update(memory=memory, text=item["text"], actor=request.user)
        return Response({"message": f"Successfully updated {len(items)} memories."})

    def delete(self, request):
        items = _batch(request.data, need_text=False)
        ids = [memory.id for memory in self.own_many([item["memory_id"] for item in items])]
        count = services.memories_set_state(memories=Memory.objects.filter(id__in=ids), state=Memory.State.DELETED,
                                            actor=request.user)
        return Response({"message": f"Successfully deleted {count} memories."})


class Exports(Mem0View):
    def post(self, request):
        data = self.body()
        self.filtered(data.get("filters"))  # a filter it cannot read is refused now, not at the download
        return Response({"message": "Memory export request received. The export will be ready in a few seconds.",
                         "id": "now"}, status=status.HTTP_201_CREATED)


class ExportGet(Mem0View):
    def post(self, request):
        data = self.body()
        _, memories = self.filtered(data.get("filters"))
        rows = memories.select_related("owner", "app").with_categories().order_by("created_at", "id")
        return Response({"memories": [mem0_json(m) for m in rows]})


class Feedback(Mem0View):
    def post(self, request):
        data = self.body()
        feedback = data.get("feedback")
        if feedback not in ("POSITIVE", "NEGATIVE", "VERY_NEGATIVE", None):
            _problem("feedback is POSITIVE, NEGATIVE, VERY_NEGATIVE or null.")
        with transaction.atomic():
            memory = self.own(data.get("memory_id"))
            services.memory_set_metadata(memory=memory, metadata={**(memory.metadata or {}), "feedback": feedback,
                                                                  "feedback_reason": data.get("feedback_reason")})
        return Response({"message": "Feedback recorded."})


@csrf_exempt  # an API route (no cookies): what a POST gets must be this sentence, not the CSRF page
def not_served(request, *args, **kwargs):
    """What the SDK asks for that a self-hosted memory server has no part of."""
    return JsonResponse({"detail": "This mem0 platform feature (profiles, webhooks, projects, summaries) is not served "
                                   "by OpenMemory; memories, search, history, batches and exports are.",
                         "code": "not_implemented"}, status=501)


# mem0's self-hosted server (its repository's server/): the shape the adapters written for it call, under
# /mem0-server/, with its key in X-API-Key. Entities in the body or query (user_id, agent_id, run_id), not filters.
class ServerView:
    """Mixed in before a platform view: the key in X-API-Key, and entities named outright."""
    authentication_classes = [ApiKeyHeaderAuthentication, *api_settings.DEFAULT_AUTHENTICATION_CLASSES]

    def entities(self, source) -> dict:
        named = {key: source.get(key) for key in ("user_id", "agent_id", "run_id") if source.get(key)}
        if not named:
            _problem("At least one identifier (user_id, agent_id, run_id) is required.")
        return named


def _oss_json(memory: Memory, **extra) -> dict:
    body = mem0_json(memory, **extra)
    return {key: body[key] for key in ("id", "memory", "user_id", "agent_id", "run_id", "metadata", "categories",
                                       "created_at", "updated_at", *extra)}


class ServerMemories(ServerView, Add):
    def post(self, request):
        self.entities(self.body())
        return super().post(request)

    def get(self, request):
        _, memories = self.filtered(self.entities(request.query_params))
        rows = memories.select_related("owner", "app").with_categories().order_by("-created_at", "id")[:1000]
        return Response({"results": [_oss_json(m) for m in rows]})

    def delete(self, request):
        _, memories = self.filtered(self.entities(request.query_params))
        services.memories_set_state(memories=memories, state=Memory.State.DELETED, actor=request.user)
        return Response({"message": "All relevant memories deleted"})


class ServerMemory(ServerView, Mem0View):
    def get(self, request, memory_id):
        return Response(_oss_json(self.own(memory_id)))

    def put(self, request, memory_id):
        data = request.data
        text = data if isinstance(data, str) else (data.get("text") or data.get("data") or data.get("memory")
                                                   if isinstance(data, dict) else None)
        if not isinstance(text, str):
            _problem("Send the new text: {\"text\": \"...\"}.")
        with transaction.atomic():
            services.memory_update(memory=self.own(memory_id), text=text, actor=request.user)
        return Response({"message": "Memory updated successfully!"})

    def delete(self, request, memory_id):
        services.memory_set_state(memory=self.own(memory_id), state=Memory.State.DELETED, actor=request.user)
        return Response({"message": "Memory deleted successfully"})


class ServerHistory(ServerView, History):
    pass


class ServerSearch(ServerView, Search):
    def post(self, request):
        data = self.body()
        named = {key: data[key] for key in ("user_id", "agent_id", "run_id") if data.get(key)}
        filters = data.get("filters") or {}
        if not isinstance(filters, dict):
            _problem("filters must be an object.")
        hits = self.search(data, {"AND": [named, filters]} if named and filters else (named or filters),
                           data.get("top_k", data.get("limit", 10)))
        return Response({"results": [{key: value for key, value in hit.items() if key not in ("app_id", "state")}
                                     for hit in hits]})
