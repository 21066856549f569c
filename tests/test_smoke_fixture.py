def test_site_fixture_serves_config(client, site):
    assert client.get(f"/api/v1/sites/{site.key}/config").status_code == 200
