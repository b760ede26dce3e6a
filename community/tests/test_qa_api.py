"""The lecture Q&A API (API.md "Lecture Q&A", "Moderation"): who reads and writes, posts and
their edits, votes, resolution, the spam limit on a fake clock, the real toxicity model
holding posts, reports, the moderation actions and their audit log, and the XSS corpus."""

import json
import re

import pytest

from community.models import Answer, ModerationAction, Mute, Question
from community.moderation import toxicity_score
from community.panels import FIRST_PAGE
from community.tests.conftest import CLEAN, TOXIC
from tenants.testing import browser, in_tenant
from tests.xss import XSS_CORPUS, assert_inert

pytestmark = pytest.mark.django_db


def ask(qa, user, **body):
    payload = {"title": CLEAN, "body": "In the **second** example.", **body}
    return qa.api(user).post(f"/api/v1/lectures/{qa.lecture.id}/questions", payload, format="json")


def code(response) -> tuple[int, str | None]:
    body = response.json() if response.content else {}
    return response.status_code, body.get("error", {}).get("code")


def test_the_toxicity_scores_of_the_test_sentences():
    scores = {text: round(toxicity_score(text), 3) for text in (CLEAN, TOXIC)}
    print(f"toxicity: {scores}")
    assert scores[CLEAN] < 0.1
    assert scores[TOXIC] > 0.99


def test_a_student_asks_at_a_time_and_the_instructor_answers(qa):
    alice, bob = qa.students[:2]

    asked = ask(qa, alice, timestamp=4)
    question = asked.json()
    answered = qa.api(qa.instructor).post(
        f"/api/v1/questions/{question['id']}/answers", {"body": "It *doubles*."}, format="json"
    )
    detail = qa.api(bob).get(f"/api/v1/questions/{question['id']}").json()

    assert asked.status_code == 201
    assert {k: question[k] for k in ("title", "timestamp", "status", "pending_review")} == {
        "title": CLEAN,
        "timestamp": 4.0,
        "status": "published",
        "pending_review": False,
    }
    assert question["body_html"] == "<p>In the <strong>second</strong> example.</p>\n"
    assert question["author"] == {"id": alice.pk, "name": "qa-student-0"}
    assert (answered.status_code, answered.json()["is_instructor"]) == (201, True)
    assert [a["body_html"] for a in detail["answers"]] == ["<p>It <em>doubles</em>.</p>\n"]
    assert (detail["answer_count"], detail["has_instructor_answer"], detail["is_mine"]) == (
        1,
        True,
        False,
    )


def test_timestamps_must_lie_within_the_video(qa):
    alice = qa.students[0]
    article_url = f"/api/v1/lectures/{qa.article.id}/questions"

    past_end = ask(qa, alice, timestamp=20.5)
    negative = ask(qa, alice, timestamp=-1)
    on_article = qa.api(alice).post(article_url, {"title": "x", "timestamp": 1}, format="json")

    assert code(past_end) == code(negative) == code(on_article) == (400, "VALIDATION_ERROR")
    assert past_end.json()["error"]["details"] == {
        "timestamp": ["Must be between 0 and 20 seconds."]
    }
    assert ask(qa, alice, timestamp=20).status_code == 201


def test_only_the_course_people_read_or_write(qa):
    url = f"/api/v1/lectures/{qa.lecture.id}/questions"
    question_id = ask(qa, qa.students[0]).json()["id"]

    for user in (qa.outsider, qa.other_instructor):
        api = qa.api(user)
        assert code(api.get(url)) == (404, "NOT_FOUND")
        assert code(api.post(url, {"title": "x"}, format="json")) == (404, "NOT_FOUND")
        assert code(api.get(f"/api/v1/questions/{question_id}")) == (404, "NOT_FOUND")
        assert code(api.post(f"/api/v1/questions/{question_id}/vote")) == (404, "NOT_FOUND")
    assert qa.api(qa.owner).get(url).json()["count"] == 1
    assert code(qa.api(None).get(url)) == (401, "NOT_AUTHENTICATED")


