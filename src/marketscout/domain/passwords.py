"""Password rules: length bounds, no control characters (a NUL or a tab cannot be typed back
into every form and terminal), not blank, not the account's own username or e-mail address, and a
refusal of the most common passwords.

The list holds the commonly breached passwords of eight characters or more (shorter ones
are refused by length already), drawn from the public top-password lists.
"""

from __future__ import annotations

from marketscout.domain.errors import InvalidValue
from marketscout.domain.text import BLANK_RULE, ONE_LINE, is_blank

MIN_LENGTH = 8
MAX_LENGTH = 128

_COMMON = """
12345678 123456789 1234567890 password password1 password12 password123 password1234 passw0rd
p@ssw0rd p@ssword qwertyuiop qwerty123 qwerty1234 qwertyui 1q2w3e4r 1q2w3e4r5t 1q2w3e4r5t6y
1qaz2wsx 1qazxsw2 zaq12wsx zaq1zaq1 iloveyou iloveyou1 11111111 111111111 1111111111 00000000
000000000 0000000000 88888888 87654321 987654321 12341234 11223344 12344321 123123123 123321123
abcd1234 abc12345 abc123456 abcdefgh sunshine sunshine1 princess princess1 football football1
baseball baseball1 welcome1 welcome123 superman superman1 starwars trustno1 whatever whatever1
dragon123 monkey123 letmein1 letmein123 master123 computer michael1 jennifer jordan23 charlie1
shadow123 1234qwer qwer1234 asdfghjk asdfghjkl asdf1234 zxcvbnm1 zxcvbnm123 loveme123 lovely123
babygirl babygirl1 chocolate butterfly liverpool chelsea1 arsenal1 manchester fuckyou1 password!
mustang1 michelle jessica1 1234567a a1234567 a12345678 aa123456 aa12345678 q1w2e3r4 q1w2e3r4t5
changeme changeme1 admin123 administrator adminadmin rootroot secret123 default1 internet
samsung1 computer1 whatever! trustme1 pokemon1 minecraft minecraft1 fortnite1 hello123 hellohello
myspace1 daniel123 victoria nicholas benjamin1 matthew1 patrick1 maverick1 freedom1 qazwsxedc
qazwsx123 google123 marketscout 123qweasd 123qweasdzxc 12qwaszx football123 iloveyou2 spiderman
batman123 summer2024 summer2025 summer2026 winter2024 winter2025 winter2026 spring2025 autumn2025
password2024 password2025 password2026 welcome2025 welcome2026 letmein! 987654321a 147258369
159753456 741852963 963852741 123456789a 123456789q 1234567890q
"""

COMMON_PASSWORDS: frozenset[str] = frozenset(_COMMON.split())


def check_password(password: str, *, username: str | None = None, email: str | None = None) -> None:
    """Raises InvalidValue naming ``password`` and the rule it breaks; ``username`` and
    ``email``, the account's, which the password may not be (in any case)."""
    if len(password) < MIN_LENGTH:
        raise InvalidValue("password", f"must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise InvalidValue("password", f"must be at most {MAX_LENGTH} characters")
    ONE_LINE.check("password", password)
    if is_blank(password):
        raise InvalidValue("password", BLANK_RULE)
    if password.casefold() in COMMON_PASSWORDS:
        raise InvalidValue("password", "is one of the most common passwords; choose another")
    own = {name.strip().casefold() for name in (username, email) if name}
    if password.strip().casefold() in own:
        raise InvalidValue("password", "must not be the username or the e-mail address")
