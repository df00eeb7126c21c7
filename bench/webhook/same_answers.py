#!/usr/bin/env python3
"""same_answers.py C_URL GO_URL BODY... — post every AdmissionReview body to
both webhooks and check they answer the same: allowed, status code and
message, warnings, and the JSON Patch (decoded). The benchmark compares
servers that do the same work; this is where that is checked. Exit 1 on a
difference, printing it."""
import base64, http.client, json, ssl, sys, urllib.parse

def post(url, path, body):
    u = urllib.parse.urlparse(url)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    c.request("POST", path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        return {"http": r.status}
    resp = json.loads(data)["response"]
    out = {"http": 200, "uid": resp.get("uid"), "allowed": resp.get("allowed"),
           "warnings": resp.get("warnings") or [],
           "code": (resp.get("status") or {}).get("code"),
           "message": (resp.get("status") or {}).get("message")}
    if resp.get("patch"):
        out["patch"] = json.loads(base64.b64decode(resp["patch"]))
    return out

def main():
    c_url, go_url, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    bad = 0
    for f in files:
        raw = open(f, "rb").read()
        path = "/validate" if raw[:1] == b"\x01" else "/mutate"
        body = raw[1:]
        a, b = post(c_url, path, body), post(go_url, path, body)
        if a != b:
            bad += 1
            print("DIFFERENT %s %s\n  C:  %s\n  Go: %s" % (f, path, a, b))
    print("same answers: %d of %d bodies" % (len(files) - bad, len(files)))
    return 1 if bad else 0

sys.exit(main())
