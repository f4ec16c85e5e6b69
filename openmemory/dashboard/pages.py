"""What every page shares: sign-in required, one user's data only, and errors said in a sentence."""
import uuid
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from openmemory.errors import ApplicationError, NotFound

PAGE_SIZE = 25


def page(view):
    """A dashboard page: signed in, or sent to sign in. Something of another user's (or of nobody's) is a 404 page;
    a change the services refuse comes back to the same page with their sentence; a page they cannot give is a page
    with that sentence and their status."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            return render(request, "dashboard/not_found.html", {"sentence": exc.message}, status=404)
        except ApplicationError as exc:
            if request.method != "POST":  # a page that cannot be shown now (the engine is down: 503) says why
                return render(request, "dashboard/problem.html", {"sentence": exc.message}, status=exc.status_code)
            messages.error(request, exc.message)
            return redirect(request.get_full_path())

    return wrapped


def posted_id(request, name: str, kind=uuid.UUID):
    """The id a form posted under `name` (a UUID, or an int), or NotFound: a mangled id names nothing."""
    try:
        return kind(request.POST.get(name, ""))
    except (TypeError, ValueError) as exc:
        raise NotFound(f"No {name} with that id.") from exc


def back(request, sentence: str = "", fallback: str = "dashboard:home"):
    """After a change: its sentence, and the page the form was on (only a path of this site)."""
    if sentence:
        messages.success(request, sentence)
    target = request.POST.get("next", "")
    here = target.startswith("/") and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()})
    return redirect(target if here else fallback)
