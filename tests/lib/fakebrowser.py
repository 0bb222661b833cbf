#!/usr/bin/python3
"""A browser for the OAuth2 tests ($BROWSER): plays the user's consent. It GETs the sign-in URL
it is given from the mock provider (trusting FAKEBROWSER_CA, else
the CA of the smtpsh --practice folder under $TMPDIR), and follows the provider's
redirect to smtpsh's loopback listener, as a browser would; the page smtpsh answers is
written to FAKEBROWSER_LOG. FAKEBROWSER_TAMPER=state changes the state in the redirect (a
forged redirect); FAKEBROWSER_FIRST=favicon asks for /favicon.ico first. A consent page (the practice sign-in
server's) is answered with its Accept button, or FAKEBROWSER_CONSENT=no (Cancel).
"""

import glob
import http.client
import os
import re
import ssl
import sys
import urllib.parse
import urllib.request


def main():
    url = sys.argv[1]
    log = os.environ["FAKEBROWSER_LOG"]
    u = urllib.parse.urlsplit(url)
    ca = os.environ.get("FAKEBROWSER_CA")
    if not ca:  # smtpsh --practice's CA, in the one practice folder under the test's TMPDIR
        ca = glob.glob(os.path.join(os.environ["TMPDIR"], "smtpsh-practice.*", "ca.pem"))[0]
    ctx = ssl.create_default_context(cafile=ca)
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    conn.request("GET", u.path + "?" + u.query)
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace")
    m = re.search(r'name="request" value="([^"]+)"', body)
    if resp.status == 200 and m:
        # the practice sign-in server's consent page: press Accept (or Cancel)
        consent = os.environ.get("FAKEBROWSER_CONSENT", "yes")
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
        form = urllib.parse.urlencode({"request": m.group(1), "consent": consent})
        conn.request("POST", "/authorize", form,
                     {"Content-Type": "application/x-www-form-urlencoded"})
        resp = conn.getresponse()
        resp.read()
    location = resp.getheader("Location")
    if resp.status != 302 or not location:
        with open(log, "w") as f:
            f.write("provider answered %d\n" % resp.status)
        return
    if os.environ.get("FAKEBROWSER_TAMPER") == "state":
        location = location.replace("state=", "state=forged")
    r = urllib.parse.urlsplit(location)
    if os.environ.get("FAKEBROWSER_FIRST") == "favicon":
        c = http.client.HTTPConnection(r.hostname, r.port, timeout=10)
        c.request("GET", "/favicon.ico")
        c.getresponse().read()
        c.close()
    c = http.client.HTTPConnection(r.hostname, r.port, timeout=10)
    c.request("GET", r.path + "?" + r.query)
    page = c.getresponse()
    with open(log, "w") as f:
        f.write("%d\n%s" % (page.status, page.read().decode(errors="replace")))


main()
