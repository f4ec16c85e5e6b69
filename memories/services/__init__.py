"""Everything that can happen to a memory: `grep -rn "def memor" memories/services/` lists it all.

Every writer here ends in the one after-change step (`_change.py`): history, vectors, the keyword documents of the
memory and of its old and new neighbours, categorization on commit. Modules:
- memories.py: create, update, metadata, categories, state (delete, archive, pause), an app's deletion, policies;
- search.py: search and listing for an app, with the access log they write;
- backup.py: export and import of OpenMemory's backup zip;
- categorization.py: categories by the LLM or offline, queued after the commit;
- upkeep.py: repair of what check_store finds out of step, re-embedding, the access log's retention;
- config.py: the engine's configuration (save, check, reset).
"""
from memories.services.backup import memories_export, memories_export_lines, memories_import
from memories.services.categorization import (BadLLMOutput, categorize_offline, content_digest,
                                              memories_categorize_leftovers, memories_recategorize, memory_categorize,
                                              parse_categories, taxonomy)
from memories.services.config import (ConfigCheck, config_check, config_problems, config_reset, config_save,
                                      engine_has_llm, literal_secrets)
from memories.services.memories import (CreateResult, memories_archive_by_policies, memories_delete_with_app,
                                        memories_of_user, memories_pause, memories_set_state, memory_create,
                                        memory_embed_ahead, memory_set_categories, memory_set_metadata,
                                        memory_set_state, memory_update)
from memories.services.search import memory_access_log_write, memory_list_for_app, memory_search
from memories.services.upkeep import (memories_reembed, memories_repair, memory_access_log_prune,
                                      vector_indexes_sync)

__all__ = [
    "BadLLMOutput", "categorize_offline", "config_check", "config_problems", "config_reset", "config_save",
    "ConfigCheck", "content_digest", "CreateResult", "engine_has_llm", "literal_secrets",
    "memories_archive_by_policies", "memories_categorize_leftovers", "memories_delete_with_app", "memories_export",
    "memories_export_lines", "memories_import", "memories_of_user", "memories_pause", "memories_recategorize",
    "memories_reembed", "memories_repair", "memories_set_state", "memory_access_log_prune",
    "memory_access_log_write", "memory_categorize", "memory_create", "memory_embed_ahead", "memory_list_for_app",
    "memory_search", "memory_set_categories", "memory_set_metadata", "memory_set_state", "memory_update",
    "parse_categories", "taxonomy", "vector_indexes_sync",
]
