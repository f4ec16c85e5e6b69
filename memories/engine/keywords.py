"""The keyword side of search (the engine fuses it with the vectors): a full-text index in the database of record
(SQLite FTS5, PostgreSQL tsvector + GIN), written in the same transaction as the memory rows and their vectors.

A memory's keyword document holds its own text, and, at a lower weight, its conversational context: the text of
the CONTEXT_NEIGHBOURS active memories before and after it in its sequence (same owner and app, same run_id when
the client gives one, created within CONTEXT_WINDOW of it). A word said in the turn next to a memory lifts it.
Only active memories are ever context, and a reader an access rule narrows searches without the context, so no
text a reader may not read ever makes a memory match. Neighbours change as memories arrive, change state or are
deleted: `keywords_refresh` rewrites the documents a change reaches.

Ranking uses the searching user's own memories only: no other user's memories change a user's results, or could
be read from them. On SQLite each word is indexed as a term of its owner's ("7.adopt": folded, porter-stemmed,
prefixed with the owner's id), so that FTS5's vocabulary gives, for the user alone, how many of their documents hold
each query word and where (fts5vocab), and the score is BM25 over those figures. On PostgreSQL each query word's
ts_rank is weighted by the same rarity among the owner's documents (one query). The words too common to say
anything are a fixed list (STOPWORDS) and the words in half of the user's own documents or more (BM25 gives them no
weight; SQLite does not even read their occurrences).
"""
import bisect
import functools
import re
import threading
import unicodedata
import uuid
from datetime import timedelta

import snowballstemmer
from django.db import connection
from django.db.models import QuerySet

from memories.models import Memory, MemoryCount

# Chosen on LoCoMo's development conversations (bench/retrieval_eval.py; figures in the closing note of issue 11):
# recall@10 stays within 0.79-0.82 for 1-3 neighbours and context weights 0.3-1.0; these were best.
CONTEXT_NEIGHBOURS = 2
CONTEXT_WEIGHT = 0.3
CONTEXT_WINDOW = timedelta(hours=2)
TABLE = "memories_keywords"
# A document matched only by words that are in nearly every document (FTS5 floors their weight at 1e-6) says
# nothing about the query: it does not count as a keyword match.
MEANINGFUL = 1e-3

# Words that say nothing about a memory (the query side; PostgreSQL's english configuration drops the same kind).
STOPWORDS = frozenset("""a about above after again against all am an and any are as at be because been before being below
between both but by can could did do does doing down during each few for from further had has have having he her here
hers herself him himself his how i if in into is it its itself just me more most my myself no nor not now of off on
once only or other our ours ourselves out over own same she should so some such than that the their theirs them
themselves then there these they this those through to too under until up very was we were what when where which while
who whom why will with would you your yours yourself yourselves""".split())
_WORD = re.compile(r"[^\W_]+")  # letters and digits, as FTS5's unicode61 tokenizer reads words


def _words(text: str) -> list[str]:
    """The words of a text: case-folded, without diacritics."""
    text = text.casefold()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))
    return _WORD.findall(text)


def query_words(query: str) -> list[str]:
    """The words of a query worth matching: folded, no stopwords, each once."""
    words = [w for w in _words(query) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]
    return list(dict.fromkeys(words))[:32]


class _Stemmer(threading.local):  # a snowball stemmer keeps its word in the object: one per thread
    def __init__(self):
        self.porter = snowballstemmer.stemmer("porter")


_stemmer = _Stemmer()


@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    return _stemmer.porter.stemWord(word)


def _terms(owner_id: int, text: str) -> list[str]:
    """SQLite: a text as the owner's terms, as its document is indexed ("7.adopt")."""
    return [f"{owner_id}.{_stem(word)}" for word in _words(text)]


