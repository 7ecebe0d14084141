"""Account use cases on the in-memory adapters."""

from __future__ import annotations

from datetime import timedelta
from typing import Self

import pytest

from marketscout.adapters.memory import InMemoryStore, InMemoryUnitOfWork
from marketscout.domain.errors import AuthenticationFailed, Conflict, InvalidValue, NotFound
from marketscout.domain.model import RefreshToken
from marketscout.domain.usecases import accounts
from tests.unit.fakes import FakeClock, FakeHasher, FakeTokens


@pytest.fixture
def uow() -> InMemoryUnitOfWork:
    return InMemoryUnitOfWork(InMemoryStore())


async def test_sign_up_then_log_in(uow: InMemoryUnitOfWork) -> None:
    clock, hasher, tokens = FakeClock(), FakeHasher(), FakeTokens()
    user = await accounts.sign_up(
        uow, hasher, clock, username="Zoe", email="zoe@example.com", password="long enough"
    )
    assert user.id == 1
    assert user.password_hash != "long enough"
    pair = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    assert (await accounts.authenticate(uow, tokens, pair.access_token)).id == user.id


async def test_duplicates_are_conflicts_case_insensitively(uow: InMemoryUnitOfWork) -> None:
    clock, hasher = FakeClock(), FakeHasher()
    await accounts.sign_up(
        uow, hasher, clock, username="Zoe", email="zoe@example.com", password="long enough"
    )
    with pytest.raises(Conflict) as error:
        await accounts.sign_up(
            uow, hasher, clock, username="ZOE", email="x@example.com", password="long enough"
        )
    assert error.value.field == "username"
    with pytest.raises(Conflict) as error:
        await accounts.sign_up(
            uow, hasher, clock, username="Other", email="ZOE@example.com", password="long enough"
        )
    assert error.value.field == "email"


@pytest.mark.parametrize(
    ("username", "email", "password", "field"),
    [
        ("ab", "a@example.com", "long enough", "username"),
        ("fine", "nope", "long enough", "email"),
        ("fine", "a@example.com", "short", "password"),
        ("fine", "a@example.com", "Password123", "password"),
    ],
)
async def test_invalid_accounts_name_the_field(
    uow: InMemoryUnitOfWork, username: str, email: str, password: str, field: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        await accounts.sign_up(
            uow, FakeHasher(), FakeClock(), username=username, email=email, password=password
        )
    assert error.value.field == field


async def test_unknown_user_costs_a_dummy_check(uow: InMemoryUnitOfWork) -> None:
    hasher = FakeHasher()
    with pytest.raises(AuthenticationFailed) as error:
        await accounts.log_in(uow, hasher, FakeTokens(), FakeClock(), username="ghost", password="whatever1")
    assert hasher.dummy_calls == 1
    assert error.value.message == accounts.INVALID_CREDENTIALS


async def test_login_rehashes_when_parameters_change(uow: InMemoryUnitOfWork) -> None:
    clock = FakeClock()
    await accounts.sign_up(
        uow, FakeHasher(1), clock, username="zoe", email="z@example.com", password="long enough"
    )
    await accounts.log_in(uow, FakeHasher(2), FakeTokens(), clock, username="zoe", password="long enough")
    async with uow:
        user = await uow.users.get_by_username("zoe")
    assert user is not None
    assert user.password_hash.startswith("v2:")


async def test_refresh_rotation_and_replay_revokes_family(uow: InMemoryUnitOfWork) -> None:
    clock, hasher, tokens = FakeClock(), FakeHasher(), FakeTokens()
    await accounts.sign_up(uow, hasher, clock, username="zoe", email="z@example.com", password="long enough")
    first = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    other_login = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    second = await accounts.refresh_tokens(uow, tokens, clock, refresh_token=first.refresh_token)
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=first.refresh_token)
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=second.refresh_token)
    # Another login of the same user is a different family and keeps working.
    assert await accounts.refresh_tokens(uow, tokens, clock, refresh_token=other_login.refresh_token)


async def test_expired_refresh_token_is_refused(uow: InMemoryUnitOfWork) -> None:
    clock, hasher, tokens = FakeClock(), FakeHasher(), FakeTokens()
    await accounts.sign_up(uow, hasher, clock, username="zoe", email="z@example.com", password="long enough")
    pair = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    clock.advance(timedelta(seconds=tokens.refresh_lifetime_seconds + 1))
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=pair.refresh_token)


