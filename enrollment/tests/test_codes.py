"""Access code format (Crockford base32, 80 bits) and hashing."""

import re

from enrollment import codes


def test_generated_codes_have_the_display_format_and_are_distinct():
    generated = {codes.code_generate() for _ in range(2000)}

    assert len(generated) == 2000
    pattern = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$")
    assert all(pattern.match(code) for code in generated)


def test_normalize_reads_case_hyphens_and_ambiguous_letters():
    assert codes.code_normalize("abcd-efgh-jkmn-pqrs") == "ABCDEFGHJKMNPQRS"
    assert codes.code_normalize("ILO0 1234 5678 9ABC") == "1100123456789ABC"
    assert codes.code_normalize("ABCDEFGHJKMNPQRSTU") is None  # too long
    assert codes.code_normalize("ABCD-EFGH-JKMN-PQRU") is None  # U is not in the alphabet
    assert codes.code_normalize("") is None


def test_hash_is_keyed_and_stable(settings):
    first = codes.code_hash("ABCDEFGHJKMNPQRS")
    settings.ACCESS_CODE_HASH_KEY = "another-key"
    second = codes.code_hash("ABCDEFGHJKMNPQRS")

    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert first != second