def _sqlite_row(owner_id: int, body: str, context: str) -> tuple[str, str, str, int]:
    """(owner column, body terms, context terms, length in terms) of a document in SQLite's index."""
    body_terms, context_terms = _terms(owner_id, body), _terms(owner_id, context)
    return f"{owner_id}.", " ".join(body_terms), " ".join(context_terms), len(body_terms) + len(context_terms)


def _rowid(memory_id) -> int:
    """SQLite: an FTS5 row's id, derived from the memory's (a UUID's first 63 bits)."""
    return uuid.UUID(str(memory_id)).int >> 65


def _hex(memory_id) -> str:
    return uuid.UUID(str(memory_id)).hex


# --- writing -------------------------------------------------------------------------------------------------------

_POSITION = ("id", "owner_id", "app_id", "state", "created_at", "metadata", "content")
_LEFT = "left"  # the state of an anchor at a place a memory has left: it finds the neighbours it had there


def keywords_positions(memory_ids) -> list[dict]:
    """Where these memories stand in their sequences, taken before a change that may move them (another app, another
    run_id, another time) and given to keywords_refresh afterwards, so that their old neighbours are refreshed too."""
    return list(Memory.objects.filter(id__in=list(memory_ids)).values(*_POSITION))


def keywords_refresh(memory_ids, *, before: list[dict] = ()) -> None:
    """Rewrite the keyword documents of these memories and of their neighbours (whose context they are, or were:
    `before`, from keywords_positions, names the places they had). Deleted memories leave the index. Call it inside
    the transaction that changed them."""
    _write(*_documents(Memory.objects.filter(id__in=list(memory_ids)).values(*_POSITION), before))


def _documents(changed, before=()) -> tuple[dict, list]:
    """({memory id: (owner id, body, context)} to write, [memory ids] to remove) for these memories, their
    neighbours, and the neighbours of the places in `before` that a memory has left."""
    changed = list(changed)
    now = {memory["id"]: _place(memory) for memory in changed}
    left = [{**old, "state": _LEFT} for old in before if now.get(old["id"]) != _place(old)]
    documents, gone = {}, []
    for (app_id, run_id), members in _by_sequence(changed + left).items():
        for memory, line in _lines(app_id, run_id, members):
            if memory["state"] == Memory.State.DELETED:
                gone.append(memory["id"])
            elif memory["state"] != _LEFT:
                documents[memory["id"]] = (memory["owner_id"], memory["content"], _context(line, memory))
            for neighbour in _neighbours(line, memory):  # their context holds this memory, or held it
                documents[neighbour["id"]] = (neighbour["owner_id"], neighbour["content"], _context(line, neighbour))
    return documents, gone


def _place(memory: dict) -> tuple:
    return memory["app_id"], _run_id(memory["metadata"]), memory["created_at"]


def _run_id(metadata):
    return metadata.get("run_id") if isinstance(metadata, dict) else None


def _by_sequence(memories) -> dict[tuple, list[dict]]:
    sequences: dict[tuple, list[dict]] = {}
    for memory in memories:
        sequences.setdefault((memory["app_id"], _run_id(memory["metadata"])), []).append(memory)
    return sequences


def _lines(app_id, run_id, members: list[dict]):
    """(memory, the active memories of its sequence around it, in order) for each changed memory of a sequence:
    enough of them to make its context and its neighbours' (twice the neighbours on each side). A few changed
    memories: two small queries each; many (a bulk change, an import batch): one query over their time span."""
    sequence = Memory.objects.filter(app_id=app_id, state=Memory.State.ACTIVE)
    sequence = sequence.filter(metadata__run_id=run_id) if run_id is not None else sequence.filter(
        metadata__run_id__isnull=True)
    reach, fields = CONTEXT_WINDOW * 2, ("id", "owner_id", "content", "created_at")
    if len(members) > _FEW:
        times = [m["created_at"] for m in members]
        line = _Line(sequence.filter(created_at__gte=min(times) - reach, created_at__lte=max(times) + reach)
                     .order_by("created_at", "id").values(*fields))
        return [(memory, line) for memory in members]
    return [(memory, _line_around(sequence, memory, reach, fields)) for memory in members]


