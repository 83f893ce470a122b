"""The API's documentation page is part of the app: it leads back to it."""

import json


def test_the_docs_lead_back_to_the_app(client, viewer_token):
    schema = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {viewer_token}").json()
    # Swagger UI renders the description as Markdown at the top of /api/docs.
    assert schema["info"]["description"].startswith("[← Back to BMS](/)")


def test_the_schema_has_no_duplicate_keys(client, viewer_token):
    # Swagger UI parses the schema with a YAML parser, which refuses a key twice in a mapping
    # (a "200" next to ninja's 200 left /api/docs blank); Python's json keeps the last silently.
    duplicated = []

    def keep(pairs):
        keys = [key for key, _ in pairs]
        duplicated.extend(key for key in set(keys) if keys.count(key) > 1)
        return dict(pairs)

    response = client.get("/api/openapi.json", HTTP_AUTHORIZATION=f"Bearer {viewer_token}")
    json.loads(response.content, object_pairs_hook=keep)
    assert duplicated == []
