"""Sign-in throttling: floods are refused before hashing, parallel guesses are bounded, refusals look alike."""

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.conf import settings
from django.contrib.auth.hashers import Argon2PasswordHasher, MD5PasswordHasher
from django.db import connection
from django.test import Client, override_settings
from django.utils import timezone

from siyu.orgs.models import User
from tests.factories import PASSWORD, World, client_for

_verified: list[str] = []
_lock = threading.Lock()


class CountingMD5(MD5PasswordHasher):
    """Records every hash it verifies, so a test can count how many passwords were really checked."""

    def verify(self, password, encoded):
        with _lock:
            _verified.append(encoded)
        time.sleep(0.05)  # as slow as a real hash, so parallel attempts really overlap
        return super().verify(password, encoded)


class CountingArgon2(Argon2PasswordHasher):
    def verify(self, password, encoded):
        with _lock:
            _verified.append(encoded)
        return super().verify(password, encoded)


@pytest.fixture(autouse=True)
def _fresh_count():
    _verified.clear()
    from siyu.orgs import signin

    signin._dummy_hash.cache_clear()  # the dummy hash must be made with the hasher of the test
    yield
    signin._dummy_hash.cache_clear()


@pytest.fixture
def world_tx(transactional_db):
    return World()


def login(client, username, password):
    return client.post("/login/", {"username": username, "password": password})


def _error(response) -> str:
    html = response.content.decode()
    start = html.index('class="form-errors"')
    return html[start:html.index("</ul>", start)]


@override_settings(PASSWORD_HASHERS=["tests.orgs.test_signin_throttle.CountingMD5"])
@pytest.mark.django_db(transaction=True)
def test_thirty_parallel_wrong_guesses_check_at_most_five_passwords(world_tx):
    user = world_tx.guide_e1.user
    user.set_password(PASSWORD)
    user.save()

    def guess(i):
        try:
            return login(Client(REMOTE_ADDR=f"10.0.0.{i}"), "guide_e1", f"wrong guess {i}").status_code
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(guess, range(30)))
    assert statuses == [400] * 30
    real_checks = [encoded for encoded in _verified if encoded == user.password]
    assert 1 <= len(real_checks) <= settings.LOGIN_MAX_FAILURES
    user.refresh_from_db()
    assert user.locked_until > timezone.now()


@override_settings(PASSWORD_HASHERS=["tests.orgs.test_signin_throttle.CountingMD5"])
def test_locked_unknown_and_wrong_password_get_the_same_answer_and_the_same_work(world):
    locked = world.guide_e2.user
    locked.locked_until = timezone.now() + timezone.timedelta(minutes=10)
    locked.save()
    answers = {}
    for case, (username, password) in {
        "wrong": ("guide_e1", "wrong password"), "unknown": ("nobody_here", "wrong password"), "locked": ("guide_e2", PASSWORD),
    }.items():
        _verified.clear()
        response = login(Client(REMOTE_ADDR=f"10.1.0.{len(answers)}"), username, password)
        answers[case] = (response.status_code, _error(response), len(_verified))
    assert answers["wrong"] == answers["unknown"] == answers["locked"]
    assert answers["wrong"][2] == 1  # one hash each: the real one, or a dummy of the same cost


def _median_me_ms(client, n=25, until=None) -> float:
    timings = []
    while len(timings) < n or (until is not None and not until.is_set()):
        start = time.perf_counter()
        assert client.get("/api/v1/me").status_code == 200
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


@override_settings(PASSWORD_HASHERS=[
    "tests.orgs.test_signin_throttle.CountingArgon2", "django.contrib.auth.hashers.MD5PasswordHasher",
])
@pytest.mark.django_db(transaction=True)
def test_a_flood_of_unknown_names_is_refused_cheaply_and_the_api_stays_fast(world_tx):
    """Real argon2 (tests hash with MD5 otherwise): 200 sign-ins with unknown names from one address."""
    me = client_for(world_tx.admin)
    quiet = _median_me_ms(me)
    flood_done = threading.Event()
    statuses = []

    def flood():
        try:
            attacker = Client(REMOTE_ADDR="203.0.113.9")
            for i in range(200):
                statuses.append(login(attacker, f"no-such-user-{i}", "guess").status_code)
                time.sleep(0.01)  # as from a network: the attacker's requests arrive, they do not hold the GIL
        finally:
            connection.close()
            flood_done.set()

    thread = threading.Thread(target=flood)
    thread.start()
    under_flood = _median_me_ms(me, n=10, until=flood_done)  # for as long as the flood lasts
    thread.join(timeout=120)
    print(f"/api/v1/me median: {quiet:.1f} ms quiet, {under_flood:.1f} ms under the flood")
    assert under_flood < 100
    assert statuses == [400] * settings.LOGIN_IP_MAX_FAILURES + [429] * (200 - settings.LOGIN_IP_MAX_FAILURES)
    # Past the address's limit, no attempt is hashed any more.
    assert len(_verified) <= settings.LOGIN_IP_MAX_FAILURES
    assert all(encoded.startswith("argon2") for encoded in _verified)
    # The limit is per address: someone else still signs in.
    assert login(Client(REMOTE_ADDR="198.51.100.1"), "admin", PASSWORD).status_code == 302
