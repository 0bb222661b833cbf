// A small implicit-TLS SMTP server that staples an OCSP response (RFC 6066 8), for
// tests/integration/test_ocsp.py. Node's tls module asks for the staple through the
// 'OCSPRequest' event, which fires only when the client sent status_request (--ocsp).
//
// Usage: node ocsp_server.js KEY CERT_CHAIN RESPONSE|- LOG
//   RESPONSE: a DER OCSP response to staple ("-": staple nothing).
//   LOG: a file that gets one line per connection: "status_request" when the client asked.
// Listens on 127.0.0.1, an ephemeral port, printed as "PORT n" on stdout.
// For the resumption tests (tests/integration/test_tls_view.py) two variables change it:
//   SMTP_TLS_MAX=TLSv1.2   the highest version it speaks;
//   SMTP_NO_TICKETS=1      no session tickets and no session cache: it cannot resume.
'use strict';
const crypto = require('crypto');
const fs = require('fs');
const tls = require('tls');

const [key, cert, respPath, logPath] = process.argv.slice(2);
const staple = respPath === '-' ? null : fs.readFileSync(respPath);

const options = {key: fs.readFileSync(key), cert: fs.readFileSync(cert)};
if (process.env.SMTP_TLS_MAX) options.maxVersion = process.env.SMTP_TLS_MAX;
if (process.env.SMTP_NO_TICKETS) options.secureOptions = crypto.constants.SSL_OP_NO_TICKET;
const server = tls.createServer(options);

server.on('OCSPRequest', (certificate, issuer, callback) => {
  fs.appendFileSync(logPath, 'status_request\n');
  callback(null, staple);
});

server.on('secureConnection', (sock) => {
  fs.appendFileSync(logPath, 'connection\n');
  sock.write('220 ocsp.test ESMTP node\r\n');
  let buf = '';
  sock.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const verb = line.split(' ')[0].toUpperCase();
      if (verb === 'EHLO') sock.write('250-ocsp.test\r\n250 8BITMIME\r\n');
      else if (verb === 'QUIT') { sock.end('221 2.0.0 Bye\r\n'); return; }
      else sock.write('250 2.0.0 Ok\r\n');
    }
  });
  sock.on('error', () => {});
});
server.on('tlsClientError', () => {});

server.listen(0, '127.0.0.1', () => {
  process.stdout.write('PORT ' + server.address().port + '\n');
});
