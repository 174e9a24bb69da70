// Our own jabberd2 2.7 instance on loopback (Debian's `jabberd2`): its four processes (router, sm,
// c2s, s2s) run by hand from generated configs under `dir`, sqlite storage made with the package's
// own schema, never the system service; each stopped by PID (its process group).
//
// Name resolution: jabberd2's s2s resolves SRV and A records itself from /etc/resolv.conf, so s2s
// runs in a private mount namespace (unshare -m) with the run's resolv.conf bind-mounted over it, as
// ejabberd does. With `cert`, s2s offers and uses STARTTLS (and presents that certificate); without
// one its streams carry no to/from/version (a pre-XMPP-1.0 header).

import { chownSync, copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { join } from "node:path";
import { run, startProcess, waitForPort } from "./proc.mjs";

const LIB = "/usr/lib/x86_64-linux-gnu/jabberd2";
const SCHEMA = "/usr/share/doc/jabberd2/db-setup.sqlite.gz";
const ROUTER_PORT = 5347;

const x = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const sql = (s) => `'${String(s).replace(/'/g, "''")}'`;

function chownTree(path, uid, gid) {
  chownSync(path, uid, gid);
  if (statSync(path).isDirectory()) for (const f of readdirSync(path)) chownTree(join(path, f), uid, gid);
}

/** The router connection block every component shares. */
const routerBlock = (ip, secret) =>
  `<router><ip>${ip}</ip><port>${ROUTER_PORT}</port><user>jabberd</user><pass>${x(secret)}</pass>` +
  `<retry><init>10</init><lost>0</lost><sleep>1</sleep></retry></router>`;

const logBlock = (dir, id) => `<log type='file'><ident>jabberd/${id}</ident><file>${x(join(dir, `${id}.log`))}</file></log>`;

const SM_CHAINS = {
  "sess-start": ["status"],
  "sess-end": ["status", "iq-last"],
  "in-sess": ["validate", "status", "privacy", "roster", "iq-ping", "disco", "offline", "presence", "deliver"],
  "out-sess": [],
  "in-router": ["session", "validate", "presence", "privacy"],
  "out-router": ["privacy"],
  "pkt-sm": ["iq-last", "iq-ping", "iq-time", "iq-version", "disco", "status", "presence"],
  "pkt-user": ["roster", "presence", "disco", "deliver", "offline", "iq-last"],
  "pkt-router": ["session", "disco"],
  "user-load": ["active", "roster", "privacy"],
  "user-unload": [],
  "user-create": ["active"],
  "user-delete": ["active", "offline", "privacy", "roster", "status", "iq-last"],
  "disco-extend": ["iq-version"],
};

/**
 * opts: { dir, ip, domain, users: {localpart: password}, cert?: {cert, key, ca} (STARTTLS on s2s),
 *         secret?: dialback secret, resolvConf }
 * Returns { procs, stop(), logs: {s2s, ...}, dir }.
 */
export async function startJabberd2(opts) {
  const { dir, ip, domain, resolvConf } = opts;
  mkdirSync(dir, { recursive: true });
  const db = join(dir, "sqlite.db");
  const schema = gunzipSync(readFileSync(SCHEMA)).toString("utf8");
  const inserts = Object.entries(opts.users ?? {}).map(([u, p]) =>
    `INSERT INTO authreg (username, realm, password) VALUES (${sql(u)}, ${sql(domain)}, ${sql(p)});`);
  await run("sqlite3", [db], { input: schema + "\n" + inserts.join("\n") + "\n" });
  const routerSecret = "router-" + Math.random().toString(36).slice(2);
  writeFileSync(join(dir, "router-users.xml"), `<users><user><name>jabberd</name><secret>${x(routerSecret)}</secret></user></users>\n`);
  writeFileSync(join(dir, "router-filter.xml"), `<filter></filter>\n`);
  let pem = "";
  if (opts.cert) {
    // jabberd2 reads certificate and key from one file (SSL_CTX_use_certificate_chain_file + key).
    pem = join(dir, "server.pem");
    writeFileSync(pem, readFileSync(opts.cert.cert, "utf8") + readFileSync(opts.cert.key, "utf8"));
    copyFileSync(opts.cert.ca, join(dir, "ca.pem"));
  }
  const files = {
    router: `<router><id>router</id><pidfile>${x(join(dir, "router.pid"))}</pidfile>${logBlock(dir, "router")}
<local><ip>${ip}</ip><port>${ROUTER_PORT}</port><users>${x(join(dir, "router-users.xml"))}</users></local>
<check><interval>60</interval><keepalive>0</keepalive></check>
<io><max_fds>1024</max_fds><limits><bytes>0</bytes><connects>0</connects></limits><access><order>allow,deny</order></access></io>
<aliases/><aci><acl type='all'><user>jabberd</user></acl><filter>${x(join(dir, "router-filter.xml"))}</filter></aci></router>`,
    sm: `<sm><id>sm</id><pidfile>${x(join(dir, "sm.pid"))}</pidfile>${routerBlock(ip, routerSecret)}${logBlock(dir, "sm")}
<local><id>${x(domain)}</id></local>
<storage><path>${LIB}</path><driver>sqlite</driver><sqlite><dbname>${x(db)}</dbname><busy-timeout>2000</busy-timeout></sqlite></storage>
<modules><path>${LIB}</path>${Object.entries(SM_CHAINS).map(([id, ms]) => `<chain id='${id}'>${ms.map((m) => `<module>${m}</module>`).join("")}</chain>`).join("\n")}</modules>
<discovery><identity><category>server</category><type>im</type><name>jabberd2 interop</name></identity></discovery>
<user><auto-create/><template/></user></sm>`,
    c2s: `<c2s><id>c2s</id><pidfile>${x(join(dir, "c2s.pid"))}</pidfile>${routerBlock(ip, routerSecret)}${logBlock(dir, "c2s")}
<local><id>${x(domain)}</id><ip>${ip}</ip><port>5222</port></local>
<io><max_fds>1024</max_fds><limits><bytes>0</bytes><stanzas>0</stanzas><connects>0</connects><stanzasize>65535</stanzasize></limits>
<access><order>allow,deny</order></access><check><interval>0</interval><idle>0</idle><keepalive>0</keepalive></check></io>
<authreg><path>${LIB}</path><module>sqlite</module>
<mechanisms><traditional><plain/></traditional><sasl><plain/></sasl></mechanisms>
<sqlite><dbname>${x(db)}</dbname><busy-timeout>2000</busy-timeout><password_type><plaintext/></password_type></sqlite></authreg></c2s>`,
    s2s: `<s2s><id>s2s</id><pidfile>${x(join(dir, "s2s.pid"))}</pidfile>${routerBlock(ip, routerSecret)}${logBlock(dir, "s2s")}
<local><ip>${ip}</ip><port>5269</port>${opts.secret ? `<secret>${x(opts.secret)}</secret>` : ""}${pem ? `<pemfile>${x(pem)}</pemfile><cachain>${x(join(dir, "ca.pem"))}</cachain>` : ""}</local>
<io><max_fds>1024</max_fds><limits><stanzasize>65535</stanzasize></limits></io>
<check><interval>5</interval><queue>60</queue><retry>300</retry><idle>86400</idle><keepalive>0</keepalive><dnscache>300</dnscache></check>
<lookup><srv>xmpp-server</srv><min-ttl>30</min-ttl><max-ttl>86400</max-ttl><etc-hosts-ttl>86400</etc-hosts-ttl><bad-host-timeout>0</bad-host-timeout></lookup>
<out-conn-reuse/><security/></s2s>`,
  };
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, `${name}.xml`), text + "\n");
  const { uid, gid } = { uid: Number(execFileSync("id", ["-u", "jabber"]).toString()), gid: Number(execFileSync("id", ["-g", "jabber"]).toString()) };
  chownTree(dir, uid, gid);

  const procs = [];
  const stop = async () => {
    for (const p of [...procs].reverse()) await p.stop().catch(() => {});
  };
  const asJabber = (bin, cfg) => ["setpriv", "--reuid=jabber", "--regid=jabber", "--init-groups", "--", bin, "-c", cfg];
  try {
    const router = startProcess(...split(asJabber("/usr/sbin/jabberd2-router", join(dir, "router.xml"))), { logFile: join(dir, "router.out") });
    procs.push(router);
    await waitForPort(ip, ROUTER_PORT, { proc: router, timeoutMs: 20_000 });
    const sm = startProcess(...split(asJabber("/usr/sbin/jabberd2-sm", join(dir, "sm.xml"))), { logFile: join(dir, "sm.out") });
    procs.push(sm);
    // s2s in a private mount namespace: its resolver reads /etc/resolv.conf.
    const script = `mount --bind "$1" /etc/resolv.conf && shift && exec "$@"`;
    const s2s = startProcess("unshare", ["-m", "--propagation", "private", "sh", "-c", script, "sh", resolvConf,
      ...asJabber("/usr/sbin/jabberd2-s2s", join(dir, "s2s.xml"))], { logFile: join(dir, "s2s.out") });
    procs.push(s2s);
    const c2s = startProcess(...split(asJabber("/usr/sbin/jabberd2-c2s", join(dir, "c2s.xml"))), { logFile: join(dir, "c2s.out") });
    procs.push(c2s);
    await waitForPort(ip, 5269, { proc: s2s, timeoutMs: 20_000 });
    await waitForPort(ip, 5222, { proc: c2s, timeoutMs: 20_000 });
  } catch (e) {
    await stop();
    throw e;
  }
  return { procs, stop, dir, logs: { s2s: join(dir, "s2s.log"), sm: join(dir, "sm.log"), c2s: join(dir, "c2s.log"), router: join(dir, "router.log") } };
}

const split = ([cmd, ...args]) => [cmd, args];