def test_lists_sort_by_votes_newest_and_unanswered(qa):
    alice, bob, carol = qa.students[:3]
    first = ask(qa, alice, title="First").json()["id"]
    second = ask(qa, bob, title="Second").json()["id"]
    third = ask(qa, carol, title="Third").json()["id"]
    for voter in (alice, bob):
        assert qa.api(voter).post(f"/api/v1/questions/{second}/vote").status_code == 200
    # Voting twice is one vote; taking it back twice removes one.
    again = qa.api(alice).post(f"/api/v1/questions/{second}/vote").json()
    unvote = [qa.api(carol).delete(f"/api/v1/questions/{third}/vote").json() for _ in (1, 2)]
    qa.api(qa.instructor).post(f"/api/v1/questions/{first}/answers", {"body": "Yes."})
    url = f"/api/v1/lectures/{qa.lecture.id}/questions"

    lists = {
        sort: [q["id"] for q in qa.api(alice).get(f"{url}?sort={sort}").json()["results"]]
        for sort in ("votes", "newest", "unanswered")
    }

    assert again == {"question_id": second, "voted": True, "vote_count": 2}
    assert unvote[1] == {"question_id": third, "voted": False, "vote_count": 0}
    assert lists == {
        "votes": [second, third, first],
        "newest": [third, second, first],
        "unanswered": [third, second],
    }
    page = qa.api(alice).get(f"{url}?limit=1").json()
    assert (page["count"], len(page["results"]), page["results"][0]["voted"]) == (3, 1, True)
    assert code(qa.api(alice).get(f"{url}?sort=loudest")) == (400, "VALIDATION_ERROR")


def test_authors_edit_and_delete_their_posts_and_resolution_rules(qa):
    alice, bob = qa.students[:2]
    qid = ask(qa, alice).json()["id"]
    aid = qa.api(bob).post(f"/api/v1/questions/{qid}/answers", {"body": "Maybe."}).json()["id"]
    q_url, a_url = f"/api/v1/questions/{qid}", f"/api/v1/answers/{aid}"

    edited = qa.api(alice).patch(q_url, {"title": "Sharper title"}, format="json").json()
    not_hers = qa.api(bob).patch(q_url, {"title": "Mine now"}, format="json")
    bob_resolves = qa.api(bob).patch(q_url, {"resolved": True}, format="json")
    teacher_resolves = qa.api(qa.instructor).patch(q_url, {"resolved": True}, format="json")
    answer_edit = qa.api(bob).patch(a_url, {"body": "Surely."}, format="json").json()
    answer_not_hers = qa.api(alice).patch(a_url, {"body": "x"}, format="json")
    alice_deletes_answer = qa.api(alice).delete(a_url)
    bob_deletes = qa.api(bob).delete(a_url)

    assert (edited["title"], edited["edited_at"] is not None) == ("Sharper title", True)
    assert code(not_hers) == code(bob_resolves) == (403, "PERMISSION_DENIED")
    assert (teacher_resolves.status_code, teacher_resolves.json()["resolved"]) == (200, True)
    assert (answer_edit["body"], answer_edit["is_mine"]) == ("Surely.", True)
    assert code(answer_not_hers) == code(alice_deletes_answer) == (403, "PERMISSION_DENIED")
    assert bob_deletes.status_code == 204
    assert qa.api(alice).get(q_url).json()["answer_count"] == 0
    assert qa.api(qa.instructor).delete(q_url).status_code == 204
    with in_tenant(qa.tenant):
        assert not Question.objects.filter(pk=qid).exists()
        assert ModerationAction.objects.filter(action="delete", target_id=str(qid)).count() == 1


