"""The memory endpoints (OpenMemory's, plus search and history): parse, call a service or selector, shape."""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps_registry.selectors import app_owned
from memories import selectors, services
from memories import serializers as s
from memories.models import Memory
from openmemory.api import (PageSizeIn, UserScopedView, answered_before_commit, from_epoch, memory_page_body, page_of,
                            paged_body, validated)

TAG = ["memories"]


def _set_state_by_ids(view: UserScopedView, request, state: str, verb: str) -> Response:
    data = validated(s.MemoryIdsIn, request.data)
    count = services.memories_set_state(memories=services.memories_of_user(user=view.user, ids=data["memory_ids"]),
                                        state=state, actor=request.user)
    return Response({"message": f"{verb} {count} memories."})


def _page(memories, data) -> dict:
    items, total = page_of(memories, data["page"], data["size"])
    return memory_page_body(s.MemoryOut(items, many=True).data, total, data["page"], data["size"])


def _listing(user, data, filters: selectors.MemoryFilters) -> dict:
    """A page of the user's memories as `selectors.memory_list` finds them, with the exact total."""
    listing = selectors.memory_list(user=user, filters=filters, sort_column=data.get("sort_column"),
                                    sort_direction=data["sort_direction"])
    items = listing.page(data["page"], data["size"])
    return memory_page_body(s.MemoryOut(items, many=True).data, listing.total, data["page"], data["size"])


class MemoryCollection(UserScopedView):
    @extend_schema(tags=TAG, summary="List memories (paged; never deleted or archived ones)", operation_id="memories_list",
                   parameters=[s.MemoryListIn], responses=s.MemoryPageOut)
    def get(self, request):
        data = validated(s.MemoryListIn, request.query_params)
        return Response(_listing(self.user, data, selectors.MemoryFilters(
            app_ids=(data["app_id"],) if data.get("app_id") else (),
            category_names=tuple(c for c in data.get("categories", "").split(",") if c.strip()),
            search_query=data.get("search_query", ""), from_date=from_epoch(data.get("from_date")),
            to_date=from_epoch(data.get("to_date")))))

    @extend_schema(tags=TAG, summary="Remember something", request=s.MemoryCreateIn,
                   responses={201: s.MemoryCreateOut, 200: s.MemoryCreateOut},
                   examples=[OpenApiExample("A fact", request_only=True,
                                            value={"text": "I'm vegetarian", "app": "claude", "infer": True})])
    def post(self, request):
        data = validated(s.MemoryCreateIn, request.data)
        services.memory_embed_ahead(data["text"])
        with answered_before_commit():
            result = services.memory_create(user=self.user, text=data["text"], app_name=data["app"],
                                            metadata=data["metadata"], infer=data["infer"])
            memory = result.memory
            body = s.MemoryOut(memory).data if memory else dict.fromkeys(
                ["id", "content", "created_at", "state", "app_id", "app_name", "metadata_"]) | {"categories": []}
        return Response({**body, "results": s.EventOut(result.events, many=True).data, "path": result.path},
                        status=status.HTTP_201_CREATED if result.memories else status.HTTP_200_OK)

    @extend_schema(tags=TAG, summary="Delete memories (soft: state deleted, vectors removed)",
                   request=s.MemoryIdsIn, responses=s.MessageOut)
    def delete(self, request):
        return _set_state_by_ids(self, request, Memory.State.DELETED, "Deleted")


class MemoryDetail(UserScopedView):
    @extend_schema(tags=TAG, summary="One memory", parameters=[s.UserIdIn], responses=s.MemoryDetailOut)
    def get(self, request, memory_id):
        return Response(s.MemoryDetailOut(selectors.memory_get(user=self.user, memory_id=memory_id)).data)

    @extend_schema(tags=TAG, summary="Change a memory's text (it is embedded again)", request=s.MemoryUpdateIn,
                   responses=s.MemoryOut)
    def put(self, request, memory_id):
        data = validated(s.MemoryUpdateIn, request.data)
        with answered_before_commit():
            memory = selectors.memory_get(user=self.user, memory_id=memory_id)
            memory = services.memory_update(memory=memory, text=data["memory_content"], actor=request.user)
            body = s.MemoryOut(selectors.memory_get(user=self.user, memory_id=memory.id)).data
        return Response(body)


