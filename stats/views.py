from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from stats.selectors import user_stats
from apps_registry.serializers import AppOut
from openmemory.api import UserIdField, UserScopedView


class StatsIn(serializers.Serializer):
    user_id = UserIdField()


class StatsOut(serializers.Serializer):
    total_memories = serializers.IntegerField(help_text="Not counting deleted memories.")
    total_apps = serializers.IntegerField()
    apps = AppOut(many=True)


class Stats(UserScopedView):
    @extend_schema(tags=["stats"], summary="The user's figures", parameters=[StatsIn], responses=StatsOut)
    def get(self, request):
        apps, total = user_stats(user=self.user)
        return Response({"total_memories": total, "total_apps": len(apps), "apps": AppOut(apps, many=True).data})