_FEW = 3


def _line_around(sequence, memory: dict, reach, fields) -> list[dict]:
    # (created_at, id) before and after the memory's, written as one range on created_at and a NOT for the ties:
    # with "created_at < t OR (created_at = t AND id < i)" SQLite left the index and read all of the app's rows
    # (10,000 memories: 5.1 ms a query, two per create; now 0.35 ms).
    moment, count, me = memory["created_at"], CONTEXT_NEIGHBOURS * 2, memory["id"]
    before = (sequence.filter(created_at__gte=moment - reach, created_at__lte=moment).exclude(created_at=moment, id__gte=me)
              .order_by("-created_at", "-id").values(*fields))
    after = (sequence.filter(created_at__gte=moment, created_at__lte=moment + reach).exclude(created_at=moment, id__lte=me)
             .order_by("created_at", "id").values(*fields))
    itself = [memory] if memory["state"] == "active" else []
    return _Line([*reversed(before[:count]), *itself, *after[:count]])


class _Line(list):
    """Active memories of one sequence in (created_at, id) order, the order the database gave them."""

    @functools.cached_property
    def keys(self) -> list[tuple]:
        return [(m["created_at"], m["id"]) for m in self]


def _neighbours(line: _Line, memory: dict) -> list[dict]:
    """Of a line of active memories in order, the CONTEXT_NEIGHBOURS just before and just after `memory`, within
    CONTEXT_WINDOW of it. Found by bisection: an import batch's line holds thousands of memories."""
    moment, key = memory["created_at"], (memory["created_at"], memory["id"])
    start, end = bisect.bisect_left(line.keys, key), bisect.bisect_right(line.keys, key)
    before = [m for m in line[max(0, start - CONTEXT_NEIGHBOURS):start] if moment - m["created_at"] <= CONTEXT_WINDOW]
    after = [m for m in line[end:end + CONTEXT_NEIGHBOURS] if m["created_at"] - moment <= CONTEXT_WINDOW]
    return before + after


def _context(line: list[dict], memory: dict) -> str:
    return " ".join(neighbour["content"] for neighbour in _neighbours(line, memory))


def _write(documents: dict, gone: list) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            rowids = [_rowid(i) for i in [*documents, *gone]]
            for start in range(0, len(rowids), 500):
                chunk = rowids[start:start + 500]
                cursor.execute(f"DELETE FROM {TABLE} WHERE rowid IN ({','.join('%s' for _ in chunk)})", chunk)
            cursor.executemany(
                f"INSERT INTO {TABLE} (rowid, memory_id, owner, body, context, length) VALUES (%s, %s, %s, %s, %s, %s)",
                [[_rowid(i), _hex(i), *_sqlite_row(owner, body, context)]
                 for i, (owner, body, context) in documents.items()])
            return
        if gone:
            cursor.execute(f"DELETE FROM {TABLE} WHERE memory_id = ANY(%s)", [list(gone)])
        cursor.executemany(
            f"INSERT INTO {TABLE} (memory_id, owner_id, body, document) VALUES (%s, %s, %s, "
            "array_to_tsvector(ARRAY[%s]) || setweight(to_tsvector('english', %s), 'A') "
            "|| setweight(to_tsvector('english', %s), 'B')) "
            "ON CONFLICT (memory_id) DO UPDATE SET owner_id = EXCLUDED.owner_id, body = EXCLUDED.body, "
            "document = EXCLUDED.document",
            [[i, owner, body, f"owner/{owner}", body, context] for i, (owner, body, context) in documents.items()])


# --- searching -----------------------------------------------------------------------------------------------------

