"""The engine's configuration over REST: readable by every user, changed by staff only."""
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import permissions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from memories import services
from memories.selectors import config_current
from openmemory.errors import NotFound

TAG = ["config"]
SECTIONS = {"llm": ("mem0", "llm"), "embedder": ("mem0", "embedder"), "vector_store": ("mem0", "vector_store"),
            "openmemory": ("openmemory",)}


class ProviderSection(serializers.Serializer):
    provider = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True,
                                     help_text="Empty for the LLM: none (memories are stored as given).")
    config = serializers.DictField(required=False, default=dict)


class Mem0Section(serializers.Serializer):
    llm = ProviderSection(required=False, allow_null=True)
    embedder = ProviderSection(required=False, allow_null=True)
    vector_store = ProviderSection(required=False, allow_null=True)


class CategoryIn(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    examples = serializers.ListField(child=serializers.CharField(max_length=500), required=False, max_length=50,
                                     help_text="A few typical memories of this category (offline matching uses them).")


class OpenMemorySection(serializers.Serializer):
    custom_instructions = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=20000)
    categories = CategoryIn(many=True, required=False, allow_null=True,
                            help_text="Your own category taxonomy (both the LLM and the offline categorizer use it).")


class ConfigDocument(serializers.Serializer):
    openmemory = OpenMemorySection(required=False)
    mem0 = Mem0Section(required=False)


EXAMPLE = OpenApiExample("An OpenAI LLM", value={"mem0": {"llm": {"provider": "openai", "config": {
    "model": "gpt-4o-mini", "api_key": "env:OPENAI_API_KEY"}}}})


class StaffWrites(permissions.BasePermission):
    message = "Only staff may change the server's configuration."

    def has_permission(self, request, view):
        return request.method in permissions.SAFE_METHODS or bool(request.user and request.user.is_staff)


def _sent_document(data, partial: bool = False) -> dict:
    serializer = ConfigDocument(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    # Only the keys the client sent: a PATCH of one section must not blank the others.
    return {key: data[key] for key in serializer.validated_data}


PROBED = ("A new embedder or LLM must first answer one tiny call (an embedding, a one-line completion): when it "
          "does not, the answer is 400 with what went wrong, and nothing is saved.")


class ConfigView(APIView):
    permission_classes = [permissions.IsAuthenticated, StaffWrites]

    @extend_schema(tags=TAG, summary="The running configuration", responses=ConfigDocument)
    def get(self, request):
        return Response(config_current()[1])

    @extend_schema(tags=TAG, summary="Replace the configuration", description=PROBED, request=ConfigDocument,
                   responses=ConfigDocument,
                   examples=[EXAMPLE])
    def put(self, request):
        services.config_save(document=_sent_document(request.data), replace=True, probe=True)
        return Response(config_current()[1])

    @extend_schema(tags=TAG, summary="Change part of the configuration (deep merge)", description=PROBED,
                   request=ConfigDocument,
                   responses=ConfigDocument, examples=[EXAMPLE])
    def patch(self, request):
        services.config_save(document=_sent_document(request.data, partial=True), probe=True)
        return Response(config_current()[1])


class ConfigReset(APIView):
    permission_classes = [permissions.IsAuthenticated, StaffWrites]

    @extend_schema(tags=TAG, summary="Back to the defaults (local embedder, no LLM, vectors in the database)",
                   request=None, responses=ConfigDocument)
    def post(self, request):
        services.config_reset()
        return Response(config_current()[1])


def section_view(name: str, serializer_class):
    keys = SECTIONS[name]

    class SectionView(APIView):
        permission_classes = [permissions.IsAuthenticated, StaffWrites]

        @extend_schema(tags=TAG, summary=f"The {name} section", responses=serializer_class)
        def get(self, request):
            document = config_current()[1]
            for key in keys:
                document = document.get(key) or {}
            if not document:
                raise NotFound(f"No {name} is configured: the default is in use.")
            return Response(document)

        @extend_schema(tags=TAG, summary=f"Replace the {name} section", description=PROBED, request=serializer_class,
                       responses=serializer_class)
        def put(self, request):
            section = serializer_class(data=request.data)
            section.is_valid(raise_exception=True)
            document = request.data
            for key in reversed(keys):
                document = {key: document}
            services.config_save(document=document, probe=True)
            return self.get(request)

    SectionView.__name__ = f"Config{name.title().replace('_', '')}View"
    return SectionView


LlmView = section_view("llm", ProviderSection)
EmbedderView = section_view("embedder", ProviderSection)
VectorStoreView = section_view("vector_store", ProviderSection)
OpenMemoryView = section_view("openmemory", OpenMemorySection)