async def two_logins(
    uow: InMemoryUnitOfWork,
) -> tuple[FakeClock, FakeTokens, accounts.TokenPair, accounts.TokenPair]:
    """The clock and tokens of two logins of the account "zoe", just signed up."""
    clock, hasher = FakeClock(), FakeHasher()
    tokens = FakeTokens(clock)
    await accounts.sign_up(uow, hasher, clock, username="zoe", email="z@example.com", password="long enough")
    first = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    second = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    return clock, tokens, first, second


async def test_a_session_renewed_twice_within_the_grace_is_not_a_replay_and_later_is(
    uow: InMemoryUnitOfWork,
) -> None:
    """Two tabs renewing one session: the second, within the grace, gets an access token of the
    login and no refresh token (the first's rotated one stays the login's); after the grace, the
    spent token is a replay and ends the login, the access tokens it handed out too."""
    clock, hasher = FakeClock(), FakeHasher()
    tokens = FakeTokens(clock)
    grace = timedelta(seconds=30)
    await accounts.sign_up(uow, hasher, clock, username="zoe", email="z@example.com", password="long enough")
    pair = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    first = await accounts.renew_session(uow, tokens, clock, refresh_token=pair.refresh_token, grace=grace)
    assert first.user.username == "zoe" and first.refresh_token not in {None, pair.refresh_token}
    clock.advance(grace)
    second = await accounts.renew_session(uow, tokens, clock, refresh_token=pair.refresh_token, grace=grace)
    assert second.refresh_token is None
    assert (await accounts.authenticate(uow, tokens, second.access_token)).username == "zoe"
    assert first.refresh_token is not None
    third = await accounts.renew_session(uow, tokens, clock, refresh_token=first.refresh_token, grace=grace)
    assert third.refresh_token is not None, "the login goes on from the first tab's token"
    clock.advance(timedelta(seconds=1))
    with pytest.raises(AuthenticationFailed, match="already used"):
        await accounts.renew_session(uow, tokens, clock, refresh_token=pair.refresh_token, grace=grace)
    for access in (second.access_token, third.access_token):
        with pytest.raises(AuthenticationFailed):
            await accounts.authenticate(uow, tokens, access)
    with pytest.raises(AuthenticationFailed):
        await accounts.renew_session(uow, tokens, clock, refresh_token=third.refresh_token, grace=grace)


class _ReadBeforeTheOtherTab(InMemoryUnitOfWork):
    """A unit of work whose read of a refresh token is the row as it was before another renewal
    spent it: the two requests read at once, and the other one's spend lands first."""

    def __init__(self, store: InMemoryStore, before: RefreshToken) -> None:
        super().__init__(store)
        self.before = before

    async def __aenter__(self) -> Self:
        entered = await super().__aenter__()

        async def as_read_before(digest: str) -> RefreshToken | None:
            return self.before if digest == self.before.digest else None

        self.refresh_tokens.get_by_digest = as_read_before  # type: ignore[method-assign]
        return entered


async def test_a_renewal_racing_another_one_with_the_same_token_is_not_a_replay() -> None:
    """Both read the token unspent; one spends it, the other's spend finds it spent: that one is
    served within the grace (an access token, no refresh token), the login goes on. Without a
    grace (``POST /token/refresh``) the same race is a replay and ends the login."""
    for grace, login_goes_on in ((timedelta(seconds=30), True), (timedelta(0), False)):
        store = InMemoryStore()
        uow = InMemoryUnitOfWork(store)
        clock, tokens, pair, _ = await two_logins(uow)
        async with uow:
            unspent = await uow.refresh_tokens.get_by_digest(accounts.refresh_digest(pair.refresh_token))
        assert unspent is not None and unspent.used_at is None
        first = await accounts.renew_session(
            uow, tokens, clock, refresh_token=pair.refresh_token, grace=grace
        )
        racing = _ReadBeforeTheOtherTab(store, unspent)
        if login_goes_on:
            second = await accounts.renew_session(
                racing, tokens, clock, refresh_token=pair.refresh_token, grace=grace
            )
            assert second.refresh_token is None
            assert (await accounts.authenticate(uow, tokens, second.access_token)).username == "zoe"
        else:
            with pytest.raises(AuthenticationFailed, match="already used"):
                await accounts.renew_session(
                    racing, tokens, clock, refresh_token=pair.refresh_token, grace=grace
                )
        assert first.refresh_token is not None
        alive = accounts.renew_session(uow, tokens, clock, refresh_token=first.refresh_token, grace=grace)
        if login_goes_on:
            assert (await alive).refresh_token is not None
        else:
            with pytest.raises(AuthenticationFailed):
                await alive