def keyword_candidates(*, query: str, owner_id: int, limit: int, with_context: bool = True,
                       allowed: QuerySet | None = None) -> tuple[list[tuple[str, float]], bool]:
    """(memory id, score) of the owner's best `limit` keyword matches, best first, and whether there may be more.

    Whatever the access rules say, unless `allowed` (a query of memory ids decided in SQL) is given: then only
    those, in one slower query (for when the rules hide most of the owner's best matches).
    """
    weight = CONTEXT_WEIGHT if with_context else 0.0
    if not (words := query_words(query)):
        return [], False
    only, params = _allowed_sql(allowed, "k.memory_id")
    if connection.vendor == "sqlite":
        found, more = _sqlite_search(words, owner_id, only, params, limit, weight)
    else:
        found = _postgresql_search(query, owner_id, only, params, limit, weight)
        more = len(found) == limit
    meaningful = [(memory_id, score) for memory_id, score in found if score >= MEANINGFUL]
    return meaningful, more and len(meaningful) == limit  # best first: past a row below MEANINGFUL, all are


# BM25's constants (FTS5's and Lucene's defaults).
BM25_K1, BM25_B = 1.2, 0.75
# A word's rarity is counted as if the user also had this many documents without it: with a handful of memories, a
# word in one of two is still worth matching (by BM25's own count it is not); with hundreds, it changes nothing.
UNSEEN_DOCUMENTS = 10


def _sqlite_search(words, owner_id, only, params, limit, weight) -> tuple[list[tuple[str, float]], bool]:
    """BM25 over the owner's documents alone, from FTS5's vocabulary, in one statement: how many of the owner's
    documents hold each query term (and how many the owner has), every occurrence of the terms kept, the matching
    documents' lengths (from the table's content, `<table>_content`: c0 the memory id, c1 the length), and the score
    of each. Its work follows the documents that match, not the size of the table."""
    owner, terms = f"{owner_id}.", list(dict.fromkeys(f"{owner_id}.{_stem(word)}" for word in words))
    with connection.cursor() as cursor:
        # A term in half of the owner's documents or more (and the UNSEEN_DOCUMENTS) has no weight in BM25 (its
        # IDF is floored, as FTS5's is): left out, it changes no score and its occurrences are not read. CROSS
        # JOIN keeps the order: the kept terms first, each finding its occurrences by the term.
        cursor.execute(f"""
            WITH counts AS (SELECT term, doc FROM temp.{TABLE}_terms WHERE term IN ({', '.join(['%s'] * len(terms))}, %s)),
            total AS (SELECT coalesce(max(doc), 0) AS n FROM counts WHERE term = %s),
            kept AS (SELECT counts.term, counts.doc, total.n FROM counts, total
                     WHERE counts.term <> %s AND counts.doc * 2 < total.n + %s),
            occurrences AS (
                SELECT o.doc, sum(o.col = 'body') + %s * sum(o.col = 'context') AS f, kept.doc AS holding, kept.n AS total
                FROM kept CROSS JOIN temp.{TABLE}_occurrences o
                WHERE o.term = kept.term AND o.col IN ({"'body', 'context'" if weight else "'body'"}) GROUP BY o.doc, o.term),
            matched AS (
                SELECT k.memory_id, k.length, occurrences.* FROM occurrences
                CROSS JOIN (SELECT id, c0 AS memory_id, c1 AS length FROM {TABLE}_content) k
                WHERE k.id = occurrences.doc {only}),
            average AS (SELECT avg(length) AS length FROM (SELECT DISTINCT doc, length FROM matched))
            SELECT memory_id, sum(max(ln((total + %s - holding + 0.5) / (holding + 0.5)), 1e-6) * f * %s
                                  / (f + %s * (1 - %s + %s * matched.length / average.length))) AS score, count(*) OVER ()
            FROM matched, average GROUP BY doc ORDER BY score DESC, memory_id LIMIT %s""",
                       [*terms, owner, owner, owner, UNSEEN_DOCUMENTS, weight, *params, UNSEEN_DOCUMENTS, BM25_K1 + 1,
                        BM25_K1, BM25_B, BM25_B, limit])
        rows = cursor.fetchall()
    return [(str(uuid.UUID(memory_id)), score) for memory_id, score, _ in rows], bool(rows) and rows[0][2] > limit


