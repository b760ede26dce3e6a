"""What ``catalog``'s public pages ask the apps above it (``recommendations``): rows of course
cards to show on the home page and on a course's public page.

``catalog`` collects these and never imports its receivers; the receivers are connected in the
higher app's ``AppConfig.ready()``. The list, with who collects and who answers, is in
docs/ARCHITECTURE.md ("Layers and hooks").

A row is ``None`` (nothing to show) or ``{"id": str, "title": str, "courses": [card]}``, a card
``{"id", "url", "title", "subtitle", "cover_url", "category", "difficulty", "lecture_count",
"price_display", "reason"}`` (plain text, escaped by the page; ``url`` and ``cover_url`` are
links of this school or ``cover_url`` None), rendered by ``templates/courses/_course_row.html``.
"""

from tenants.hooks import Hook

home_sections = Hook("home_sections", payload=("request",))
"""Collected by the home page (``catalog.web.views.home``) in the school's schema, for every
visitor. What the receivers answer for a visitor without a session is stored in the cached
anonymous page under the catalogue token (``courses.cache.catalogue_page_get``), so a receiver
whose row changes for such visitors replaces the token (``courses.cache.catalogue_invalidate``).
Receivers in order: ``recommendations.web.sections.for_you_home_section`` ("Recommended for
you", signed in only) and ``trending_section`` ("Trending")."""

course_page_sections = Hook("course_page_sections", payload=("request", "course_id"))
"""Collected by a course's public page (``catalog.web.views.course_page``) once the viewer may
see it, in the school's schema. Payload: ``request`` and ``course_id`` (UUID). Connected by
``recommendations`` ("Students also took")."""
