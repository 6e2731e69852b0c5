// Watches a serving certificate and key on disk and hands a new, verified pair to the server.
//
// A mounted Kubernetes Secret changes by an atomic swap of the `..data` symlink (kubelet writes the new
// files into a fresh `..<timestamp>` directory, then renames a new `..data` link over the old one), so
// `tls.crt` and `tls.key` always resolve into one consistent directory — but a reader can still see the
// certificate from before a swap and the key from after it, and other tools (cp, an editor) write files
// in place. So: poll both files' contents, and switch only to a pair that parses and whose key matches
// the certificate. Anything else is reported with onError and retried at the next poll; the server
// keeps the pair it has. Polling (rather than fs.watch) works for symlink swaps, bind mounts and NFS alike.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto'
import { readFileSync } from 'node:fs'

export interface CertificatePair {
  cert: string
  key: string
}

export interface CertificateReloaderOptions {
  certFile: string
  keyFile: string
  /** How often the files are read; default 2000 ms. */
  intervalMs?: number
  /** Called with the new pair once it is verified; e.g. `server.setSecureContext(pair)`. */
  onChange: (pair: CertificatePair) => void
  /** Called when the files changed but cannot be used (yet); once per distinct problem. */
  onError?: (err: Error) => void
}

export const DEFAULT_RELOAD_INTERVAL_MS = 2000

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code
    throw new Error(`TLS ${what} ${file}: cannot read: ${code ?? (e as Error).message}`)
  }
}

/**
 * Parses and checks a pair: the certificate (first PEM block; a chain may follow) and the key must parse,
 * and the key must be the certificate's private key. Returns the parsed certificate.
 */
export function verifyPair(pair: CertificatePair, files: { certFile: string; keyFile: string }, now = Date.now()): X509Certificate {
  let cert: X509Certificate
  try {
    if (!pair.cert.includes('-----BEGIN CERTIFICATE-----')) throw new Error('no PEM CERTIFICATE block')
    cert = new X509Certificate(pair.cert)
  } catch (e) {
    throw new Error(`TLS certificate ${files.certFile}: not a valid PEM certificate: ${(e as Error).message}`)
  }
  let key: KeyObject
  try {
    key = createPrivateKey(pair.key)
  } catch (e) {
    // OpenSSL's answer for a passphrase-protected key is "interrupted or cancelled" (no passphrase was given).
    if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(pair.key)) {
      throw new Error(`TLS key ${files.keyFile}: the key is encrypted (passphrase-protected); give it unencrypted, as cert-manager and \`npm run certs\` write it`)
    }
    throw new Error(`TLS key ${files.keyFile}: not a valid PEM private key: ${(e as Error).message}`)
  }
  // While the files are being replaced the two may briefly not match: the reloader keeps its pair and reads again
  // at the next poll; at startup this is an error.
  if (!cert.checkPrivateKey(key)) throw new Error(`TLS key ${files.keyFile} does not match certificate ${files.certFile} (serial ${cert.serialNumber})`)
  const notAfter = Date.parse(cert.validTo)
  if (Number.isFinite(notAfter) && notAfter < now) {
    throw new Error(`TLS certificate ${files.certFile} (serial ${cert.serialNumber}) expired on ${cert.validTo}`)
  }
  return cert
}

export class CertificateReloader {
  private readonly certFile: string
  private readonly keyFile: string
  private readonly intervalMs: number
  private readonly onChange: (pair: CertificatePair) => void
  private readonly onError: (err: Error) => void
  private pair: CertificatePair
  private timer: NodeJS.Timeout | undefined
  /** The last problem reported, so a broken state is reported once, not at every poll. */
  private lastError: string | undefined
  /** The contents that were last tried and refused, so they are not re-verified at every poll. */
  private lastRefused: string | undefined

  /** Reads and verifies the files now; throws an Error naming the file when they are unreadable or invalid. */
  constructor(opts: CertificateReloaderOptions) {
    if (!opts.certFile || !opts.keyFile) throw new Error('CertificateReloader: certFile and keyFile are required')
    this.certFile = opts.certFile
    this.keyFile = opts.keyFile
    this.intervalMs = opts.intervalMs ?? DEFAULT_RELOAD_INTERVAL_MS
    if (!(this.intervalMs > 0)) throw new Error(`CertificateReloader: intervalMs must be > 0, not ${this.intervalMs}`)
    this.onChange = opts.onChange
    this.onError = opts.onError ?? (() => {})
    const pair = this.read()
    verifyPair(pair, { certFile: this.certFile, keyFile: this.keyFile })
    this.pair = pair
  }

  /** The pair in use. */
  current(): CertificatePair {
    return { ...this.pair }
  }

  /** Starts polling (idempotent). The timer does not keep the process alive. */
  start(): void {
    if (this.timer) return
    this.timer = setInterval(() => this.check(), this.intervalMs)
    this.timer.unref()
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
  }

  /**
   * Reads the files once and switches when they hold a new valid pair. Returns true when it switched.
   * Called by the timer; public so a caller (or a test) can force a check, e.g. on SIGHUP.
   */
  check(): boolean {
    let pair: CertificatePair
    try {
      pair = this.read()
    } catch (e) {
      this.report(e as Error)
      return false
    }
    if (pair.cert === this.pair.cert && pair.key === this.pair.key) {
      this.lastError = undefined
      this.lastRefused = undefined
      return false
    }
    const signature = pair.cert + '\0' + pair.key
    if (signature === this.lastRefused) return false
    try {
      verifyPair(pair, { certFile: this.certFile, keyFile: this.keyFile })
    } catch (e) {
      this.lastRefused = signature
      this.report(e as Error)
      return false
    }
    try {
      this.onChange({ ...pair })
    } catch (e) {
      this.lastRefused = signature
      this.report(new Error(`TLS pair from ${this.certFile} was refused by the server: ${(e as Error).message}`))
      return false
    }
    this.pair = pair
    this.lastError = undefined
    this.lastRefused = undefined
    return true
  }

  private read(): CertificatePair {
    // Read the certificate again after the key: if it changed in between, a swap was in progress and
    // the pair would be torn; report it like a mismatch and retry at the next poll.
    const cert = readPem(this.certFile, 'certificate')
    const key = readPem(this.keyFile, 'key')
    const again = readPem(this.certFile, 'certificate')
    if (again !== cert) throw new Error(`TLS certificate ${this.certFile} changed while it was read; retrying`)
    return { cert, key }
  }

  private report(err: Error): void {
    if (err.message === this.lastError) return
    this.lastError = err.message
    try {
      this.onError(err)
    } catch {
      // a failing logger must not stop reloading
    }
  }
}
