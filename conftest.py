"""The fixed cast (alice, bob, staff), their tokens, and an API client that sends a token."""
import os

import pytest
from rest_framework.test import APIClient

# No periodic jobs in the test process, nor in the servers the tests start (they inherit the environment): a job
# that runs every 30 s would change a test's data at a moment no test chooses. A test that needs them says so.
os.environ.setdefault("OPENMEMORY_IN_PROCESS_BEAT", "false")


@pytest.fixture(autouse=True)
def categorize_in_the_committing_thread(settings):
    """In this process, categorizing (without a broker) runs right after the commit, as before, so that what a test
    does next never races it; servers the tests start keep the background default (a test covers it). Celery's
    eagerness is put back after each test: a test that sends tasks to a broker of its own must not leave every
    later test's categorization going to a broker that is not there."""
    from openmemory.celery import app

    settings.OPENMEMORY_CATEGORIZE_IN_BACKGROUND = False
    eager = app.conf.task_always_eager
    yield
    app.conf.task_always_eager = eager


@pytest.fixture
def make_user(db):
    from openmemory.services import token_create, user_get_or_create

    def make(username: str, *, staff: bool = False):
        user = user_get_or_create(username=username, is_staff=staff)
        _, key = token_create(user=user)
        user.token = key
        return user

    return make


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def bob(make_user):
    return make_user("bob")


@pytest.fixture
def staff(make_user):
    return make_user("root", staff=True)


@pytest.fixture
def alice_app(alice):
    from apps_registry.services import app_get_or_create

    return app_get_or_create(owner=alice, name="cursor")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {user.token}")
    return client


@pytest.fixture
def alice_client(alice):
    return client_for(alice)


@pytest.fixture
def bob_client(bob):
    return client_for(bob)
