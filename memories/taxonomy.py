"""OpenMemory's 20 categories for the offline categorizer: a description and tens of example memories each
(`taxonomy.json`). A memory takes the categories of the examples closest to it in meaning (a vote of its
nearest neighbours): one long description per category embeds too vaguely to match."""
import json
from pathlib import Path

DEFAULT_CATEGORIES: dict[str, tuple[str, list[str]]] = {
    name: (entry["description"], entry["examples"])
    for name, entry in json.loads((Path(__file__).with_name("taxonomy.json")).read_text()).items()
}
