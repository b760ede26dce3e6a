from django.urls import path

from community.api import views

urlpatterns = [
    path(
        "lectures/<uuid:lecture_id>/questions",
        views.LectureQuestionsApi.as_view(),
        name="lecture-questions",
    ),
    path("questions/<int:question_id>", views.QuestionDetailApi.as_view(), name="question"),
    path(
        "questions/<int:question_id>/answers",
        views.QuestionAnswersApi.as_view(),
        name="question-answers",
    ),
    path("questions/<int:question_id>/vote", views.QuestionVoteApi.as_view(), name="question-vote"),
    path(
        "questions/<int:question_id>/report",
        views.QuestionReportApi.as_view(),
        name="question-report",
    ),
    path("answers/<int:answer_id>", views.AnswerDetailApi.as_view(), name="answer"),
    path("answers/<int:answer_id>/report", views.AnswerReportApi.as_view(), name="answer-report"),
    path(
        "instructor/questions",
        views.InstructorQuestionsApi.as_view(),
        name="instructor-questions",
    ),
    path("moderation/queue", views.ModerationQueueApi.as_view(), name="moderation-queue"),
    path("moderation/actions", views.ModerationActionsApi.as_view(), name="moderation-actions"),
]
