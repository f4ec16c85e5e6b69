import factory

from memories.engine import get_engine
from memories.engine.keywords import keywords_refresh
from memories.models import Memory


class MemoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Memory

    content = factory.Sequence(lambda n: f"fact number {n}")


def bulk_memories(*, owner, app, count: int, prefix: str = "fact number") -> list[Memory]:
    """Many active memories with their vectors, in batches (what an import does), for size-dependent tests."""
    memories = Memory.objects.bulk_create(
        MemoryFactory.build(owner=owner, app=app, content=f"{prefix} {i}") for i in range(count)
    )
    get_engine().put_vectors([(str(m.id), m.content, {"user_id": owner.username}) for m in memories])
    keywords_refresh([m.id for m in memories])
    return memories
