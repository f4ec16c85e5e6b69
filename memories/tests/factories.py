import factory

from memories.engine import get_engine
from memories.engine.keywords import keywords_refresh
from memories.models import Memory


class MemoryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Memory

    content = factory.Sequence(lambda n: f"fact number {n}")


def bulk_memories(*, owner, app, count: int = 0, prefix: str = "fact number", texts: list[str] = ()) -> list[Memory]:
    """Many active memories with their vectors, in batches (what an import does), for size-dependent tests: `count`
    numbered facts, or these texts."""
    memories = Memory.objects.bulk_create(
        MemoryFactory.build(owner=owner, app=app, content=text)
        for text in (texts or [f"{prefix} {i}" for i in range(count)]))
    get_engine().put_vectors([(str(m.id), m.content, {"user_id": owner.username}) for m in memories])
    keywords_refresh([m.id for m in memories])
    return memories
