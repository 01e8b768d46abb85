// node-echo.js: Node's net echo, as its documentation writes it, for
// bench/matrix: every connection piped into itself.
//
//	node node-echo.js port
//
// socket.pipe(socket) reads into buffers of Node's choosing and writes
// them back, pausing the read side while a write is pending past the
// stream's high-water mark.  setNoDelay: Node's default since 18, said
// here so that no version differs.
'use strict';

const net = require('net');

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port < 1 || port > 65535) {
	console.error('usage: node node-echo.js port');
	process.exit(1);
}
const server = net.createServer((socket) => {
	socket.setNoDelay(true);
	socket.on('error', () => socket.destroy());
	socket.pipe(socket);
});
server.listen({ host: '127.0.0.1', port: port, backlog: 4096 });
