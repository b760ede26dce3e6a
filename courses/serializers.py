"""The course object of API.md ("Courses"), shared by every API that returns one (the
instructor course API and the Student API); an output shape, not an API module."""

from rest_framework import serializers


# Reads attributes or keys of these names: a ``Course``, a cached outline, an
# ``enrollment.selectors.CourseInfo``. No docstring: drf-spectacular would publish it as the
# schema's description.
class CourseOutput(serializers.Serializer):
    id = serializers.UUIDField()
    slug = serializers.CharField()
    title = serializers.CharField()
    subtitle = serializers.CharField()
    description = serializers.CharField()
    outcomes = serializers.ListField(child=serializers.CharField())
    category = serializers.CharField()
    difficulty = serializers.CharField()
    language = serializers.CharField()
    price = serializers.DecimalField(max_digits=10, decimal_places=2)
    currency = serializers.CharField()
    # draft | published | archived; ``published`` is true for ``published`` alone.
    status = serializers.CharField()
    published = serializers.BooleanField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()


class InstructorOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    email = serializers.EmailField()


# The course object of the instructor API: the course object with its instructors (a
# ``Course`` with ``instructors`` prefetched: ``courses.selectors.course_get``/``course_list``).
class ManagedCourseOutput(CourseOutput):
    instructors = InstructorOutput(many=True, source="instructors.all")
