"""WebSocket routes of the lecture Q&A (mounted by config/asgi.py behind tenants.asgi)."""

from django.urls import path

from community.consumers import LectureQuestionsConsumer

websocket_urlpatterns = [
    path(
        "ws/lectures/<uuid:lecture_id>/questions/",
        LectureQuestionsConsumer.as_asgi(),
        name="ws-lecture-questions",
    ),
]