def test_a_toxic_post_is_held_and_seen_by_its_author_and_the_queue_only(qa):
    alice, bob = qa.students[:2]
    url = f"/api/v1/lectures/{qa.lecture.id}/questions"

    held = ask(qa, alice, title="Stupid lecture", body=TOXIC).json()
    clean = ask(qa, bob).json()
    toxic_answer = qa.api(bob).post(f"/api/v1/questions/{clean['id']}/answers", {"body": TOXIC})
    alice_list = [q["id"] for q in qa.api(alice).get(url).json()["results"]]
    bob_list = [q["id"] for q in qa.api(bob).get(url).json()["results"]]
    bob_detail = qa.api(bob).get(f"/api/v1/questions/{held['id']}")
    alice_sees = qa.api(alice).get(f"/api/v1/questions/{clean['id']}").json()
    queue = qa.api(qa.instructor).get("/api/v1/moderation/queue").json()

    assert (held["status"], held["pending_review"]) == ("pending", True)
    assert clean["status"] == "published"
    assert toxic_answer.json()["status"] == "pending"
    assert alice_list == [clean["id"], held["id"]] or alice_list == [held["id"], clean["id"]]
    assert bob_list == [clean["id"]]
    assert code(bob_detail) == (404, "NOT_FOUND")
    assert (alice_sees["answers"], alice_sees["answer_count"]) == ([], 0)
    assert [(i["kind"], i["id"], i["reason"]) for i in queue["results"]] == [
        ("question", held["id"], "toxicity"),
        ("answer", toxic_answer.json()["id"], "toxicity"),
    ]
    assert queue["results"][0]["toxicity"] > 0.8
    assert qa.api(qa.other_instructor).get("/api/v1/moderation/queue").json()["count"] == 0
    with in_tenant(qa.tenant):
        holds = ModerationAction.objects.filter(
            action="hold", actor=None, course_id=qa.course.pk
        ).count()
    assert holds == 2


def test_the_owner_sets_the_threshold_on_the_moderation_page(qa):
    page = browser(qa.tenant, qa.owner)

    saved = page.post("/dashboard/moderation/", {"action": "threshold", "toxicity_threshold": "1"})
    now_published = ask(qa, qa.students[0], body=TOXIC).json()
    refused = browser(qa.tenant, qa.instructor).post(
        "/dashboard/moderation/", {"action": "threshold", "toxicity_threshold": "0.1"}
    )

    assert (saved.status_code, now_published["status"]) == (302, "published")
    assert refused.status_code == 302
    with in_tenant(qa.tenant):
        from community.selectors import community_settings

        assert community_settings().toxicity_threshold == 1.0
        assert ModerationAction.objects.filter(action="threshold").count() == 1


def test_three_reports_from_three_people_queue_a_post_two_do_not(qa):
    alice, bob, carol, dan = qa.students
    qid = ask(qa, alice).json()["id"]
    aid = qa.api(alice).post(f"/api/v1/questions/{qid}/answers", {"body": "Self."}).json()["id"]
    report = {"reason": "Off topic"}

    first = [qa.api(u).post(f"/api/v1/questions/{qid}/report", report) for u in (bob, carol)]
    repeat = qa.api(bob).post(f"/api/v1/questions/{qid}/report", report)
    for user in (bob, carol, dan):
        qa.api(user).post(f"/api/v1/answers/{aid}/report", report)
    queue_two = qa.api(qa.instructor).get("/api/v1/moderation/queue").json()["results"]
    qa.api(dan).post(f"/api/v1/questions/{qid}/report", report)
    queue_three = qa.api(qa.instructor).get("/api/v1/moderation/queue").json()["results"]

    assert [r.status_code for r in first] == [201, 201]
    assert (repeat.status_code, repeat.json()) == (200, {"reported": True})
    assert [(i["kind"], i["reason"], i["report_count"]) for i in queue_two] == [
        ("answer", "reports", 3)
    ]
    assert [(i["kind"], i["id"]) for i in queue_three] == [("question", qid), ("answer", aid)]
    # Still visible to everyone until an instructor acts.
    assert qa.api(bob).get(f"/api/v1/questions/{qid}").status_code == 200


