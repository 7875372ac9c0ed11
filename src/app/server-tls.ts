import { execFileSync } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { accessSync, chmodSync, constants, existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname, networkInterfaces } from 'node:os';
import { delimiter, join } from 'node:path';
import { CodedError, isLoopbackHost } from '../lib/index.js';

/** The certificate the API serves, and how clients can trust it. */
export interface ServerTls {
  readonly key: Buffer;
  readonly cert: Buffer;
  /** Where the certificate is (a client's `--tls-ca FILE`). */
  readonly certFile: string;
  /** SHA-256 of the certificate, `AB:CD:…` (a client's BERTH_TLS_FINGERPRINT). */
  readonly fingerprint: string;
  /** True when berth made it (self-signed, in `<data>/tls/`). */
  readonly selfSigned: boolean;
}

export interface ServerTlsOptions {
  /** The API's listen host (`--listen`'s HOST). */
  readonly host: string;
  readonly dataDir: string;
  /** `--tls-cert` and `--tls-key` (PEM); both or neither. */
  readonly certFile?: string | undefined;
  readonly keyFile?: string | undefined;
  /** The openssl binary; default: `openssl` found on PATH (null: none, as on a machine without it). */
  readonly openssl?: string | null;
  /** The host's addresses a wildcard listener answers on. Default: every interface's. */
  readonly addresses?: () => readonly string[];
}

/**
 * The TLS identity of the API (docs/security.md): `--tls-cert`/`--tls-key` when given (on any host);
 * else none on a loopback host (plain http); else a self-signed pair in `<data>/tls/` (key 0600), made
 * with the openssl binary on first use and kept across restarts, so that its fingerprint stays the
 * same (a new pair only when the kept one does not name the host, or expires within a day).
 * @throws CodedError `TLS_CONFIG_INVALID` (one of cert/key without the other; unreadable, not PEM, or
 *   a key that does not match the certificate); `TLS_UNAVAILABLE` when a certificate must be made and
 *   no openssl is found.
 */
export function serverTls(options: ServerTlsOptions): ServerTls | undefined {
  const { certFile, keyFile } = options;
  if ((certFile === undefined) !== (keyFile === undefined)) {
    throw new CodedError('TLS_CONFIG_INVALID', '--tls-cert and --tls-key go together: give both, or neither', {});
  }
  if (certFile !== undefined && keyFile !== undefined) return loadPair(certFile, keyFile, false);
  if (isLoopbackHost(options.host)) return undefined;
  return selfSignedTls({ dir: join(options.dataDir, 'tls'), host: options.host, ...(options.openssl === undefined ? {} : { openssl: options.openssl }), ...(options.addresses ? { addresses: options.addresses } : {}) });
}

/**
 * A self-signed P-256 pair in `dir` (`key.pem` 0600, `cert.pem` 0644; `dir` 0700), naming `host` (for a
 * wildcard host: every interface address, the host name and localhost): the kept one when it names
 * the host and is valid for more than a day, else a new one made with the openssl binary. The API's
 * default off loopback (serverTls), and the agent's telemetry listener (its servers pin the fingerprint).
 * @throws CodedError `TLS_UNAVAILABLE` when a pair must be made and no openssl is found (or it fails);
 *   `TLS_CONFIG_INVALID` when the kept pair cannot be read
 */
export function selfSignedTls(options: { readonly dir: string; readonly host: string; readonly openssl?: string | null; readonly addresses?: () => readonly string[] }): ServerTls {
  const { dir } = options;
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const host = options.host.replace(/^\[|\]$/g, '');
  const wildcard = host === '0.0.0.0' || host === '::';
  if (existsSync(cert) && existsSync(key)) {
    const kept = loadPair(cert, key, true);
    const x509 = new X509Certificate(kept.cert);
    const names = wildcard || (isIP(host) ? x509.checkIP(host) !== undefined : x509.checkHost(host) !== undefined);
    if (names && Date.parse(x509.validTo) > Date.now() + 86_400_000) return kept;
  }
  const openssl = options.openssl === undefined ? findOnPath('openssl') : options.openssl;
  if (!openssl) {
    throw new CodedError(
      'TLS_UNAVAILABLE',
      `listening on ${options.host} (not a loopback address) needs TLS: give --tls-cert FILE and --tls-key FILE, or install openssl so that berth can make a self-signed certificate`,
      { host: options.host },
    );
  }
  const addresses = wildcard ? [...(options.addresses ?? interfaceAddresses)(), hostname(), 'localhost'] : [host];
  generateSelfSigned(openssl, dir, subjectAltNames(addresses));
  return loadPair(cert, key, true);
}

function loadPair(certFile: string, keyFile: string, selfSigned: boolean): ServerTls {
  let cert: Buffer;
  let key: Buffer;
  let x509: X509Certificate;
  try {
    cert = readFileSync(certFile);
    key = readFileSync(keyFile);
    x509 = new X509Certificate(cert);
    if (!x509.checkPrivateKey(createPrivateKey(key))) throw new Error('the key does not match the certificate');
  } catch (e) {
    throw new CodedError('TLS_CONFIG_INVALID', `TLS certificate ${certFile} with key ${keyFile}: ${(e as Error).message}`, { certFile, keyFile });
  }
  return { key, cert, certFile, fingerprint: x509.fingerprint256, selfSigned };
}

/** `IP:a,IP:b,DNS:name` for openssl's subjectAltName; IPv6 zone ids and duplicates left out. */
export function subjectAltNames(hosts: readonly string[]): string {
  const seen = new Set<string>();
  for (const h of hosts) {
    const plain = h.split('%')[0] ?? h;
    if (plain === '') continue;
    seen.add(isIP(plain) ? `IP:${plain}` : `DNS:${plain}`);
  }
  return [...seen].join(',');
}

/** A P-256 key and a self-signed certificate for 10 years, written beside and then renamed into place. */
function generateSelfSigned(openssl: string, dir: string, altNames: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const tmpKey = join(dir, 'key.pem.tmp');
  const tmpCert = join(dir, 'cert.pem.tmp');
  try {
    execFileSync(
      openssl,
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', tmpKey, '-out', tmpCert, '-days', '3650', '-subj', '/CN=berth', '-addext', `subjectAltName=${altNames}`],
      { stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000 },
    );
    chmodSync(tmpKey, 0o600);
    chmodSync(tmpCert, 0o644);
    renameSync(tmpKey, join(dir, 'key.pem'));
    renameSync(tmpCert, join(dir, 'cert.pem'));
  } catch (e) {
    rmSync(tmpKey, { force: true });
    rmSync(tmpCert, { force: true });
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    throw new CodedError('TLS_UNAVAILABLE', `could not make a self-signed certificate with ${openssl}: ${stderr || (e as Error).message}`, {});
  }
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((a) => a !== undefined)
    .map((a) => a.address);
}

function findOnPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}
