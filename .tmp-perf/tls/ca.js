// Loading and checking an existing CA (for rotation of the serving certificate), and PEM bundles.
import { X509Certificate, createPrivateKey } from 'node:crypto';
const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
/** The PEM certificate blocks of a file, each ending with a newline. */
export function splitPemCertificates(text) {
    return (text.replace(/\r\n/g, '\n').match(PEM_CERT) ?? []).map((b) => b.trim() + '\n');
}
/** A bundle of PEM certificates, first occurrence kept, in order. */
export function pemBundle(certs) {
    const seen = new Set();
    const out = [];
    for (const c of certs.flatMap(splitPemCertificates)) {
        const fp = new X509Certificate(c).fingerprint256;
        if (seen.has(fp))
            continue;
        seen.add(fp);
        out.push(c);
    }
    return out.join('');
}
export class CAError extends Error {
}
/**
 * An existing CA given as PEM text: the key must parse, one of the certificates in `certText` (a bundle is
 * fine: the signing one is the one matching the key) must belong to it, be a CA (basicConstraints CA:TRUE)
 * and be valid now. `names` are the file names for messages.
 */
export function loadCA(certText, keyText, names = { cert: 'CA certificate', key: 'CA key' }, now = Date.now()) {
    let key;
    try {
        key = createPrivateKey(keyText);
    }
    catch (e) {
        throw new CAError(`${names.key}: not a PEM private key (${e.message})`);
    }
    if (key.asymmetricKeyType !== 'rsa')
        throw new CAError(`${names.key}: an RSA key is needed (node-forge signs with RSA), got ${key.asymmetricKeyType}`);
    const blocks = splitPemCertificates(certText);
    if (blocks.length === 0)
        throw new CAError(`${names.cert}: no PEM certificate in it`);
    let match;
    for (const pem of blocks) {
        let x509;
        try {
            x509 = new X509Certificate(pem);
        }
        catch (e) {
            throw new CAError(`${names.cert}: a certificate in it does not parse (${e.message})`);
        }
        if (x509.checkPrivateKey(key)) {
            match = { pem, x509 };
            break;
        }
    }
    if (!match)
        throw new CAError(`${names.key} does not belong to ${blocks.length === 1 ? 'the certificate' : 'any certificate'} in ${names.cert}`);
    if (!match.x509.ca)
        throw new CAError(`${names.cert}: ${match.x509.subject.replace(/\n/g, ', ')} is not a CA certificate (basicConstraints CA:TRUE missing)`);
    if (Date.parse(match.x509.validTo) < now)
        throw new CAError(`${names.cert}: the CA expired on ${match.x509.validTo}`);
    if (Date.parse(match.x509.validFrom) > now)
        throw new CAError(`${names.cert}: the CA is not valid before ${match.x509.validFrom}`);
    // node-forge reads PKCS#1 and PKCS#8 RSA keys; hand it PKCS#1.
    const pkcs1 = key.export({ type: 'pkcs1', format: 'pem' }).toString();
    return { cert: match.pem, key: pkcs1 };
}
//# sourceMappingURL=ca.js.map