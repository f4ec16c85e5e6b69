"""Synthetic memories in bulk, for benchmarks at scale (bench/server_bench.py --scale): users with everyday
sentences, their vectors, keyword documents and counts, consistent as check_store sees them.

The model runs once, over a pool of sentences; each memory joins two of them, and its vector is the sum of theirs
with a little noise: a million memories take minutes, not the hours that embedding each would. On PostgreSQL a large
load drops the table-wide HNSW index first and builds it once at the end (inserting a million rows into a live
HNSW index takes far longer), then builds the users' own indexes (OPENMEMORY_OWN_VECTOR_INDEX_AT).
"""
import random
import time

import numpy as np
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from apps_registry.services import app_get_or_create
from memories.engine import get_engine
from memories.engine.keywords import keywords_refresh
from memories.engine.vector_store import hnsw_index_sql
from memories.models import Memory, MemoryVector
from memories.services import vector_indexes_sync
from openmemory.services import user_get_or_create

BATCH = 2000
POOL = 2000
REBUILD_OVER = 20_000  # rows to load above which the table-wide HNSW index is dropped and built again
PEOPLE = ["Caroline", "Melanie", "Jon", "Gina", "Nate", "Joanna", "Tim", "John", "Maria", "Audrey", "Ravi", "Lena"]
DOINGS = ["went hiking", "painted a sunset", "adopted a dog", "ran a charity race", "visited the museum",
          "started a pottery class", "read a book about photography", "took a photo of the lake", "baked bread",
          "joined a support group", "played the guitar", "went camping with the kids", "bought a new car",
          "watched a movie", "planted tomatoes", "learned to swim", "fixed the bike", "cooked ramen", "wrote a poem",
          "moved to a new flat", "started learning Spanish", "ran a marathon", "met an old friend", "sold the piano"]
PLACES = ["in Portland", "at the beach", "near the park", "in the city", "at home", "in the mountains", "in Lisbon",
          "at work", "in Rome", "by the river"]
WHEN = ["last Friday", "in May 2023", "yesterday", "on the weekend", "in 2022", "last summer", "this morning"]


class Command(BaseCommand):
    help = ("Load synthetic memories for benchmarks: --users users of --per-user memories each, and one user "
            "(--heavy-name) with --heavy memories. Run it on a scratch database.")

    def add_arguments(self, parser):
        parser.add_argument("--users", type=int, default=10)
        parser.add_argument("--per-user", type=int, default=1000)
        parser.add_argument("--heavy", type=int, default=0, help="memories of the one heavy user")
        parser.add_argument("--heavy-name", default="heavy")
        parser.add_argument("--prefix", default="user", help="the other users are PREFIX-0000, PREFIX-0001, ...")
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, users, per_user, heavy, heavy_name, prefix, seed, **options):
        started = time.perf_counter()
        rng = random.Random(seed)
        sentences = sorted({f"{rng.choice(PEOPLE)} {rng.choice(DOINGS)} {rng.choice(PLACES)} {rng.choice(WHEN)}"
                            for _ in range(POOL * 3)})[:POOL]
        engine = get_engine()
        self.stdout.write(f"embedding a pool of {len(sentences)} sentences")
        pool = np.asarray(engine.embed_documents(sentences), dtype=np.float32)
        plan = [(f"{prefix}-{i:04d}", per_user) for i in range(users)] + ([(heavy_name, heavy)] if heavy else [])
        total = sum(count for _, count in plan)
        rebuild = connection.vendor == "postgresql" and total > REBUILD_OVER and engine.stores_in_database
        dims = pool.shape[1]
        if rebuild:
            with connection.cursor() as cursor:
                cursor.execute(f"DROP INDEX IF EXISTS memory_vector_hnsw_{dims}")
        generator = np.random.default_rng(seed)
        with tqdm(total=total, desc="loading", unit="memory") as bar:
            for username, count in plan:
                owner = user_get_or_create(username=username)
                app = app_get_or_create(owner=owner, name="synthetic")
                for start in range(0, count, BATCH):
                    size = min(BATCH, count - start)
                    first, second = generator.integers(0, len(sentences), size), generator.integers(0, len(sentences), size)
                    vectors = pool[first] + 0.6 * pool[second] + generator.normal(0, 0.02, (size, dims)).astype(np.float32)
                    texts = [f"{sentences[a]}; {sentences[b]}" for a, b in zip(first, second)]
                    with transaction.atomic():
                        memories = Memory.objects.bulk_create(Memory(owner=owner, app=app, content=t) for t in texts)
                        engine.put_vectors([(str(m.id), m.content, {"user_id": username}) for m in memories],
                                           vectors=vectors.tolist())
                        keywords_refresh([m.id for m in memories])
                    bar.update(size)
        if connection.vendor == "postgresql":
            if rebuild:
                self.stdout.write(f"building the HNSW index of {MemoryVector.objects.count():,} vectors")
                with connection.cursor() as cursor:
                    cursor.execute("SET maintenance_work_mem = '2GB'")
                    cursor.execute(hnsw_index_sql(dims))
            self.stdout.write(f"users' own HNSW indexes: {vector_indexes_sync()}")
            with connection.cursor() as cursor:
                cursor.execute("VACUUM ANALYZE")
        self.stdout.write(f"Loaded {total:,} memories of {len(plan)} users in {time.perf_counter() - started:.0f} s.")
