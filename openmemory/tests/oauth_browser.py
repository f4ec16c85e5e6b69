"""The person in an OAuth flow, played by an HTTP client: opens the authorization URL, signs in with Django's
login form and approves the consent page, as someone at a browser would. Returns where the server sends the
browser back (the client's redirect URI with the code)."""
import html
import re

import httpx2

_HIDDEN = re.compile(r'<input type="hidden" name="(\w+)" value="([^"]*)"')


def form_fields(page: str) -> dict:
    return {name: html.unescape(value) for name, value in _HIDDEN.findall(page)}


def sign_in(browser: httpx2.Client, base: str, username: str, password: str) -> None:
    login = browser.get(f"{base}/accounts/login/")
    response = browser.post(f"{base}/accounts/login/", data={
        **form_fields(login.text), "username": username, "password": password})
    assert response.status_code == 302, "the sign-in failed"


def approve(base: str, authorization_url: str, username: str, password: str, *, allow: bool = True) -> str:
    """Sign in, read the consent page, press Allow (or Deny); the Location the server answers with."""
    with httpx2.Client(follow_redirects=False, timeout=30) as browser:
        first = browser.get(authorization_url)
        assert first.status_code == 302 and "/accounts/login/" in first.headers["location"], first.text[:300]
        sign_in(browser, base, username, password)
        consent = browser.get(authorization_url)
        if consent.status_code == 302:  # consent remembered for this client
            return consent.headers["location"]
        assert consent.status_code == 200 and 'id="consent"' in consent.text, consent.text[:500]
        fields = form_fields(consent.text)
        if allow:
            fields["allow"] = "Allow"
        answer = browser.post(consent.url, data=fields)  # the form posts back to the page's own URL
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["location"]