def test_hide_restore_lock_and_mute_are_logged(qa):
    alice, bob = qa.students[:2]
    qid = ask(qa, alice).json()["id"]
    teacher = qa.api(qa.instructor)
    act = "/api/v1/moderation/actions"

    hidden = teacher.post(act, {"action": "hide", "question_id": qid, "reason": "spam"})
    gone = qa.api(bob).get(f"/api/v1/questions/{qid}")
    teacher.post(act, {"action": "restore", "question_id": qid})
    teacher.post(act, {"action": "lock", "question_id": qid})
    locked = qa.api(bob).post(f"/api/v1/questions/{qid}/answers", {"body": "Late."})
    teacher.post(act, {"action": "unlock", "question_id": qid})
    muted = teacher.post(
        act, {"action": "mute", "course_id": str(qa.course.id), "student_id": bob.pk}
    )
    bob_asks = ask(qa, bob)
    bob_answers = qa.api(bob).post(f"/api/v1/questions/{qid}/answers", {"body": "Hi."})
    bob_votes = qa.api(bob).post(f"/api/v1/questions/{qid}/vote")
    teacher.post(act, {"action": "unmute", "course_id": str(qa.course.id), "student_id": bob.pk})
    foreign = qa.api(qa.other_instructor).post(act, {"action": "hide", "question_id": qid})
    log = teacher.get(act).json()

    assert hidden.status_code == 201
    assert hidden.json()["action"] == "hide" and hidden.json()["actor"] == "qa-teacher"
    assert code(gone) == (404, "NOT_FOUND")
    assert code(locked) == (409, "THREAD_LOCKED")
    assert muted.status_code == 201
    assert code(bob_asks) == code(bob_answers) == (403, "MUTED")
    assert bob_asks.json()["error"]["details"] == {"until": None}
    assert bob_votes.status_code == 200
    assert ask(qa, bob).status_code == 201
    assert code(foreign) == (404, "NOT_FOUND")
    assert [(e["action"], e["target_kind"]) for e in log["results"]] == [
        ("unmute", "student"),
        ("mute", "student"),
        ("unlock", "question"),
        ("lock", "question"),
        ("restore", "question"),
        ("hide", "question"),
    ]
    with in_tenant(qa.tenant):
        assert not Mute.objects.exists()


def test_the_instructor_inbox_lists_unanswered_questions_of_their_courses(qa):
    alice, bob = qa.students[:2]
    answered = ask(qa, alice, title="Answered").json()["id"]
    waiting = ask(qa, bob, title="Waiting").json()["id"]
    ask(qa, alice, title="Held", body=TOXIC)
    qa.api(bob).post(f"/api/v1/questions/{answered}/answers", {"body": "Student reply."})
    qa.api(qa.instructor).post(f"/api/v1/questions/{answered}/answers", {"body": "Done."})

    mine = qa.api(qa.instructor).get("/api/v1/instructor/questions?status=unanswered").json()
    every = qa.api(qa.owner).get("/api/v1/instructor/questions?status=all").json()
    other = qa.api(qa.other_instructor).get("/api/v1/instructor/questions").json()
    page = browser(qa.tenant, qa.instructor).get("/dashboard/questions/")

    assert [(q["id"], q["course_title"]) for q in mine["results"]] == [(waiting, "Kinematics")]
    assert [q["id"] for q in every["results"]] == [waiting, answered]
    assert other["count"] == 0
    assert (
        page.status_code == 200 and b"Waiting" in page.content and b"Answered" not in page.content
    )
    assert code(qa.api(alice).get("/api/v1/instructor/questions")) == (403, "PERMISSION_DENIED")


