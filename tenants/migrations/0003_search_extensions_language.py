"""PostgreSQL extensions and text search configurations every school's search uses.

``pg_trgm`` (trigram similarity: autocomplete) and ``unaccent`` are created once, in the public
schema, which is on every school's ``search_path`` (django-tenants). For each language with a
Snowball stemmer in PostgreSQL, ``public.lectern_<language>`` is the language's configuration
with ``unaccent`` in front of its stemmer, so "café" and "cafe" match; ``public.lectern_simple``
does the same without stemming. These are immutable ``regconfig`` names, usable in stored
generated columns and expression indexes.
"""

from django.db import migrations, models

import tenants.languages

#: PostgreSQL 15's Snowball stemmers (``\\dFd *_stem``), plus ``simple``.
LANGUAGES = [
    "arabic",
    "armenian",
    "basque",
    "catalan",
    "danish",
    "dutch",
    "english",
    "finnish",
    "french",
    "german",
    "greek",
    "hindi",
    "hungarian",
    "indonesian",
    "irish",
    "italian",
    "lithuanian",
    "nepali",
    "norwegian",
    "portuguese",
    "romanian",
    "russian",
    "serbian",
    "spanish",
    "swedish",
    "tamil",
    "turkish",
    "yiddish",
    "simple",
]


def _configuration_sql(language: str) -> str:
    dictionary = "simple" if language == "simple" else f"{language}_stem"
    return (
        f"DROP TEXT SEARCH CONFIGURATION IF EXISTS public.lectern_{language};"
        f"CREATE TEXT SEARCH CONFIGURATION public.lectern_{language} (COPY = pg_catalog.{language});"
        f"ALTER TEXT SEARCH CONFIGURATION public.lectern_{language} "
        f"ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, {dictionary};"
    )


CREATE = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;"
    "CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;"
    + "".join(_configuration_sql(language) for language in LANGUAGES)
)
DROP = "".join(
    f"DROP TEXT SEARCH CONFIGURATION IF EXISTS public.lectern_{language};" for language in LANGUAGES
)


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0002_tenant_logo"),
    ]

    operations = [
        # ``tenants`` is a shared app: its migrations run in the public schema only.
        migrations.RunSQL(CREATE, DROP),
        migrations.AddField(
            model_name="tenant",
            name="language",
            field=models.CharField(
                default="en", max_length=35, validators=[tenants.languages.language_validate]
            ),
        ),
    ]
