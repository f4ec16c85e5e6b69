import random

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


PEOPLE = ["Caroline", "Melanie", "Jon", "Gina", "Nate", "Joanna", "Tim", "John", "Maria", "Audrey"]
DOINGS = ["went hiking", "painted a sunset", "adopted a dog", "ran a charity race", "visited the museum",
          "started a pottery class", "read a book about photography", "took a photo of the lake",
          "joined a support group", "baked bread", "played the guitar", "went camping with the kids",
          "bought a new car", "watched a movie", "planted tomatoes", "learned to swim"]
PLACES = ["in Portland", "at the beach", "near the park", "in the city", "at home", "in the mountains"]
WHEN = ["last Friday", "in May 2023", "yesterday", "on the weekend", "in 2022", "last summer"]


def everyday_sentences(seed: int, count: int) -> list[str]:
    """Everyday sentences from one vocabulary: another user's hold the same words in other proportions."""
    rng = random.Random(seed)
    return [f"{rng.choice(PEOPLE)} {rng.choice(DOINGS)} {rng.choice(PLACES)} {rng.choice(WHEN)}" for _ in range(count)]
