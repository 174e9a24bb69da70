// The interop tier runs real Prosody, ejabberd and jabberd2: say plainly what is missing instead of failing
// deep inside a test. Needs root (Prosody and ejabberd run as their own users via setpriv; ejabberd
// gets a private mount namespace) and Debian's packages, which .ci/run installs.

import { accessSync, constants } from "node:fs";

const NEEDED = ["/usr/bin/prosody", "/usr/sbin/ejabberdctl", "/usr/sbin/jabberd2-router", "/usr/sbin/jabberd2-s2s", "/usr/bin/sqlite3", "/usr/sbin/dnsmasq", "/usr/bin/openssl", "/usr/bin/setpriv", "/usr/bin/unshare"];

export default function setup(): void {
  if (process.getuid?.() !== 0) {
    throw new Error("interop tests need root (run `bash .ci/run`, or `sudo npm run test:interop` after installing the peers)");
  }
  const missing = NEEDED.filter((p) => {
    try {
      accessSync(p, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
  if (missing.length) {
    throw new Error(`interop tests need ${missing.join(", ")}: apt-get install -y prosody ejabberd jabberd2 sqlite3 dnsmasq-base lua-unbound openssl util-linux (see .ci/run)`);
  }
}