async def test_log_out_with_the_refresh_token_ends_the_whole_login(uow: InMemoryUnitOfWork) -> None:
    clock, tokens, pair, other = await two_logins(uow)
    await accounts.log_out(uow, tokens, clock, None, refresh_token=pair.refresh_token)
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(uow, tokens, pair.access_token)
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=pair.refresh_token)
    assert (await accounts.authenticate(uow, tokens, other.access_token)).username == "zoe"
    await accounts.log_out(uow, tokens, clock, None, refresh_token="never issued")  # nothing to end


async def test_sign_up_refuses_the_first_of_the_problems_a_form_lists_at_once(
    uow: InMemoryUnitOfWork,
) -> None:
    problems = accounts.sign_up_problems("a!", "not-an-email", "short")
    assert [(p.field, p.rule) for p in problems] == [
        ("username", "must be 3-50 characters of letters, digits and underscore"),
        ("email", "must be a valid e-mail address, such as name@example.com"),
        ("password", "must be at least 8 characters"),
    ]
    with pytest.raises(InvalidValue) as error:
        await accounts.sign_up(
            uow, FakeHasher(), FakeClock(), username="a!", email="not-an-email", password="short"
        )
    assert (error.value.field, error.value.rule) == ("username", problems[0].rule)
    assert accounts.sign_up_problems("fine", " zoe@example.com ", "long enough") == []
    user = await accounts.sign_up(
        uow, FakeHasher(), FakeClock(), username="fine", email=" zoe@example.com ", password="long enough"
    )
    assert user.email == "zoe@example.com"


async def test_a_disabled_account_cannot_log_in_refresh_or_use_its_tokens_until_enabled(
    uow: InMemoryUnitOfWork,
) -> None:
    """The operator's answer to an abusive account (with removing its readings): disabled, it
    can no longer log in, refresh or use an access token it holds; a wrong password still gets
    the one message for every failure (being disabled is said only to who knows the password);
    enabled again, everything works."""
    clock, hasher, tokens = FakeClock(), FakeHasher(), FakeTokens()
    await accounts.sign_up(uow, hasher, clock, username="zoe", email="z@example.com", password="long enough")
    pair = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    kept_aside = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    disabled = await accounts.set_disabled(uow, clock, "ZOE", disabled=True)
    assert disabled.disabled_at == clock.now()
    with pytest.raises(AuthenticationFailed) as error:
        await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    assert error.value.message == accounts.DISABLED
    with pytest.raises(AuthenticationFailed) as error:
        await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="wrong password")
    assert error.value.message == accounts.INVALID_CREDENTIALS
    with pytest.raises(AuthenticationFailed) as error:
        await accounts.authenticate(uow, tokens, pair.access_token)
    assert error.value.message == accounts.DISABLED
    # Its refresh token was revoked with it, but who holds one logged in with the password:
    # told why, not "Invalid or expired refresh token" (the remote CLI and the dashboard
    # refresh, so this is what they show).
    with pytest.raises(AuthenticationFailed) as error:
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=pair.refresh_token)
    assert error.value.message == accounts.DISABLED
    # Disabling twice keeps the first time; an unknown name is said.
    clock.advance(timedelta(minutes=5))  # well within the refresh tokens' lifetime
    assert (await accounts.set_disabled(uow, clock, "zoe", disabled=True)).disabled_at == disabled.disabled_at
    with pytest.raises(NotFound):
        await accounts.set_disabled(uow, clock, "nobody", disabled=True)
    enabled = await accounts.set_disabled(uow, clock, "zoe", disabled=False)
    assert enabled.disabled_at is None
    # Its logins from before were revoked with it (a compromised account comes back only by a
    # new log-in); a new one works.
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=kept_aside.refresh_token)
    again = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    assert (await accounts.authenticate(uow, tokens, again.access_token)).username == "zoe"
    assert await accounts.refresh_tokens(uow, tokens, clock, refresh_token=again.refresh_token)


