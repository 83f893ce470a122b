"""The API's documentation page is part of the app: it leads back to it."""


def test_the_docs_lead_back_to_the_app(client, viewer_token):
    schema = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {viewer_token}").json()
    # Swagger UI renders the description as Markdown at the top of /api/docs.
    assert schema["info"]["description"].startswith("[← Back to BMS](/)")