def keywords_vocabulary(sender, connection, **kwargs) -> None:
    """connection_created: on SQLite, FTS5's vocabulary as this connection's own tables (temp), which search reads.
    Made once a connection, outside any transaction (a rollback would take them away)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        for kind, name in (("row", "terms"), ("instance", "occurrences")):
            cursor.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS temp.{TABLE}_{name} USING fts5vocab(main, {TABLE}, "
                           f"'{kind}')")


def _allowed_sql(allowed: QuerySet | None, column: str) -> tuple[str, list]:
    if allowed is None:
        return "", []
    sql, params = allowed.values("id").query.sql_with_params()
    return f" AND {column} IN ({sql})", list(params)


def _postgresql_search(query, owner_id, only, params, limit, weight) -> list[tuple[str, float]]:
    with connection.cursor() as cursor:
        cursor.execute(*postgresql_query(query, owner_id, only, params, limit, weight))
        return [(str(memory_id), float(score)) for memory_id, score in cursor.fetchall()]


def postgresql_query(query, owner_id, only, params, limit, weight) -> tuple[str, list]:
    """PostgreSQL parses and stems the query as it did the documents (english); each lexeme's ts_rank is weighted by
    its BM25 rarity among the owner's documents (how many hold it: counted first, each through the GIN index without
    reading the rows; how many the owner has: MemoryCount's rows), which rank alone does not know: one query, which
    finds the owner's matching documents through the GIN index (the owner is a lexeme of each document).

    A lexeme in half of the owner's documents or more weighs nothing by BM25's rarity (as on SQLite, it is left out):
    it neither finds documents nor is ranked. Before, each was still ranked in every document holding it: for a user
    with 100,000 memories, a word of the neighbours' context such as "morning" sat in 80,000 of them and cost a search
    140 ms of the database's CPU; counting them costs 15. (A LIMIT on the count made the planner scan the table.)"""
    sql = f"""
        WITH terms AS (
            SELECT DISTINCT lexeme, quote_literal(lexeme)::tsquery AS q
            FROM unnest(tsvector_to_array(to_tsvector('english', %s))) AS lexeme),
        total AS (SELECT coalesce(sum(count), 0)::float8 AS n FROM {MemoryCount._meta.db_table}
                  WHERE owner_id = %s AND state <> 'deleted'),
        counted AS MATERIALIZED (  -- each count once; no column read: the index and visibility map, not the rows
            SELECT t.lexeme, t.q, (SELECT count(*) FROM {TABLE} k WHERE k.document @@ (%s::tsquery && t.q) {only}) AS n
            FROM terms t),
        kept AS (
            SELECT c.lexeme, c.q, c.n FROM counted c CROSS JOIN total WHERE c.n > 0 AND 2 * c.n < total.n + %s),
        matched AS (
            SELECT k.memory_id, k.document FROM {TABLE} k
            WHERE k.document @@ (%s::tsquery && (SELECT string_agg(quote_literal(lexeme), ' | ') FROM kept)::tsquery)
            {only}),
        ranked AS (  -- narrow rows: grouping them does not carry the documents
            SELECT m.memory_id, t.lexeme, ts_rank(%s::float4[], m.document, t.q) AS rank
            FROM matched m JOIN kept t ON m.document @@ t.q)
        SELECT r.memory_id, sum(greatest(ln((total.n + %s - t.n + 0.5) / (t.n + 0.5)), 1e-6) * r.rank)
        FROM ranked r CROSS JOIN total JOIN kept t ON t.lexeme = r.lexeme
        GROUP BY r.memory_id ORDER BY 2 DESC, 1 LIMIT %s"""
    weights = [0.0, 0.0, weight, 1.0]  # D (the owner lexeme), C, B (context), A (the memory's own text)
    owner = f"'owner/{owner_id}'"
    return sql, [query, owner_id, owner, *params, UNSEEN_DOCUMENTS, owner, *params, weights, UNSEEN_DOCUMENTS, limit]