class MemoryCategories(UserScopedView):
    @extend_schema(tags=TAG, summary="Categories of the user's live memories", parameters=[s.UserIdIn],
                   responses=s.CategoriesOut)
    def get(self, request):
        categories = list(selectors.categories_in_use(user=self.user))
        return Response({"categories": s.CategoryOut(categories, many=True).data, "total": len(categories)})


class MemoryArchive(UserScopedView):
    @extend_schema(tags=TAG, summary="Archive memories", request=s.MemoryIdsIn, responses=s.MessageOut)
    def post(self, request):
        return _set_state_by_ids(self, request, Memory.State.ARCHIVED, "Archived")


class MemoryPause(UserScopedView):
    @extend_schema(tags=TAG, summary="Pause or resume memories by id, category, app, or all of them",
                   request=s.MemoryPauseIn, responses=s.MessageOut)
    def post(self, request):
        data = validated(s.MemoryPauseIn, request.data)
        app = app_owned(user=self.user, app_id=data["app_id"]) if data.get("app_id") else None
        count = services.memories_pause(user=self.user, state=data["state"], memory_ids=data.get("memory_ids"),
                                        category_ids=data.get("category_ids"), app=app,
                                        global_pause=data["global_pause"])
        return Response({"message": f"Set {count} memories to {data['state']}."})


class MemoryAccessLog(UserScopedView):
    @extend_schema(tags=TAG, summary="Who read a memory, newest first", parameters=[PageSizeIn],
                   responses=s.AccessLogPageOut)
    def get(self, request, memory_id):
        data = validated(PageSizeIn, request.query_params)
        memory = selectors.memory_get(user=self.user, memory_id=memory_id)
        logs, total = page_of(selectors.memory_access_logs(memory=memory), data["page"], data["page_size"])
        return Response(paged_body("logs", s.AccessLogEntryOut(logs, many=True).data, total, data["page"],
                                   data["page_size"]))


class MemoryFilter(UserScopedView):
    @extend_schema(tags=TAG, summary="List memories with filters in the body (paged)", request=s.MemoryFilterIn,
                   responses=s.MemoryPageOut)
    def post(self, request):
        data = validated(s.MemoryFilterIn, request.data)
        return Response(_listing(self.user, data, selectors.MemoryFilters(
            app_ids=tuple(data.get("app_ids") or ()), category_ids=tuple(data.get("category_ids") or ()),
            search_query=data.get("search_query", ""), from_date=from_epoch(data.get("from_date")),
            to_date=from_epoch(data.get("to_date")), show_archived=data["show_archived"])))


class MemoryRelated(UserScopedView):
    @extend_schema(tags=TAG, summary="Memories sharing the most categories with this one (pages of 5)",
                   parameters=[s.RelatedIn], responses=s.MemoryPageOut)
    def get(self, request, memory_id):
        data = validated(s.RelatedIn, request.query_params)
        memory = selectors.memory_get(user=self.user, memory_id=memory_id)
        return Response(_page(selectors.memory_related(memory=memory), {"page": data["page"], "size": 5}))


class MemoryHistory(UserScopedView):
    @extend_schema(tags=TAG, summary="The memory's content and state changes, oldest first", parameters=[s.UserIdIn],
                   responses=s.HistoryEntryOut(many=True))
    def get(self, request, memory_id):
        memory = selectors.memory_get(user=self.user, memory_id=memory_id)
        return Response(s.HistoryEntryOut(selectors.memory_history(memory=memory), many=True).data)


class MemorySearch(UserScopedView):
    @extend_schema(tags=TAG, summary="Search memories by meaning", request=s.SearchIn, responses=s.SearchOut,
                   examples=[OpenApiExample("A question", request_only=True,
                                            value={"query": "what food should I avoid cooking?", "limit": 5})])
    def post(self, request):
        data = validated(s.SearchIn, request.data)
        app = app_owned(user=self.user, app_id=data["app_id"]) if data.get("app_id") else None
        found = services.memory_search(user=self.user, app=app, query=data["query"], limit=data["limit"],
                                       categories=data.get("categories"), metadata=data.get("filters"))
        hits = [s.search_hit(memory, hit, rank=rank if data["explain"] else None)
                for rank, (memory, hit) in enumerate(found, start=1)]
        return Response(s.SearchOut({"results": hits}).data)

