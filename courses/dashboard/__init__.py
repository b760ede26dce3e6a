"""The instructor dashboard of a school (``/dashboard/``): server-rendered pages for owners and
instructors (course authoring, uploads, access codes, students, branding)."""
