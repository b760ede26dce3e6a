"""The search results page (included at the root of config/urls_tenants.py)."""

from django.urls import path

from search.web import views

urlpatterns = [path("search/", views.search_page, name="search-page")]