async def test_a_password_is_changed_with_the_current_one_and_ends_every_login(
    uow: InMemoryUnitOfWork,
) -> None:
    clock, hasher, tokens = FakeClock(), FakeHasher(), FakeTokens()
    user = await accounts.sign_up(
        uow, hasher, clock, username="zoe", email="z@example.com", password="long enough"
    )
    pair = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    with pytest.raises(InvalidValue) as error:
        await accounts.change_password(uow, hasher, clock, user.id, current="not it", new="quite different")
    assert error.value.field == "current_password"
    for new, rule in (
        ("short", "at least 8"),
        ("password123", "common"),
        ("long enough", "current password"),
    ):
        with pytest.raises(InvalidValue) as error:
            await accounts.change_password(uow, hasher, clock, user.id, current="long enough", new=new)
        assert error.value.field == "new_password" and rule in error.value.rule
    await accounts.change_password(uow, hasher, clock, user.id, current="long enough", new="quite different")
    with pytest.raises(AuthenticationFailed):
        await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    assert await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="quite different")
    with pytest.raises(AuthenticationFailed):
        await accounts.refresh_tokens(uow, tokens, clock, refresh_token=pair.refresh_token)
    # The operator sets one without the current (a forgotten password), by the same rules.
    await accounts.reset_password(uow, hasher, clock, "ZOE", "set by the operator")
    assert await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="set by the operator")
    with pytest.raises(InvalidValue):
        await accounts.reset_password(uow, hasher, clock, "zoe", "short")
    with pytest.raises(NotFound):
        await accounts.reset_password(uow, hasher, clock, "nobody", "set by the operator")


async def test_a_password_change_or_reset_ends_the_access_tokens_issued_before_it(
    uow: InMemoryUnitOfWork,
) -> None:
    clock, hasher = FakeClock(), FakeHasher()
    tokens = FakeTokens(clock)
    user = await accounts.sign_up(
        uow, hasher, clock, username="zoe", email="z@example.com", password="long enough"
    )
    before = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="long enough")
    clock.advance(timedelta(microseconds=1))
    await accounts.change_password(uow, hasher, clock, user.id, current="long enough", new="quite different")
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(uow, tokens, before.access_token)
    at_once = await accounts.log_in(uow, hasher, tokens, clock, username="zoe", password="quite different")
    assert (await accounts.authenticate(uow, tokens, at_once.access_token)).id == user.id, (
        "issued at the change"
    )
    clock.advance(timedelta(seconds=1))
    await accounts.reset_password(uow, hasher, clock, "zoe", "set by the operator")
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(uow, tokens, at_once.access_token)


async def test_a_logged_out_access_token_is_refused_and_others_are_not(uow: InMemoryUnitOfWork) -> None:
    clock, tokens, first, second = await two_logins(uow)
    await accounts.log_out(uow, tokens, clock, first.access_token)
    await accounts.log_out(uow, tokens, clock, first.access_token)  # twice: nothing more to end
    await accounts.log_out(uow, tokens, clock, "not a token")  # nothing to end
    with pytest.raises(AuthenticationFailed):
        await accounts.authenticate(uow, tokens, first.access_token)
    assert (await accounts.authenticate(uow, tokens, second.access_token)).username == "zoe"
    # Once the token has expired, its id is forgotten with the next log-out.
    clock.advance(timedelta(hours=2))
    await accounts.log_out(uow, tokens, clock, second.access_token)
    async with uow:
        assert not await uow.revoked_access_tokens.is_revoked("1"), "pruned"


LOCAL_PART = "must have only letters, digits and . ! # $ % & ' * + / = ? ^ _ ` { | } ~ - before the @"
DOMAIN = (
    "must have a domain of letters, digits and hyphens between its dots (no hyphen first or last), "
    "at most 63 characters each and 253 in all once IDNA-encoded"
)


@pytest.mark.parametrize(
    ("email", "rule"),
    [
        ("\u200b@\u200b.\u200b", "visible characters"),
        ("a@\u200b.example.com", "visible characters"),
        ("a..b@example.com", "two dots in a row"),
        ("a@ex..com", "two dots in a row"),
        (".a@example.com", "two dots in a row"),
        ("a.@example.com", "two dots in a row"),
        ("a@.example.com", "two dots in a row"),
        ("a@example.com.", "two dots in a row"),
        ("a\x00b@example.com", "spaces or control characters"),
        ("a\x01b@ex\x7fample.com", "spaces or control characters"),
        ("a\u0085b@example.com", "spaces or control characters"),
        ("a b@example.com", "spaces or control characters"),
        ("a\u3000b@example.com", "spaces or control characters"),
        ("ab@example", "such as name@example.com"),
        ("@example.com", "such as name@example.com"),
        ("a@b@example.com", "such as name@example.com"),
        (f"{'a' * 65}@example.com", "64 characters before the @"),
        (f"a@{'b' * 250}.com", "at most 254 characters"),
        # What mail headers read as other recipients (a group, an angle address, a list), or quote.
        ("g:root;x123@example.com", LOCAL_PART),
        ("x<postmaster>@example.com", LOCAL_PART),
        ("root,me123@example.com", LOCAL_PART),
        ("a(comment)@example.com", LOCAL_PART),
        ('"ab"@example.com', LOCAL_PART),
        ("a\\b@example.com", LOCAL_PART),
        ("a[b]@example.com", LOCAL_PART),
        ("a\uff1cb@example.com", LOCAL_PART),  # a fullwidth <
        ("a@exa_mple.com", DOMAIN),
        ("a@-example.com", DOMAIN),
        ("a@example-.com", DOMAIN),
        (f"a@{'b' * 64}.com", DOMAIN),
        (f"a@{'ü' * 60}.com", DOMAIN),  # 60 letters, over 63 once IDNA-encoded
        ("a@[127.0.0.1]", DOMAIN),
        ("a@ex\u3002ample.com", DOMAIN),  # an ideographic full stop
        ("a@exa;mple.com", DOMAIN),
        ("a@a\u2488.com", DOMAIN),  # a letter IDNA folds to "1."
    ],
)
def test_an_unusable_email_address_is_refused_in_words(email: str, rule: str) -> None:
    with pytest.raises(InvalidValue) as error:
        accounts.validate_email(email)
    assert error.value.field == "email"
    assert rule in error.value.rule