# --- checking ------------------------------------------------------------------------------------------------------

def keywords_drift(memories: QuerySet) -> tuple[list, list, list]:
    """(live memories with no keyword document; live memories whose document differs from what keywords_refresh
    would write now: other owner or text, or, for an active memory, other context; documents of no live memory).
    A memory that is not active keeps the context it had (no search reads it); becoming active rewrites it."""
    rows = list(memories.values(*_POSITION))
    expected, _ = _documents(rows)
    live, active = {row["id"] for row in rows}, {row["id"] for row in rows if row["state"] == Memory.State.ACTIVE}
    expected = {i: (*document, i in active) for i, document in expected.items() if i in live}
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(f"SELECT memory_id, owner, body, context, length FROM {TABLE}")
            indexed = {uuid.UUID(i): tuple(row) for i, *row in cursor.fetchall()}
            compared = {True: 4, False: 2}  # owner and body; and, where active, context and length
            differs = {i for i, (owner, body, context, is_active) in expected.items() if i in indexed and
                       indexed[i][:compared[is_active]] != _sqlite_row(owner, body, context)[:compared[is_active]]}
        else:
            cursor.execute(f"SELECT memory_id FROM {TABLE}")
            indexed = {i for (i,) in cursor.fetchall()}
            differs = _postgresql_differing(expected)
    missing = [str(i) for i in expected if i not in indexed]
    stale = [str(i) for i in expected if i in indexed and i in differs]
    orphans = [str(i) for i in indexed if i not in expected]
    return missing, stale, orphans


def _postgresql_differing(expected: dict) -> set:
    """Of these documents, the memories whose stored row differs from them (compared in SQL, the tsvector built as
    _write builds it; the context only where the memory is active)."""
    if not expected:
        return set()
    ids, rows = list(expected), list(expected.values())
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT e.id FROM unnest(%s::uuid[], %s::int[], %s::text[], %s::text[], %s::boolean[]) "
            f"AS e(id, owner_id, body, context, active) JOIN {TABLE} k ON k.memory_id = e.id "
            "WHERE k.owner_id <> e.owner_id OR k.body <> e.body OR (e.active AND k.document <> "
            "(array_to_tsvector(ARRAY['owner/' || e.owner_id]) || setweight(to_tsvector('english', e.body), 'A') "
            "|| setweight(to_tsvector('english', e.context), 'B')))",
            [ids, *([row[n] for row in rows] for n in range(4))])
        return {i for (i,) in cursor.fetchall()}


def keywords_remove(memory_ids) -> None:
    _write({}, list(memory_ids))


def keywords_prune(using: str = "default", **kwargs) -> None:
    """post_migrate (and so after a test flush): documents of memories that are no longer there leave the index
    (rows that go without the services: a flush, a user deleted with everything of theirs)."""
    from django.db import connections

    db = connections[using]
    if TABLE not in db.introspection.table_names():
        return
    with db.cursor() as cursor:
        # Both sides hold the id the same way (SQLite: 32 hex digits; PostgreSQL: uuid). NOT EXISTS, an anti-join:
        # PostgreSQL ran NOT IN (SELECT ...) as a subplan per row once the ids outgrew work_mem, and a `migrate` of
        # 1,100,000 memories had not finished after minutes.
        cursor.execute(f"DELETE FROM {TABLE} WHERE NOT EXISTS (SELECT 1 FROM {Memory._meta.db_table} m "
                       f"WHERE m.id = {TABLE}.memory_id)")
