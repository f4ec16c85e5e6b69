"""Connect: API tokens, a ready configuration for each MCP client, and the OAuth clients connected."""
from django.shortcuts import render
from django.views.decorators.cache import never_cache

from mcp_bridge.client_configs import CLIENTS, client_config, client_url
from openmemory.dashboard.forms import ClientForm, TokenForm
from openmemory.dashboard.pages import back, page, posted_id
from openmemory.errors import ApplicationError
from openmemory.selectors import oauth_clients_connected, token_of_user, tokens_of_user
from openmemory.services import oauth_client_disconnect, token_create, token_revoke


@never_cache  # an answer may hold a new key: no copy of it kept by the browser or a proxy
@page
def connect(request):
    shown = {}  # what only this answer shows: a new key, or a configuration holding one
    token_form, client_form = TokenForm(), ClientForm()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "revoke":
            token = token_of_user(user=request.user, token_id=posted_id(request, "token", int))
            token_revoke(token=token)
            return back(request, f"The token '{token.name}' ({token.prefix}…) is revoked: clients using it are cut off.")
        if action == "disconnect":
            oauth_client_disconnect(user=request.user, application_id=posted_id(request, "client", int))
            return back(request, "The client is disconnected: it must ask you again to reach your memories.")
        if action == "token":
            token_form = TokenForm(request.POST)
            if token_form.is_valid():
                _, shown["key"] = token_create(user=request.user, name=token_form.cleaned_data["name"])
                shown["name"] = token_form.cleaned_data["name"]
        elif action == "client":
            client_form = ClientForm(request.POST)
            if not client_form.is_valid():
                raise ApplicationError("Pick one of the clients listed.")
            shown.update(_client_config(request, **client_form.cleaned_data))
    return render(request, "dashboard/connect.html", {
        "shown": shown, "token_form": token_form, "client_form": client_form,
        "tokens": tokens_of_user(user=request.user), "oauth_clients": oauth_clients_connected(user=request.user),
        "clients": [(name, title, where) for name, (title, where) in CLIENTS.items()],
        "chatgpt_url": client_url(_base(request), "chatgpt", request.user.get_username()),
        "claude_url": client_url(_base(request), "claude", request.user.get_username())},
        status=400 if token_form.errors else 200)


def _client_config(request, *, client: str, transport: str) -> dict:
    """A token of its own for the client (revoke it to cut just that client off) in the text to paste."""
    _, key = token_create(user=request.user, name=f"mcp: {client}")
    url = client_url(_base(request), client, request.user.get_username(), transport)
    title, where = CLIENTS[client]
    return {"client": title, "how": where, "config": client_config(client, url, key),
            "token_name": f"mcp: {client}"}


def _base(request) -> str:
    """Where this server was reached (the Host the browser used, behind a proxy what it forwards)."""
    return request.build_absolute_uri("/").rstrip("/")
