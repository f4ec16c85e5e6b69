"""The dashboard's forms: each checks what a person typed and says in a sentence what is wrong."""
import json
import uuid

from django import forms

from mcp_bridge.client_configs import CLIENTS
from memories.models import Memory
from memories.rules import memory_text_check, metadata_check
from openmemory.errors import ApplicationError

SORTS = {
    "relevance": ("", "desc"), "newest": ("created_at", "desc"), "oldest": ("created_at", "asc"),
    "text": ("memory", "asc"), "app": ("app_name", "asc"),
}
STATE_CHOICES = [("", "Active and paused"), ("active", "Active"), ("paused", "Paused"), ("archived", "Archived"),
                 ("all", "All but deleted")]


class MemoryFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=500, label="Search")
    app = forms.ChoiceField(required=False, label="App")
    category = forms.ChoiceField(required=False, label="Category")
    state = forms.ChoiceField(required=False, choices=STATE_CHOICES, label="State")
    since = forms.DateField(required=False, label="Added from", widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, label="Added until", widget=forms.DateInput(attrs={"type": "date"}))
    sort = forms.ChoiceField(required=False, label="Sort", choices=[
        ("", "Best match, else newest"), ("newest", "Newest first"), ("oldest", "Oldest first"),
        ("text", "Text A-Z"), ("app", "App A-Z")])
    page = forms.IntegerField(required=False, min_value=1, max_value=100_000)

    def __init__(self, data, *, apps, categories):
        super().__init__(data)
        self.fields["app"].choices = [("", "Every app")] + [(str(app.pk), app.name) for app in apps]
        self.fields["category"].choices = [("", "Every category")] + [(c.name, c.name) for c in categories]


MAX_SELECTED = 1000  # as the REST API's lists of ids


class BulkForm(forms.Form):
    ACTIONS = {"resume": Memory.State.ACTIVE, "pause": Memory.State.PAUSED, "archive": Memory.State.ARCHIVED,
               "delete": Memory.State.DELETED}
    action = forms.ChoiceField(choices=[(name, name) for name in ACTIONS])
    ids = forms.TypedMultipleChoiceField(coerce=uuid.UUID, error_messages={
        "required": "Select at least one memory.", "invalid_choice": "That is not a memory id."})

    def __init__(self, data):
        super().__init__(data)
        self.fields["ids"].choices = [(value, value) for value in data.getlist("ids")]

    def clean_ids(self):
        if len(self.data.getlist("ids")) > MAX_SELECTED:
            raise forms.ValidationError(f"Select at most {MAX_SELECTED} memories at a time.")
        return self.cleaned_data["ids"]


class MemoryEditForm(forms.Form):
    content = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), label="Text")
    categories = forms.CharField(required=False, label="Categories", help_text="Separated by commas.")
    metadata = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4, "class": "code"}),
                               label="Metadata (JSON)")

    def clean_content(self):
        return _checked(memory_text_check, self.cleaned_data["content"])

    def clean_categories(self):
        names = [name.strip().lower() for name in self.cleaned_data["categories"].split(",") if name.strip()]
        return sorted(set(names))

    def clean_metadata(self):
        text = self.cleaned_data["metadata"].strip() or "{}"
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(f"The metadata is not JSON: {exc.msg} at line {exc.lineno}.") from exc
        if not isinstance(value, dict):
            raise forms.ValidationError('The metadata is a JSON object, like {"source": "chat"}.')
        return _checked(metadata_check, value)


def _checked(rule, value):
    try:
        return rule(value) or value
    except ApplicationError as exc:
        raise forms.ValidationError(exc.message) from exc


class TokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Name", help_text="Where you will use it, e.g. laptop.")


class ClientForm(forms.Form):
    client = forms.ChoiceField(choices=[(name, name) for name in CLIENTS])
    transport = forms.ChoiceField(choices=[("http", "Streamable HTTP"), ("sse", "SSE")], initial="http")


class ExportForm(forms.Form):
    format = forms.ChoiceField(label="Format", choices=[
        ("zip", "Backup zip (restores here or in OpenMemory)"), ("jsonl", "JSON Lines"), ("csv", "CSV")])
    app = forms.ChoiceField(required=False, label="App")

    def __init__(self, data=None, *, apps):
        super().__init__(data)
        self.fields["app"].choices = [("", "Every app")] + [(str(app.pk), app.name) for app in apps]


class ImportForm(forms.Form):
    file = forms.FileField(label="File", help_text="A backup zip, an OpenMemory database (openmemory.db), a mem0 "
                                                   "export (.json), or one memory a line in .jsonl or .csv.")
    mode = forms.ChoiceField(label="Memories already here", initial="skip", choices=[
        ("skip", "Keep them as they are"), ("overwrite", "Replace them with the file's")])

