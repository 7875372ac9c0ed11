import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import type { FetchFunction } from '../client/index.js';
import { UsageError } from './cli-error.js';
import { markSecured, requestOver } from './http-fetch.js';

/**
 * How the CLI trusts an HTTPS berth server whose certificate no public CA signed (docs/security.md):
 * a CA file (`--tls-ca FILE` / BERTH_TLS_CA: the server's self-signed `cert.pem`, or the CA that signed
 * `--tls-cert`), or the SHA-256 fingerprint `berth server` printed (BERTH_TLS_FINGERPRINT), pinned:
 * the connection is used only when the certificate it presents has that fingerprint.
 */
export interface TlsTrust {
  readonly caFile?: string;
  readonly fingerprint?: string;
}

/** `AB:CD:…`, `abcd…` or `sha256:ab:cd…` → `ABCD…` (64 hex digits). @throws UsageError otherwise. */
export function normalizeFingerprint(value: string): string {
  const hex = value.trim().replace(/^sha-?256:/i, '').replace(/:/g, '').toUpperCase();
  if (!/^[0-9A-F]{64}$/.test(hex)) throw new UsageError(`BERTH_TLS_FINGERPRINT "${value}": expected a SHA-256 fingerprint (64 hex digits, colons allowed), as berth server prints it`);
  return hex;
}

/**
 * A fetch for the typed client that speaks HTTPS with `trust` (node:https underneath, since Node 20's
 * global fetch takes no CA or pin). Answers stream: NDJSON routes work as with fetch. Plain http URLs go
 * to the global fetch. `options.pinnedBy` names where the pin came from in the mismatch error (default
 * BERTH_TLS_FINGERPRINT; the servers' telemetry reads name the node's reported fingerprint).
 * @throws UsageError when the CA file cannot be read or the fingerprint is malformed.
 */
export function tlsFetch(trust: TlsTrust, options: { readonly pinnedBy?: string; readonly connectTimeoutMs?: number } = {}): FetchFunction {
  const agent = tlsAgent(trust, options.pinnedBy);
  return (input, init) => {
    if (!input.startsWith('https:')) return fetch(input, init);
    return requestOver(agent, input, init, options.connectTimeoutMs);
  };
}

/** The https agent that trusts as `trust` says (a pinned fingerprint, or a CA file). @throws UsageError as tlsFetch */
export function tlsAgent(trust: TlsTrust, pinnedBy = 'the one BERTH_TLS_FINGERPRINT names'): https.Agent {
  return trust.fingerprint !== undefined ? new PinnedAgent(normalizeFingerprint(trust.fingerprint), pinnedBy) : new https.Agent({ keepAlive: true, ca: readCa(trust.caFile ?? '') });
}

function readCa(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new UsageError(`cannot read the CA file "${file}" (--tls-ca / BERTH_TLS_CA): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** How long the pinned agent waits for a TLS handshake before it drops the connection. */
const PINNED_HANDSHAKE_TIMEOUT_MS = 30_000;

/**
 * An agent whose connections are handed to HTTP only after the server's certificate matched the pin,
 * so not a byte of a request (a token) is sent to another server. No session resumption: a resumed
 * session may show no certificate to check.
 */
class PinnedAgent extends https.Agent {
  constructor(
    private readonly pin: string,
    private readonly pinnedBy: string,
  ) {
    super({ keepAlive: true, maxCachedSessions: 0 });
  }

  override createConnection(options: https.RequestOptions, callback?: (error: Error | null, socket: Duplex) => void): Duplex | undefined {
    const socket = tls.connect({ ...(options as tls.ConnectionOptions), rejectUnauthorized: false });
    let settled = false;
    const settle = (error: Error | null): void => {
      if (settled) return;
      settled = true;
      socket.off('error', settle);
      if (error) socket.destroy();
      callback?.(error, socket);
    };
    socket.once('error', settle);
    // A peer that accepts and never completes the handshake (a frozen process): its request was given
    // up by its caller's timeout already (http-fetch.ts), and the socket is not kept open for ever.
    socket.setTimeout(PINNED_HANDSHAKE_TIMEOUT_MS, () => settle(Object.assign(new Error(`no TLS handshake within ${PINNED_HANDSHAKE_TIMEOUT_MS / 1000} s`), { code: 'CONNECT_TIMEOUT' })));
    socket.once('secureConnect', () => {
      socket.setTimeout(0);
      const presented = socket.getPeerCertificate().fingerprint256 ?? '';
      if (presented.replace(/:/g, '').toUpperCase() === this.pin) {
        markSecured(socket);
        settle(null);
      }
      else settle(Object.assign(new Error(`the server's certificate has SHA-256 fingerprint ${presented || '(none)'}, not ${this.pinnedBy}`), { code: 'TLS_FINGERPRINT_MISMATCH' }));
    });
    return undefined;
  }
}
