// nodemailer's SMTP client, for tests/interop/test_clients.py: one message (a raw file,
// sent as it is) over verified STARTTLS with AUTH. One JSON argument:
// {port, ca, user, password, from, to, raw}. Exit status 0 and "sent <response>" when the
// server accepted it.
'use strict'
const fs = require('node:fs')
const nodemailer = require('nodemailer')

const cfg = JSON.parse(process.argv[2])
const transport = nodemailer.createTransport({
    host: 'localhost',
    port: cfg.port,
    secure: false,
    requireTLS: true, // STARTTLS or nothing
    tls: { ca: [fs.readFileSync(cfg.ca)], rejectUnauthorized: true },
    auth: { user: cfg.user, pass: cfg.password },
    name: 'client.test',
})
transport
    .sendMail({ envelope: { from: cfg.from, to: [cfg.to] }, raw: fs.readFileSync(cfg.raw) })
    .then((info) => {
        console.log('sent ' + info.response)
    })
    .catch((err) => {
        console.error('nodemailer: ' + err.message)
        process.exit(1)
    })
