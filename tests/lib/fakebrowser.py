#!/usr/bin/python3
"""A browser for the OAuth2 tests ($BROWSER): plays the user's consent. It GETs the sign-in URL
it is given from the mock provider (trusting FAKEBROWSER_CA), and follows the provider's
redirect to smtpsh's loopback listener, as a browser would; the page smtpsh answers is
written to FAKEBROWSER_LOG. FAKEBROWSER_TAMPER=state changes the state in the redirect (a
forged redirect); FAKEBROWSER_FIRST=favicon asks for /favicon.ico first.
"""

import http.client
import os
import ssl
import sys
import urllib.parse
import urllib.request


def main():
    url = sys.argv[1]
    log = os.environ["FAKEBROWSER_LOG"]
    u = urllib.parse.urlsplit(url)
    ctx = ssl.create_default_context(cafile=os.environ["FAKEBROWSER_CA"])
    conn = http.client.HTTPSConnection(u.hostname, u.port, context=ctx, timeout=10)
    conn.request("GET", u.path + "?" + u.query)
    resp = conn.getresponse()
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
