from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.response import Response

from apps_registry import selectors, services
from apps_registry import serializers as s
from apps_registry.models import AccessControl
from memories.selectors import memory_get
from memories.serializers import AppMemoryOut, MemoryOut
from openmemory.api import PageSizeIn, UserScopedView, page_of, paged_body, validated
from openmemory.errors import NotFound

TAG = ["apps"]


class AppCollection(UserScopedView):
    @extend_schema(tags=TAG, summary="The caller's apps with their figures", parameters=[s.AppListIn], operation_id="apps_list",
                   responses=s.AppPageOut)
    def get(self, request):
        data = validated(s.AppListIn, request.query_params)
        apps = selectors.app_list(user=self.user, name=data.get("name", ""), is_active=data["is_active"],
                                  sort_by=data["sort_by"], sort_direction=data["sort_direction"])
        apps, total = page_of(apps, data["page"], data["page_size"])
        return Response(paged_body("apps", s.AppOut(apps, many=True).data, total, data["page"], data["page_size"]))


class AppDetail(UserScopedView):
    @extend_schema(tags=TAG, summary="One app", responses=s.AppDetailOut)
    def get(self, request, app_id):
        app = selectors.app_get(user=self.user, app_id=app_id)
        return Response(s.AppDetailOut({**vars(app), **selectors.app_access_times(app=app)}).data)

    @extend_schema(tags=TAG, summary="Pause or resume an app (is_active in the query or the body)",
                   request=s.AppUpdateIn, parameters=[s.AppUpdateIn], responses=s.StatusOut)
    def put(self, request, app_id):
        app = selectors.app_get(user=self.user, app_id=app_id)
        # A plain dict: DRF reads a missing boolean in a QueryDict as false, which would pause the app.
        source = request.data if isinstance(request.data, dict) and "is_active" in request.data else request.query_params.dict()
        data = validated(s.AppUpdateIn, source)
        services.app_set_active(app=app, is_active=data["is_active"])
        return Response({"status": "success", "message": f"App '{app.name}' {'resumed' if data['is_active'] else 'paused'}."})


class AppMemories(UserScopedView):
    @extend_schema(tags=TAG, summary="Memories the app created", parameters=[PageSizeIn], responses=s.AppMemoriesOut)
    def get(self, request, app_id):
        data = validated(PageSizeIn, request.query_params)
        app = selectors.app_get(user=self.user, app_id=app_id)
        memories, total = page_of(selectors.app_memories(app=app), data["page"], data["page_size"])
        return Response(paged_body("memories", AppMemoryOut(memories, many=True).data, total, data["page"],
                                   data["page_size"]))


class AppAccessed(UserScopedView):
    @extend_schema(tags=TAG, summary="Memories the app read, most read first", parameters=[PageSizeIn],
                   responses=s.AppAccessedOut)
    def get(self, request, app_id):
        data = validated(PageSizeIn, request.query_params)
        app = selectors.app_get(user=self.user, app_id=app_id)
        counts, total = page_of(selectors.app_accessed_memories(app=app), data["page"], data["page_size"])
        items = [{"memory": MemoryOut(memory).data, "access_count": count}
                 for memory, count in selectors.with_memories(counts)]
        return Response(paged_body("memories", items, total, data["page"], data["page_size"]))


def _rule_out(rule: AccessControl) -> dict:
    return s.AccessRuleOut({"id": rule.id, "app_id": rule.app_id, "effect": rule.effect, "memory_id": rule.memory_id,
                            "created_at": rule.created_at}).data


class AccessRules(UserScopedView):
    @extend_schema(tags=TAG, summary="The app's access rules", responses=s.AccessRuleOut(many=True))
    def get(self, request, app_id):
        app = selectors.app_get(user=self.user, app_id=app_id)
        return Response([_rule_out(rule) for rule in selectors.access_rules(app=app)])

    @extend_schema(tags=TAG, summary="Allow or deny the app one memory, or all", request=s.AccessRuleIn,
                   responses={201: s.AccessRuleOut})
    def post(self, request, app_id):
        app = selectors.app_get(user=self.user, app_id=app_id)
        data = validated(s.AccessRuleIn, request.data)
        memory = memory_get(user=self.user, memory_id=data["memory_id"]) if data.get("memory_id") else None
        rule = services.access_rule_create(app=app, effect=data["effect"], memory=memory)
        return Response(_rule_out(rule), status=status.HTTP_201_CREATED)


class AccessRuleDetail(UserScopedView):
    @extend_schema(tags=TAG, summary="Remove an access rule", responses={204: None})
    def delete(self, request, app_id, rule_id):
        app = selectors.app_get(user=self.user, app_id=app_id)
        rule = selectors.access_rules(app=app).filter(id=rule_id).first()
        if rule is None:
            raise NotFound("No access rule with that id.")
        services.access_rule_delete(rule=rule)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ArchivePolicies(UserScopedView):
    @extend_schema(tags=["archive policies"], summary="The caller's archive policies",
                   responses=s.ArchivePolicyOut(many=True))
    def get(self, request):
        return Response(s.ArchivePolicyOut(selectors.archive_policies(user=self.user), many=True).data)

    @extend_schema(tags=["archive policies"], summary="Archive memories older than N days (all, an app's, a category's)",
                   request=s.ArchivePolicyIn, responses={201: s.ArchivePolicyOut})
    def post(self, request):
        data = validated(s.ArchivePolicyIn, request.data)
        policy = services.archive_policy_create(owner=self.user, criteria_type=data["criteria_type"],
                                                criteria_id=data.get("criteria_id"), days_to_archive=data["days_to_archive"])
        return Response(s.ArchivePolicyOut(policy).data, status=status.HTTP_201_CREATED)


class ArchivePolicyDetail(UserScopedView):
    @extend_schema(tags=["archive policies"], summary="Remove an archive policy", responses={204: None})
    def delete(self, request, policy_id):
        policy = selectors.archive_policies(user=self.user).filter(id=policy_id).first()
        if policy is None:
            raise NotFound("No archive policy with that id.")
        services.archive_policy_delete(policy=policy)
        return Response(status=status.HTTP_204_NO_CONTENT)
