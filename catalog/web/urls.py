"""URLs of the public pages (included at the root of config/urls_tenants.py, after the student
site's, so that ``/courses/<uuid>/`` is the enrolled student's course and ``/courses/<slug>/``
the public page: slugs are never UUID-shaped)."""

from django.urls import path

from catalog.web import views

urlpatterns = [
    path("courses/<slug:slug>/", views.course_page, name="catalog-course"),
    path("instructors/<int:instructor_id>/", views.instructor_page, name="catalog-instructor"),
    path(
        "instructors/<int:instructor_id>/avatar",
        views.instructor_avatar,
        name="catalog-instructor-avatar",
    ),
    path("sitemap.xml", views.sitemap, name="catalog-sitemap"),
    path("robots.txt", views.robots, name="catalog-robots"),
]
