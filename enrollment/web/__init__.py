"""The student site on a school's host: server-rendered pages with session log-in."""
