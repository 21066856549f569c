import requests

def test_live_server_answers(live_server, live_site):
    r = requests.get(f"{live_server.url}/api/v1/sites/{live_site.key}/config", timeout=5)
    assert r.status_code == 200
