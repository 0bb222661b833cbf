// nodemailer's smtp-server on a loopback port, for tests/interop/test_smtp_server.py.
// One JSON argument: {port, key, cert, user, password, token, size, hide8bit, store}.
// Every accepted message is written as received (dots unstuffed, CRLF as sent) to
// STORE/<n>.eml; the envelope goes beside it in STORE/<n>.json. Prints "ready PORT" once
// listening.
'use strict'
const fs = require('node:fs')
const path = require('node:path')
const { SMTPServer } = require('smtp-server')

const cfg = JSON.parse(process.argv[2])
let count = 0

const server = new SMTPServer({
    secure: false,
    key: fs.readFileSync(cfg.key),
    cert: fs.readFileSync(cfg.cert),
    name: 'nodemailer.example.test',
    authMethods: ['PLAIN', 'LOGIN', 'CRAM-MD5', 'XOAUTH2'],
    allowInsecureAuth: false, // AUTH only under TLS (RFC 8314 section 3.3)
    size: cfg.size,
    hide8BITMIME: !!cfg.hide8bit,
    hideSMTPUTF8: !!cfg.hide8bit,
    logger: false,
    onAuth(auth, session, callback) {
        if (auth.method === 'XOAUTH2') {
            if (auth.username === cfg.user && auth.accessToken === cfg.token) {
                return callback(null, { user: auth.username })
            }
            return callback(null, { data: { status: '401', schemes: 'bearer', scope: 'mail' } })
        }
        if (auth.method === 'CRAM-MD5') {
            if (auth.username === cfg.user && auth.validatePassword(cfg.password)) {
                return callback(null, { user: auth.username })
            }
        } else if (auth.username === cfg.user && auth.password === cfg.password) {
            return callback(null, { user: auth.username })
        }
        return callback(new Error('Invalid username or password'))
    },
    onData(stream, session, callback) {
        const n = ++count
        const base = path.join(cfg.store, `${process.pid}-${n}`)
        const out = fs.createWriteStream(base + '.tmp')
        stream.pipe(out)
        out.on('finish', () => {
            if (stream.sizeExceeded) {
                fs.unlinkSync(base + '.tmp')
                const err = new Error('Message exceeds fixed maximum message size')
                err.responseCode = 552
                return callback(err)
            }
            fs.writeFileSync(base + '.json', JSON.stringify(session.envelope))
            fs.renameSync(base + '.tmp', base + '.eml')
            callback(null, 'Message stored as ' + n)
        })
    },
})
server.on('error', (err) => {
    console.error('smtp-server error: ' + err.message)
})
server.listen(cfg.port, '127.0.0.1', () => {
    console.log('ready ' + server.server.address().port)
})