@pytest.mark.parametrize(
    "email",
    [
        "first.last@example.co.uk",
        "o'brien+shop@example.com",
        "zoë@exämple.com",
        " padded@example.com ",
        "a!#$%&'*+/=?^_`{|}~-z@example.com",
        "x@xn--bcher-kva.example",
        "user@sub-domain.example.com",
        f"{'a' * 64}@{'b' * 63}.example",
        "ze\u0301@example.com",  # a combining accent
    ],
)
def test_usual_email_addresses_are_accepted(email: str) -> None:
    assert accounts.validate_email(email) == email.strip()


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        (" " * 8, "must not be blank"),
        ("\u200b" * 8 + " ", "must not be blank"),
        ("long\x00enough", "must not hold control characters"),
        ("long\tenough", "must not hold control characters"),
        ("long\x9benough", "must not hold control characters"),
        ("Zoe_Seller", "must not be the username or the e-mail address"),
        ("ZOE@EXAMPLE.COM", "must not be the username or the e-mail address"),
    ],
)
async def test_a_weak_or_unusable_password_is_refused_at_sign_up(
    uow: InMemoryUnitOfWork, password: str, rule: str
) -> None:
    problems = accounts.sign_up_problems("zoe_seller", "zoe@example.com", password)
    assert [(p.field, p.rule) for p in problems] == [("password", rule)]
    with pytest.raises(InvalidValue) as error:
        await accounts.sign_up(
            uow, FakeHasher(), FakeClock(), username="zoe_seller", email="zoe@example.com", password=password
        )
    assert (error.value.field, error.value.rule) == ("password", rule)
    async with uow:
        assert await uow.users.get_by_username("zoe_seller") is None


async def test_a_new_password_follows_the_same_rules_when_changed_or_set_by_the_operator(
    uow: InMemoryUnitOfWork,
) -> None:
    clock, hasher = FakeClock(), FakeHasher()
    user = await accounts.sign_up(
        uow, hasher, clock, username="zoe_seller", email="zoe@example.com", password="long enough"
    )
    for new, rule in (
        ("ZOE_SELLER", "must not be the username or the e-mail address"),
        ("zoe@example.com", "must not be the username or the e-mail address"),
        ("\t" * 8, "must not hold control characters"),
        (" " * 9, "must not be blank"),
    ):
        with pytest.raises(InvalidValue) as error:
            await accounts.change_password(uow, hasher, clock, user.id, current="long enough", new=new)
        assert (error.value.field, error.value.rule) == ("new_password", rule)
        with pytest.raises(InvalidValue) as error:
            await accounts.reset_password(uow, hasher, clock, "zoe_seller", new)
        assert (error.value.field, error.value.rule) == ("password", rule)
    assert await accounts.log_in(
        uow, hasher, FakeTokens(), FakeClock(), username="zoe_seller", password="long enough"
    )


@pytest.mark.parametrize("login", ["zoe\x00", "zoe\x00@example.com", "zo\x01e"])
async def test_a_login_name_with_a_control_character_is_refused_by_name_before_any_store(
    uow: InMemoryUnitOfWork, login: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        await accounts.log_in(
            uow, FakeHasher(), FakeTokens(), FakeClock(), username=login, password="long enough"
        )
    assert (error.value.field, error.value.rule) == ("username", "must not hold control characters")