def test_the_instructor_answers_and_resolves_on_the_dashboard(qa):
    qid = ask(qa, qa.students[0]).json()["id"]
    page = browser(qa.tenant, qa.instructor)
    url = f"/dashboard/questions/{qid}/"

    answered = page.post(url, {"action": "answer", "body": "See **slide 3**."})
    resolved = page.post(url, {"action": "resolve"})
    shown = page.get(url)
    foreign = browser(qa.tenant, qa.other_instructor).get(url)

    assert (answered.status_code, resolved.status_code, shown.status_code) == (302, 302, 200)
    assert b"<strong>slide 3</strong>" in shown.content
    assert foreign.status_code == 404
    with in_tenant(qa.tenant):
        question = Question.objects.get(pk=qid)
        assert (question.resolved, question.instructor_answered) == (True, True)
        assert Answer.objects.get(question=question).is_instructor_answer


def test_five_posts_a_minute_then_429_with_retry_after(qa, post_clock):
    alice = qa.students[0]
    qid = ask(qa, alice).json()["id"]
    answers = [
        qa.api(alice).post(f"/api/v1/questions/{qid}/answers", {"body": f"Note {n}."})
        for n in range(4)
    ]
    post_clock[0] += 30
    sixth = ask(qa, alice)
    other_student = ask(qa, qa.students[1])
    post_clock[0] += 31  # the first post leaves the one-minute window
    seventh = ask(qa, alice)

    assert [r.status_code for r in answers] == [201, 201, 201, 201]
    assert code(sixth) == (429, "RATE_LIMITED")
    assert sixth["Retry-After"] == "31"
    assert other_student.status_code == 201
    assert seventh.status_code == 201
    # Reads, votes and reports are not posts.
    assert qa.api(alice).get(f"/api/v1/questions/{qid}").status_code == 200


@pytest.mark.parametrize("half", [0, 1])
def test_xss_corpus_is_inert_in_the_api_and_the_pages(qa, half):
    alice = qa.students[0]
    corpus = XSS_CORPUS[half::2]
    questions, answers = [], []
    for payload in corpus:
        created = ask(qa, alice, title=payload[:200], body=payload).json()
        assert created["title"] == payload[:200]
        questions.append(created)
        answer = qa.api(qa.instructor).post(
            f"/api/v1/questions/{created['id']}/answers", {"body": payload}
        )
        answers.append(answer.json())
        assert_inert(created["body_html"])
        assert_inert(answer.json()["body_html"])
    teacher = browser(qa.tenant, qa.instructor)
    pages = [teacher.get(f"/dashboard/questions/{q['id']}/") for q in questions[:4]]
    pages.append(teacher.get("/dashboard/questions/?status=all"))
    # The held ones (the corpus trips the filter now and then) show in the queue.
    pages.append(teacher.get("/dashboard/moderation/"))
    lecture_page = browser(qa.tenant, alice).get(
        f"/courses/{qa.course.id}/lectures/{qa.lecture.id}/"
    )
    # The lecture page's panel draws its list from its JSON data block (checked below).
    assert lecture_page.status_code == 200
    for page in pages:
        assert page.status_code == 200
        assert_inert(_user_content(page.content.decode()))
    config = lecture_page.content.decode().split('<script id="qa-config" type="application/json">')
    raw = config[1].split("</script>", 1)[0]
    assert "<" not in raw
    assert len(json.loads(raw)["questions"]) == min(len(questions), FIRST_PAGE)


# The pages' own forms (moderation buttons, the answer form): markup of the templates, not of
# any user. A form a user slipped in would have other attributes and still be found.
OWN_FORMS = ('<form method="post" class="inline-form">', '<form method="post" id="answer-form">')


def _user_content(html: str) -> str:
    """The page's ``<main>`` (where every user text is rendered) without the templates' own
    forms and the panel's JSON data block (checked apart: ``json_script`` escapes ``<``)."""
    main = html.split('<main class="site-main">', 1)[1].split("</main>", 1)[0]
    main = re.sub(
        r'<script id="qa-config" type="application/json">.*?</script>', "", main, flags=re.S
    )
    for form in OWN_FORMS:
        main = main.replace(form, "")
    return main.replace("</form>", "")
