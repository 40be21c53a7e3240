// serve.js — what every corpus app shares: listen on 127.0.0.1 port 0; write "PORT PID" to the
// file named on its command line (to FILE.tmp, then renamed); on SIGTERM close the server and
// its idle keep-alive connections, and exit once closed.
'use strict';
const fs = require('fs');

module.exports = function serve(server, portFile) {
  server.listen(0, '127.0.0.1', () => {
    fs.writeFileSync(`${portFile}.tmp`, `${server.address().port} ${process.pid}\n`);
    fs.renameSync(`${portFile}.tmp`, portFile);
  });
  process.on('SIGTERM', () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  });
};
