"""Error pages (404, 403, 500) in the app's layout with a way back, and the favicon every page
asks for; rendered as in production (DEBUG off)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory
from django.views.defaults import server_error


@pytest.fixture(autouse=True)
def production(settings):
    settings.DEBUG = False


@pytest.mark.django_db
def test_a_missing_page_is_in_the_layout_with_navigation(viewer_client):
    response = viewer_client.get("/no/such/page/")
    page = response.content.decode()
    assert response.status_code == 404
    # the header's navigation
    assert 'class="top"' in page
    assert 'href="/devices/"' in page
    assert "Page not found" in page


@pytest.mark.django_db
def test_a_missing_page_signed_out_offers_sign_in(client):
    response = client.get("/no/such/page/")
    assert response.status_code == 404
    assert 'href="/accounts/login/"' in response.content.decode()


@pytest.mark.django_db
def test_a_refused_page_says_why_in_the_layout(viewer_client):
    response = viewer_client.post("/devices/discover/")
    page = response.content.decode()
    assert response.status_code == 403
    assert 'class="top"' in page
    assert "needs the operator role" in page


def test_the_server_error_page_needs_no_database_and_links_back():
    # No django_db mark: any query here would fail the test.
    response = server_error(RequestFactory().get("/devices/"))
    page = response.content.decode()
    assert response.status_code == 500
    assert 'class="top"' in page
    assert 'href="/devices/"' in page
    assert "Something went wrong" in page


@pytest.mark.django_db
def test_pages_link_the_favicon_and_it_is_served(viewer_client):
    page = viewer_client.get("/devices/").content.decode()
    assert '<link rel="icon" href="/static/web/favicon.svg"' in page
    icon = viewer_client.get("/static/web/favicon.svg")
    icon.close()  # a static file's response holds the file open until it is closed
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")


@pytest.mark.django_db
def test_the_browsers_default_favicon_path_is_not_a_404(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"] == "/static/web/favicon.svg"
