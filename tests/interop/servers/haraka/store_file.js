// A queue plugin for the interop tests' Haraka (tests/interop/test_haraka.py): writes each
// accepted message to STORE/<uuid>.eml as Haraka hands it on (its own headers first, then
// the message as received: dots unstuffed, CRLF line ends), so a test can compare bytes.
// STORE is [main] dir in config/store_file.ini. queue/discard would keep nothing to check.
'use strict'
const fs = require('node:fs')
const path = require('node:path')

exports.register = function () {
    this.dir = this.config.get('store_file.ini').main.dir
    // an authenticated client is relaying: Haraka hands its mail to queue_outbound (which
    // would try to deliver it), the others' to queue. Both are kept here, nothing leaves.
    this.register_hook('queue', 'store')
    this.register_hook('queue_outbound', 'store')
}

exports.store = function (next, connection) {
    const txn = connection.transaction
    const base = path.join(this.dir, txn.uuid)
    const ws = fs.createWriteStream(base + '.tmp')
    ws.once('close', () => {
        fs.renameSync(base + '.tmp', base + '.eml')
        next(OK, 'stored as ' + txn.uuid)
    })
    txn.message_stream.pipe(ws, { line_endings: '\r\n' })
}
