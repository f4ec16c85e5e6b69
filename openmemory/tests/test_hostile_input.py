"""Nothing a client sends yields a 500 or corrupts a user's data: the corpus of openmemory/tests/corpus.py,
through the API, each answered with its 4xx and a sentence that says what is wrong, nothing stored."""
import io

import pytest

from memories.models import Memory
from memories.selectors import store_check
from openmemory.tests.corpus import archive_cases, mem0_cases, oauth_cases, rest_cases


def send(client, case):
    if case.files:
        return client.post(case.path, {name: io.BytesIO(data) for name, data in case.files.items()},
                           format="multipart")
    if case.body is None:
        return getattr(client, case.method)(case.path)
    return getattr(client, case.method)(case.path, case.body, content_type=case.content_type)


@pytest.mark.parametrize("case", rest_cases(), ids=lambda case: case.name)
def test_hostile_requests_get_a_4xx_with_a_sentence(alice_client, alice, alice_app, case):
    from memories.services import memory_create

    memory_create(user=alice, app=alice_app, text="Keep me", infer=False)
    response = send(alice_client, case)
    assert response.status_code == case.status, response.content[:500]
    assert case.says in response.json()["detail"]
    assert list(Memory.objects.values_list("content", flat=True)) == ["Keep me"]


@pytest.mark.parametrize("case", mem0_cases(), ids=lambda case: case.name)
def test_hostile_mem0_requests_get_a_4xx_with_a_sentence(alice_client, alice, alice_app, bob, case):
    test_hostile_requests_get_a_4xx_with_a_sentence(alice_client, alice, alice_app, case)


@pytest.mark.parametrize("case", archive_cases(), ids=lambda case: case.name)
def test_hostile_archives_get_a_4xx_naming_the_entry_and_field_and_change_nothing(alice_client, alice, alice_app,
                                                                                  case):
    from memories.services import memory_create

    memory_create(user=alice, app=alice_app, text="Keep me", infer=False)
    response = send(alice_client, case)
    assert response.status_code == case.status, response.content[:500]
    assert case.says in response.json()["detail"]
    assert list(Memory.objects.values_list("content", flat=True)) == ["Keep me"]
    assert store_check().clean


@pytest.mark.parametrize("case", oauth_cases(), ids=lambda case: case.name)
def test_hostile_oauth_requests_get_a_4xx_with_a_sentence(client, db, case):
    """No sign-in needed to reach these: what anyone on the network can send."""
    from oauth2_provider.models import get_application_model

    response = send(client, case)
    assert response.status_code == case.status, response.content[:500]
    answer = response.json()
    assert case.says in " ".join(answer.get(key, "") for key in ("error_description", "error", "detail")), answer
    assert not get_application_model().objects.exists()
