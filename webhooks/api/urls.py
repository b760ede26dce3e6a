from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("school/webhooks", views.EndpointListApi.as_view(), name="webhooks"),
    path("school/webhooks/<int:endpoint_id>", views.EndpointDetailApi.as_view(), name="webhook"),
    path(
        "school/webhooks/<int:endpoint_id>/secret",
        views.EndpointSecretRotateApi.as_view(),
        name="webhook-secret",
    ),
    path(
        "school/webhooks/<int:endpoint_id>/test",
        views.EndpointTestApi.as_view(),
        name="webhook-test",
    ),
    path(
        "school/webhooks/<int:endpoint_id>/messages",
        views.MessageListApi.as_view(),
        name="webhook-messages",
    ),
    path(
        "school/webhooks/<int:endpoint_id>/messages/<int:message_id>/attempts",
        views.AttemptListApi.as_view(),
        name="webhook-message-attempts",
    ),
    path(
        "school/webhooks/<int:endpoint_id>/messages/<int:message_id>/replay",
        views.MessageReplayApi.as_view(),
        name="webhook-message-replay",
    ),
]
