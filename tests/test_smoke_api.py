def test_checkout_then_checkin_through_http(client, school):
    r = client.post("/api/checkout", json={"patron": "HS001", "item": "TN-0001"})
    assert r.status_code == 200, r.json
    assert r.json["loan"] == {"item": "TN-0001", "title": "Dế Mèn phiêu lưu ký", "due": "2026-03-12"}
    r = client.post("/api/checkin", json={"item": "TN-0001"})
    assert r.json["checkin"]["outcome"] == "returned"
