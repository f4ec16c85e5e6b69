"""Settings (the engine's configuration: staff change it, others read it) and the account (password, sign out)."""
import json

from django import forms
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import PasswordChangeForm
from django.shortcuts import redirect, render

from memories.config import LOCAL_MODEL, LOCAL_PROVIDER_SPELLING, is_local_embedder
from memories.engine import LOCAL_EMBEDDER, installed_providers
from memories.selectors import config_current
from memories.services import config_check, config_save
from openmemory.dashboard.pages import back, page
from openmemory.errors import ApplicationError

NO_LLM = ""


class ConfigForm(forms.Form):
    llm_provider = forms.ChoiceField(required=False, label="LLM provider")
    llm_config = forms.CharField(required=False, label="LLM settings (JSON)",
                                 widget=forms.Textarea(attrs={"rows": 5, "class": "code"}),
                                 help_text='e.g. {"model": "gpt-4o-mini", "api_key": "env:OPENAI_API_KEY"}: a key is '
                                           "named as env:NAME, never typed here.")
    embedder_provider = forms.ChoiceField(label="Embedder provider")
    embedder_config = forms.CharField(required=False, label="Embedder settings (JSON)",
                                      widget=forms.Textarea(attrs={"rows": 4, "class": "code"}))
    custom_instructions = forms.CharField(required=False, label="Custom instructions",
                                          widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["llm_provider"].choices = [(NO_LLM, "None: store memories as given")] + [
            (name, name) for name in installed_providers("llm")]
        self.fields["embedder_provider"].choices = [
            (LOCAL_EMBEDDER if name == LOCAL_EMBEDDER else name,
             f"built in ({LOCAL_MODEL}, no download)" if name == LOCAL_EMBEDDER else name)
            for name in installed_providers("embedder")]

    def clean_llm_config(self):
        return _json_object(self.cleaned_data["llm_config"], "The LLM settings")

    def clean_embedder_config(self):
        return _json_object(self.cleaned_data["embedder_config"], "The embedder settings")

    def document(self) -> dict:
        data = self.cleaned_data
        if data["embedder_provider"] == LOCAL_EMBEDDER:
            embedder = {"provider": LOCAL_PROVIDER_SPELLING, "config": {"model": LOCAL_MODEL, **data["embedder_config"]}}
        else:
            embedder = {"provider": data["embedder_provider"], "config": data["embedder_config"]}
        return {"openmemory": {"custom_instructions": data["custom_instructions"].strip() or None},
                "mem0": {"llm": {"provider": data["llm_provider"] or None, "config": data["llm_config"]},
                         "embedder": embedder}}


def _json_object(text: str, what: str) -> dict:
    try:
        value = json.loads(text.strip() or "{}")
    except json.JSONDecodeError as exc:
        raise forms.ValidationError(f"{what} are not JSON: {exc.msg} at line {exc.lineno}.") from exc
    if not isinstance(value, dict):
        raise forms.ValidationError(f'{what} are a JSON object, like {{"model": "name"}}.')
    return value


def _initial(document: dict) -> dict:
    llm, embedder = document["mem0"]["llm"] or {}, document["mem0"]["embedder"]
    local = is_local_embedder(embedder)
    embedder_config = {k: v for k, v in (embedder.get("config") or {}).items() if not (local and k == "model")}
    return {"llm_provider": llm.get("provider") or NO_LLM, "llm_config": json.dumps(llm.get("config") or {}, indent=2),
            "embedder_provider": LOCAL_EMBEDDER if local else embedder.get("provider"),
            "embedder_config": json.dumps(embedder_config, indent=2),
            "custom_instructions": (document.get("openmemory") or {}).get("custom_instructions") or ""}


@page
def settings_page(request):
    version, document = config_current()
    form, checks = None, None
    if request.user.is_staff:
        form = ConfigForm(initial=_initial(document))
        if request.method == "POST" and request.POST.get("action") == "check":
            checks = config_check()
        elif request.method == "POST":
            form = ConfigForm(request.POST)
            if form.is_valid():
                try:
                    config_save(document=form.document(), probe=True)
                    return back(request, "Saved: every process uses the new settings from its next request.",
                                "dashboard:settings")
                except ApplicationError as exc:
                    form.add_error(None, exc.message)
    elif request.method == "POST":
        raise ApplicationError("Only staff change the server's settings.")
    return render(request, "dashboard/settings.html", {
        "form": form, "checks": checks, "version": version, "document": json.dumps(document, indent=2),
        "providers": {kind: installed_providers(kind) for kind in ("llm", "embedder")} if form else {}},
        status=400 if form is not None and form.errors else 200)


@page
def account(request):
    form = PasswordChangeForm(request.user)
    if request.method == "POST":
        form = PasswordChangeForm(request.user, request.POST)
        if form.is_valid():
            update_session_auth_hash(request, form.save())  # stay signed in here; other sessions are signed out
            messages.success(request, "Your password is changed.")
            return redirect("dashboard:account")
    return render(request, "dashboard/account.html", {"form": form}, status=400 if form.errors else 200)
